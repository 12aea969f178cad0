"""`status` and `status-quick`: one row per instance of the observed state, and the database's row first.

status-quick reads processes only (PID records, /proc, postmaster.pid): `running`, `dead` or `stopped`. `status`
also probes every running instance as its service says (its health and ready paths, its port, its probe command;
an instance probed by "none" is `running`) and queries the database, all at once under one timeout, so N hung
instances cost one timeout, not N, and looks for processes that left an instance's session.
Both say where the running cluster differs from the topology: instances it no longer has (extra), and instances
running with another port or command than it now gives them (drift).

Each running instance's CPU and memory are those of its whole process group and session (`proc/usage.py`). A CPU
percentage needs an interval: `status` samples over its probes' wait, at least CPU_WINDOW seconds (less only when
its timeout is shorter); `status --watch` over each refresh interval; status-quick, which never waits, and the
table after a start give the average since the instance started, as `ps` does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from tasker_cluster.cluster.state import InstanceState, observe, with_escapees
from tasker_cluster.config.model import DATABASE_ROW_NAME, ClusterConfig, DatabaseSpec
from tasker_cluster.db.quick import database_process
from tasker_cluster.errors import ClusterError
from tasker_cluster.proc.processes import ProcessTable
from tasker_cluster.proc.records import Liveness
from tasker_cluster.proc.usage import Leader, Usage, cpu_percent, leader_of, sample_usage
from tasker_cluster.project import Project

if TYPE_CHECKING:
    from collections.abc import Callable

    from tasker_cluster.proc.probes import ProbeResult
    from tasker_cluster.proc.records import InstanceRecord

    # (health, ready) answers of an instance, as probed by `status` or by start-all's readiness wait.
    Answers = tuple[ProbeResult, ProbeResult]

DEFAULT_TIMEOUT = 2.0
# Seconds `status` samples CPU time over: with the kernel's 10 ms ticks, a percentage to within ~5 points.
CPU_WINDOW = 0.2
# The statuses that need no reason: all is as it should be.
_FINE = frozenset({"healthy", "running"})
_STOPPED_REASON = "no PID file: not started, or stopped"


class Resources(NamedTuple):
    """An instance's whole group: CPU % of one core over `cpu_window_s` seconds, resident memory in bytes."""

    cpu_percent: float
    cpu_window_s: float
    rss_bytes: int


def _resources_json(resources: Resources | None) -> dict[str, Any]:
    if resources is None:
        return {"cpu_percent": None, "cpu_window_s": None, "rss_bytes": None}
    return {
        "cpu_percent": round(resources.cpu_percent, 1),
        "cpu_window_s": round(resources.cpu_window_s, 2),
        "rss_bytes": resources.rss_bytes,
    }


class InstanceStatus(NamedTuple):
    """One row: `status` is healthy, unhealthy, starting (probed), running (status-quick, or `status` of an
    instance whose probe is "none"), paused (stopped by a signal: probed by neither), dead or stopped.

    `pid` is the leader's, or once it exited, the first process of its session that runs on (`serving` lists them).
    `drift` says how a running instance differs from what the topology now gives it; `extra` marks one the topology
    no longer has; `escaped` lists processes that left its session and still run (`status` only). `detail` says why
    a row is not healthy (the table's HEALTH column); `resources` are None without a process. `probe` is how it
    is probed (its record's kind); `answer` what its probe answered ("200", "tcp open", "exec exit 0"), None when
    it was not probed.
    """

    name: str
    service: str
    role: str
    status: str
    pid: int | None
    port: int | None
    url: str | None
    uptime_s: float | None
    http_status: int | None = None
    latency_ms: float | None = None
    detail: str = ""
    drift: str | None = None
    extra: bool = False
    serving: tuple[int, ...] = ()
    escaped: tuple[int, ...] = ()
    resources: Resources | None = None
    probe: str = "http"
    answer: str | None = None

    @property
    def fine(self) -> bool:
        """As `status` wants it: healthy, or running when nothing can say more (its probe is "none")."""
        return self.status == "healthy" or (self.status == "running" and self.probe == "none")

    @property
    def reason(self) -> str | None:
        """Why the instance is not healthy (or, for status-quick, not running); None when it is."""
        if self.status in _FINE:
            return None
        return self.detail or (_STOPPED_REASON if self.status == "stopped" else self.status)

    def as_json(self) -> dict[str, Any]:
        """Exactly the documented `--json` shape."""
        return {
            "name": self.name,
            "service": self.service,
            "role": self.role,
            "status": self.status,
            "reason": self.reason,
            "pid": self.pid,
            "port": self.port,
            "url": self.url,
            "probe": self.probe,
            "answer": self.answer,
            "uptime_s": None if self.uptime_s is None else round(self.uptime_s, 1),
            "http_status": self.http_status,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 1),
            **_resources_json(self.resources),
            "drift": self.drift,
            "extra": self.extra,
            "serving": list(self.serving),
            "escaped": list(self.escaped),
        }


class DatabaseRow(NamedTuple):
    """The database's own row, listed first: `kind` is "local" (this project's server) or "external" (DATABASE_URL).

    `status` is healthy/unhealthy (probed), running (status-quick), dead (postmaster.pid outlived its server),
    stopped, or unknown (an external server status-quick does not probe).
    """

    kind: str
    status: str
    pid: int | None
    port: int | None
    uptime_s: float | None
    latency_ms: float | None = None
    detail: str = ""
    name: str = DATABASE_ROW_NAME
    resources: Resources | None = None

    def as_json(self) -> dict[str, Any]:
        """The `"database"` object of `status --json` and `status-quick --json`."""
        return {
            "name": self.name,
            "kind": self.kind,
            "status": self.status,
            "reason": None if self.status in _FINE else self.detail or self.status,
            "pid": self.pid,
            "port": self.port,
            "uptime_s": None if self.uptime_s is None else round(self.uptime_s, 1),
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 1),
            "detail": self.detail,
            **_resources_json(self.resources),
        }


class StatusWarning(NamedTuple):
    """Something that limits what the rows can say, e.g. a configuration that could not be read, and its fix."""

    message: str
    fix: str = ""

    @classmethod
    def unreadable_config(cls, error: ClusterError) -> StatusWarning:
        return cls(f"showing what the PID records know: {error.message}", error.fix)

    @classmethod
    def corrupt_record(cls, state: InstanceState) -> StatusWarning:
        """For an instance found by its marks: its PID file held no valid record, or named another pid."""
        assert state.record is not None
        file = "holds no valid record"
        if state.named_pid is not None:
            file = f"names pid {state.named_pid}, which is not its process"
        return cls(
            f"{state.name}: its PID file {file}; pid {state.record.pid} is that instance, by the marks in its "
            "environment (this project's folder, its name, a start token)",
            f"`cluster start {state.name}` writes its record again and leaves it running; `cluster stop {state.name}` "
            "stops it",
        )

    def as_json(self) -> dict[str, str]:
        return {"message": self.message, "fix": self.fix}


class ClusterStatus(NamedTuple):
    """The rows, and what may qualify them: `warnings` (then the cluster is not called healthy, since what should
    run is not known) and `usage`, the CPU readings the next refresh of a watch measures from."""

    database: DatabaseRow | None
    instances: list[InstanceStatus]
    warnings: tuple[StatusWarning, ...] = ()
    usage: Mapping[str, Usage] | None = None

    @property
    def healthy(self) -> bool:
        """Every instance healthy, and the database too: instances whose database is down cannot do their work."""
        database_ok = self.database is None or self.database.status == "healthy"
        rows_ok = bool(self.instances) and all(row.fine for row in self.instances)
        return database_ok and rows_ok and not self.warnings

    @property
    def running(self) -> bool:
        """status-quick's verdict: every instance runs. An external server's state needs the network, which
        status-quick never uses: it does not decide."""
        database_ok = self.database is None or self.database.status in ("running", "unknown")
        rows_ok = bool(self.instances) and all(row.status == "running" for row in self.instances)
        return database_ok and rows_ok and not self.warnings


def quick_status(
    project: Project,
    config: ClusterConfig | None,
    *,
    database: DatabaseSpec | None = None,
    warnings: tuple[StatusWarning, ...] = (),
) -> ClusterStatus:
    """Process states from PID records and /proc alone; no network. Without a configuration (`warnings` say why)
    the rows are the PID records' and the database is that of the `database` table, if any."""
    # One table for liveness and usage: status-quick reads each process's stat line once.
    table = ProcessTable()
    states = observe(project, config, table=table).instances
    database_row = quick_database(project, config.database if config is not None else database)
    usage = sample_usage(_leaders(states, database_row), table)
    rows = [_with_process(s, _running(s), usage=usage) if s.alive else _without_process(s) for s in states]
    warnings += _record_warnings(states)
    return ClusterStatus(_with_database_resources(database_row, usage), _known(rows, config), warnings)


def _record_warnings(states: Sequence[InstanceState]) -> tuple[StatusWarning, ...]:
    """One warning per instance found by its marks because its PID file holds no valid record or named another
    pid."""
    return tuple(StatusWarning.corrupt_record(state) for state in states if state.recovered)


def quick_database(project: Project, database: DatabaseSpec | None) -> DatabaseRow | None:
    """The database row from postmaster.pid and /proc alone; None when the cluster uses no database (or, without
    its `[database]` table, when no local server runs)."""
    process = database_process(project, database)
    if process.kind == "none":
        return None
    if process.kind == "external":
        return DatabaseRow("external", "unknown", None, None, None, detail="external server: status-quick never probes")
    if process.running:
        return DatabaseRow("local", "running", process.pid, process.port, process.uptime_s)
    from tasker_cluster.db.postmaster import read_pid_file

    # The pid file of a kill -9ed server stays behind, like an instance's PID file.
    stale = read_pid_file(process.data_dir) if process.data_dir is not None else None
    if stale is not None:
        return DatabaseRow("local", "dead", stale.pid, stale.port, None, detail="postmaster.pid outlived its server")
    return DatabaseRow("local", "stopped", None, process.port, None)


class StatusProbe:
    """Sends every probe at construction: the instances' health and ready paths, and the database's query.

    `known` holds answers already had (start-all's readiness wait) for instances known to run: those are neither
    checked nor probed again. `result` waits at most `timeout` (seconds) from construction for the rest. Without
    `with_database` (a configuration that uses none) there is no database row. `database_url` is the URL start-all
    has just had from the database layer (password included), so that the password file is not read again.

    CPU is measured from `baseline` (the previous refresh's readings) when given; else over at least `cpu_window`
    seconds from construction (bounded by `timeout`), or, with `cpu_window` None, since each instance started.
    A `config` of None (the configuration could not be read: `warnings` say why) shows what the PID records know,
    with the database of the `database` table when that could be read.
    """

    def __init__(
        self,
        project: Project,
        config: ClusterConfig | None,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        known: Mapping[str, Answers] | None = None,
        with_database: bool = True,
        database_url: str | None = None,
        baseline: Mapping[str, Usage] | None = None,
        cpu_window: float | None = CPU_WINDOW,
        database: DatabaseSpec | None = None,
        warnings: tuple[StatusWarning, ...] = (),
    ) -> None:
        from tasker_cluster.proc.probes import ProbeBatch

        known = known or {}
        self._started = time.monotonic()
        self._timeout = timeout
        states = observe(project, config, alive=known.keys()).instances
        # A paused instance answers no probe: waiting for it would cost the whole timeout and say less.
        self._alive = [s.record for s in states if s.alive and not s.paused and s.name not in known]
        self._answers: dict[str, Answers] = dict(known)
        self._probes = [_probes_of(project, record) for record in self._alive if record is not None]
        self._batch = ProbeBatch([one for probes in self._probes for one in probes], timeout)
        spec = config.database if config is not None else database
        self._database = DatabaseProbe(project, spec, timeout, database_url) if with_database else None
        self._warnings = warnings
        self._config = config
        # Its own CPU window only without a baseline; read once the probes are in flight, so as not to delay them.
        self._window = cpu_window if baseline is None else None
        self._baseline = self._sample(states) if self._window is not None else baseline
        # Read while the probes are in flight (and the CPU window runs): it reads every process's environment.
        self._states = with_escapees(states)

    def result(self) -> ClusterStatus:
        answers = iter(self._batch.results())
        for record, probes in zip(self._alive, self._probes, strict=True):
            assert record is not None
            got = [next(answers) for _ in probes]
            if got:
                # (health, ready): a TCP or exec probe's one answer is both.
                self._answers[record.name] = (got[0], got[-1])
        if self._window is not None and self._baseline:
            first = min(reading.at for reading in self._baseline.values())
            until = min(first + self._window, self._started + self._timeout)
            time.sleep(max(until - time.monotonic(), 0.0))
        usage = self._sample(self._states)
        instances = [_probed_row(state, self._answers.get(state.name), usage, self._baseline) for state in self._states]
        database = self._database.result() if self._database is not None else None
        database = _with_database_resources(database, usage, self._baseline)
        warnings = self._warnings + _record_warnings(self._states)
        return ClusterStatus(database, _known(instances, self._config), warnings, usage)

    def _sample(self, states: list[InstanceState]) -> dict[str, Usage]:
        return sample_usage(_leaders(states, self._database.row if self._database is not None else None))


class DatabaseProbe:
    """Queries the database in a thread started at construction, so that it overlaps the HTTP probes.

    libpq will not give up a connect in under 2 s, so `result` stops waiting at `timeout` itself; a daemon thread
    then finishes (or times out) unwatched instead of holding the command's exit. A `database` of None (its
    table could not be read) probes nothing: only a running local server is shown.
    """

    def __init__(
        self, project: Project, database: DatabaseSpec | None, timeout: float, known_url: str | None = None
    ) -> None:
        self._timeout = timeout
        self._row = quick_database(project, database)
        self._answer: DatabaseRow | None = None
        self._thread: threading.Thread | None = None
        url = _url_to_probe(project, database, self._row, known_url) if database is not None else None
        if self._row is not None and self._row.status == "running" and database is None:
            self._row = self._row._replace(detail="not probed: the [database] table could not be read")
        elif self._row is not None and self._row.status == "running" and url is None:
            self._row = self._row._replace(status="unhealthy", detail=_NO_PASSWORD_FILE)
        if self._row is None or url is None:
            return
        # psycopg is imported before the clock starts, so its import never eats the probe's time.
        import tasker_cluster.db.status  # noqa: F401

        if self._row.kind == "external":
            self._row = self._row._replace(port=_port_of(url))
        self._deadline = time.monotonic() + timeout
        self._thread = threading.Thread(target=self._query, args=(self._row, url), daemon=True)
        self._thread.start()

    @property
    def row(self) -> DatabaseRow | None:
        """The row as the files say it, before the query's answer."""
        return self._row

    def result(self) -> DatabaseRow | None:
        if self._thread is None or self._row is None:
            return self._row
        self._thread.join(max(self._deadline - time.monotonic(), 0.0))
        if self._answer is not None:
            return self._answer
        detail = f"{_kind_prefix(self._row)}no answer within {self._timeout:g} s"
        return self._row._replace(status="unhealthy", detail=detail)

    def _query(self, row: DatabaseRow, url: str) -> None:
        self._answer = probe_database(row, url)


def probe_database(row: DatabaseRow, url: str) -> DatabaseRow:
    """`row` (what the files say) completed by one round of queries: healthy with latency, or unhealthy with why."""
    import psycopg

    from tasker_cluster.db.external import first_line
    from tasker_cluster.db.status import read_server_facts

    started = time.perf_counter()
    try:
        facts = read_server_facts(url)
    except psycopg.Error as error:
        return row._replace(status="unhealthy", detail=f"{_kind_prefix(row)}{first_line(error)}")
    latency_ms = (time.perf_counter() - started) * 1000
    uptime = max(time.time() - facts.started_at, 0.0)
    detail = f"{_kind_prefix(row)}{facts.connections}/{facts.max_connections} connections"
    return row._replace(status="healthy", uptime_s=uptime, latency_ms=latency_ms, detail=detail)


def _kind_prefix(row: DatabaseRow) -> str:
    """Marks an external server's HEALTH cell: its pid and data folder are someone else's."""
    return "external, " if row.kind == "external" else ""


def _port_of(url: str) -> int | None:
    """The port a DATABASE_URL names; None for one too malformed to parse, which the probe then reports."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        return int(conninfo_to_dict(url).get("port") or 5432)
    except (psycopg.Error, ValueError):
        return None


def _url_to_probe(
    project: Project, database: DatabaseSpec, row: DatabaseRow | None, known_url: str | None
) -> str | None:
    """The URL of a server that should answer: a running local one (`known_url` when the caller has it), or the
    external one; None when none should, or the local one has no password file to log in with."""
    if row is None:
        return None
    if row.kind == "external":
        return database.external_url
    if row.status == "running" and row.port is not None:
        from tasker_cluster.db.urls import local_url

        return known_url or local_url(project, row.port, database.name)
    return None


_NO_PASSWORD_FILE = "no password file in its data folder (made with trust auth): `cluster db up` converts it"


def _known(rows: list[InstanceStatus], config: ClusterConfig | None) -> list[InstanceStatus]:
    """Without a configuration no instance is known to be missing from the topology: none is called extra."""
    return rows if config is not None else [row._replace(extra=False) for row in rows]


def _leaders(states: list[InstanceState], database: DatabaseRow | None) -> dict[str, Leader]:
    """The processes whose groups are measured: running instances (their session, once the leader exited), and
    the local database server."""
    leaders = {}
    for state in states:
        record = state.record
        if state.alive and record is not None:
            leaders[state.name] = Leader(record.session or record.pid, record.start_ticks or 0, record.create_time)
    if database is not None and database.kind == "local" and database.status == "running" and database.pid:
        server = leader_of(database.pid)
        if server is not None:
            leaders[DATABASE_ROW_NAME] = server
    return leaders


def _with_database_resources(
    row: DatabaseRow | None, usage: Mapping[str, Usage], baseline: Mapping[str, Usage] | None = None
) -> DatabaseRow | None:
    reading = usage.get(DATABASE_ROW_NAME)
    if row is None or reading is None or row.pid != reading.leader.pid:
        return row
    return row._replace(resources=_resources(reading, (baseline or {}).get(DATABASE_ROW_NAME)))


def _resources(after: Usage | None, before: Usage | None) -> Resources | None:
    if after is None:
        return None
    cpu = cpu_percent(after, before)
    return Resources(cpu.percent, cpu.window_s, after.rss_bytes)


def _probes_of(project: Project, record: InstanceRecord) -> list[Callable[[float], ProbeResult]]:
    """The probes `status` sends an instance, by its record's kind: health then ready path, or the one TCP or exec
    probe that serves as both; none for "none". Each is given the batch's timeout, or the instance's shorter
    `probe_timeout`: a probe slower than that has failed, as Kubernetes' timeoutSeconds says."""
    from tasker_cluster.proc.ports import LOOPBACK
    from tasker_cluster.proc.probes import NETWORK

    def timed(timeout: float) -> float:
        return timeout if record.probe_timeout is None else min(record.probe_timeout, timeout)

    if record.probe == "none":
        return []
    if record.probe == "tcp":
        return [lambda timeout: NETWORK.connect((LOOPBACK, record.port), timed(timeout))]
    if record.probe == "exec":
        from tasker_cluster.proc.exec_probe import probe_env

        env = probe_env(project.root, record.name, record.port)
        return [lambda timeout: NETWORK.run(record.probe_command, timed(timeout), str(project.root), env)]
    return [
        lambda timeout: NETWORK.get(record.health_url, timed(timeout)),
        lambda timeout: NETWORK.get(record.ready_url, timed(timeout)),
    ]


def _probed_row(
    state: InstanceState, answers: Answers | None, usage: Mapping[str, Usage], baseline: Mapping[str, Usage] | None
) -> InstanceStatus:
    if state.alive and state.paused:
        return _with_process(state, "paused", usage=usage, baseline=baseline)
    if state.alive and state.record is not None and state.record.probe == "none":
        return _with_process(state, "running", usage=usage, baseline=baseline, detail="no probe")
    if state.record is None or answers is None or not state.alive:
        return _without_process(state)
    health, ready = answers
    return _probed(state, health, ready, usage, baseline)


def _running(state: InstanceState) -> str:
    return "paused" if state.paused else "running"


def _without_process(state: InstanceState) -> InstanceStatus:
    """A row for an instance that is not running: `stopped`, or `dead` when its PID file outlived it."""
    if not state.recorded:
        status, detail = "stopped", ""
    elif state.unreadable:
        status, detail = "dead", "the PID file holds no valid record"
    elif state.liveness is Liveness.REUSED:
        status, detail = "dead", "the recorded PID now belongs to another program"
    elif state.liveness is Liveness.REBOOTED:
        status, detail = "dead", "the PID file was written before the last boot"
    elif state.liveness is Liveness.MISRECORDED:
        status, detail = "dead", "the PID file names a pid that never led its session: it was edited"
    else:
        status, detail = "dead", "the PID file outlived its process"
    record = state.record
    return InstanceStatus(
        name=state.name,
        service=state.service,
        role=state.role,
        status=status,
        pid=record.pid if record else None,
        port=state.port,
        url=state.url,
        uptime_s=None,
        detail=detail,
        escaped=state.escaped,
        probe=state.configured.probe if state.configured is not None else record.probe if record else "http",
    )


def _with_process(
    state: InstanceState,
    status: str,
    *,
    usage: Mapping[str, Usage],
    baseline: Mapping[str, Usage] | None = None,
    **probe: Any,
) -> InstanceStatus:
    record = state.record
    assert record is not None
    if status == "paused":
        probe["detail"] = _paused_reason(record.pid)
    return InstanceStatus(
        name=record.name,
        service=record.service,
        role=record.role,
        status=status,
        pid=state.serving[0] if state.serving else record.pid,
        port=record.port,
        url=record.url,
        uptime_s=max(time.time() - record.create_time, 0.0),
        drift=state.drift,
        extra=state.extra,
        serving=state.serving,
        escaped=state.escaped,
        resources=_resources(usage.get(record.name), (baseline or {}).get(record.name)),
        probe=record.probe,
        **probe,
    )


def _paused_reason(group: int) -> str:
    # Short enough for the HEALTH column: the way back fits in a row.
    return f"stopped by a signal: kill -CONT -- -{group}"


def _probed(
    state: InstanceState,
    health: ProbeResult,
    ready: ProbeResult,
    usage: Mapping[str, Usage],
    baseline: Mapping[str, Usage] | None,
) -> InstanceStatus:
    record = state.record
    assert record is not None
    in_startup = max(time.time() - record.create_time, 0.0) < record.startup_timeout
    if record.probe != "http":
        return _probed_once(state, ready, in_startup, usage, baseline)
    if health.ok and ready.ok:
        status, detail = "healthy", ""
    elif health.error == "refused" and _listens_on_ipv6_only(record.port):
        status, detail = "unhealthy", _wrong_loopback(record.port)
    elif not health.answered:
        status, detail = ("starting" if in_startup else "unhealthy"), f"health: {health.error}"
    elif not health.ok:
        status, detail = "unhealthy", f"health answered {health.status_code}{_redirect_fix(health, 'health_path')}"
    else:
        answer = ready.status_code if ready.answered else ready.error
        status, detail = ("starting" if in_startup else "unhealthy"), f"ready: {answer}"
        if ready.redirect:
            status, detail = "unhealthy", f"ready: {answer}{_redirect_fix(ready, 'ready_path')}"
    failing = next((probe for probe in (health, ready) if probe.answered and not probe.ok), None)
    shown = failing or (ready if ready.answered else health)
    latencies = [probe.latency_ms for probe in (health, ready) if probe.latency_ms is not None]
    return _with_process(
        state,
        status,
        usage=usage,
        baseline=baseline,
        http_status=shown.status_code,
        latency_ms=max(latencies) if latencies else None,
        detail=detail,
        answer=shown.text,
    )


def _probed_once(
    state: InstanceState,
    answer: ProbeResult,
    in_startup: bool,
    usage: Mapping[str, Usage],
    baseline: Mapping[str, Usage] | None,
) -> InstanceStatus:
    """The row of an instance whose one TCP or exec probe is its readiness and liveness probe alike."""
    assert state.record is not None
    port = state.record.port
    if answer.ok:
        status, detail = "healthy", answer.text
    elif answer.kind == "tcp" and answer.error == "refused" and _listens_on_ipv6_only(port):
        status, detail = "unhealthy", _wrong_loopback(port)
    else:
        status, detail = ("starting" if in_startup else "unhealthy"), answer.text
    return _with_process(
        state, status, usage=usage, baseline=baseline, latency_ms=answer.latency_ms, detail=detail, answer=answer.text
    )


def _redirect_fix(answer: ProbeResult, key: str) -> str:
    if not answer.redirect:
        return ""
    return f" -> {answer.location}: set {key} to the final path"


def _wrong_loopback(port: int) -> str:
    return f"listens on [::1]:{port} only, probes go to 127.0.0.1: bind it to 127.0.0.1"


def _listens_on_ipv6_only(port: int) -> bool:
    """Asked only when 127.0.0.1 refused: whether the IPv6 loopback accepts instead."""
    from tasker_cluster.proc.probes import IPV6_LOOPBACK, NETWORK

    return NETWORK.listening((IPV6_LOOPBACK, port))
