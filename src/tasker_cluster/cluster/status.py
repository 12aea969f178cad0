"""`cluster status`: the database and every instance, each with its process state and health, probed concurrently.

Built from the PID records (which carry each instance's URL, paths and startup window) and the instance names the
pydantic-free layout gives, as status-quick is: importing the validated topology would cost ~100 ms before the
first probe is sent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from tasker_cluster.cluster.state import (
    Configured,
    DatabaseRow,
    Entry,
    InstanceStatus,
    dead_detail,
    entries,
    with_process,
    without_process,
)
from tasker_cluster.proc.probes import ProbeBatch, ProbeResult
from tasker_cluster.proc.records import InstanceRecord, Liveness, liveness, read_records
from tasker_cluster.project import Project

DEFAULT_TIMEOUT = 2.0

# (health, ready) answers of an instance, as probed by `status` or by start-all's readiness wait.
Answers = tuple[ProbeResult, ProbeResult]


class ClusterStatus(NamedTuple):
    database: DatabaseRow | None
    instances: list[InstanceStatus]

    @property
    def healthy(self) -> bool:
        """Every instance healthy, and the database too: instances whose database is down cannot do their work."""
        database_ok = self.database is None or self.database.status == "healthy"
        return database_ok and bool(self.instances) and all(row.status == "healthy" for row in self.instances)


class StatusProbe:
    """Sends every probe at construction: the instances' health and ready paths, and the database's query.

    `known` holds answers already had (start-all's readiness wait) for instances known to run: those are neither
    checked nor probed again. `result` waits at most `timeout` from construction for the rest. Without
    `with_database` (a topology that uses none) there is no database row, and the config file is not read for one.
    """

    def __init__(
        self,
        project: Project,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        configured: Sequence[Configured] | None = None,
        known: Mapping[str, Answers] | None = None,
        with_database: bool = True,
    ) -> None:
        if configured is None:
            # The config file's reader is imported only when needed: start-all has its topology already.
            from tasker_cluster.cluster.status_quick import configured_instances

            configured = configured_instances(project)
        known = known or {}
        self._rows = entries(configured, read_records(project))
        self._states = {row.name: _state(row, known) for row in self._rows}
        alive = [
            row.record
            for row in self._rows
            if row.record and self._states[row.name] is Liveness.ALIVE and row.name not in known
        ]
        self._answers: dict[str, Answers] = dict(known)
        self._alive = alive
        urls = [url for record in alive for url in (record.health_url, record.ready_url)]
        self._batch = ProbeBatch(urls, timeout)
        self._database = DatabaseProbe(project, timeout) if with_database else None

    def result(self) -> ClusterStatus:
        answers = self._batch.results()
        for position, record in enumerate(self._alive):
            self._answers[record.name] = (answers[2 * position], answers[2 * position + 1])
        instances = [_status_of(row, self._states[row.name], self._answers.get(row.name)) for row in self._rows]
        database = self._database.result() if self._database is not None else None
        return ClusterStatus(database, instances)


def full_status(
    project: Project, timeout: float = DEFAULT_TIMEOUT, *, configured: Sequence[Configured] | None = None
) -> ClusterStatus:
    """The database row and the instance rows; the database is queried while the instances are probed."""
    return StatusProbe(project, timeout, configured=configured).result()


def cluster_status(
    project: Project, configured: Sequence[Configured] | None = None, timeout: float = DEFAULT_TIMEOUT
) -> list[InstanceStatus]:
    """One row per configured or recorded instance; all probes share one `timeout`, so hung instances cost one."""
    return full_status(project, timeout, configured=configured).instances


def _state(row: Entry, known: Mapping[str, Answers]) -> Liveness | None:
    if row.record is None:
        return None
    return Liveness.ALIVE if row.name in known else liveness(row.record)


class DatabaseProbe:
    """Queries the database in a thread started at construction, so that it overlaps the HTTP probes.

    libpq will not give up a connect in under 2 s, so `result` stops waiting at `timeout` itself; a daemon thread
    then finishes (or times out) unwatched instead of holding the command's exit.
    """

    def __init__(self, project: Project, timeout: float) -> None:
        from tasker_cluster.cluster.status_quick import quick_database

        self._timeout = timeout
        self._row = quick_database(project)
        self._answer: DatabaseRow | None = None
        self._thread: threading.Thread | None = None
        url = _url_to_probe(project, self._row)
        if self._row is None or url is None:
            return
        # psycopg takes ~120 ms to import: done here, before the clock starts, so it never eats the probe's time.
        import tasker_cluster.db.status  # noqa: F401

        if self._row.kind == "external":
            self._row = self._row._replace(port=_port_of(url))
        self._deadline = time.monotonic() + timeout
        self._thread = threading.Thread(target=self._query, args=(self._row, url), daemon=True)
        self._thread.start()

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


def _url_to_probe(project: Project, row: DatabaseRow | None) -> str | None:
    """The URL of a server that should answer: a running local one, or the external one; None when none should."""
    from tasker_cluster.db.quick import database_port_and_name
    from tasker_cluster.db.urls import external_url, local_url

    if row is None:
        return None
    port, name = database_port_and_name(project.config_file)
    if row.kind == "external":
        return external_url(project, port, name)
    if row.status == "running" and row.port is not None:
        return local_url(project, row.port, name)
    return None


def _status_of(row: Entry, state: Liveness | None, probes: Answers | None) -> InstanceStatus:
    if row.record is None and not row.unreadable:
        return without_process(row, "stopped")
    if row.record is None or probes is None:
        return without_process(row, "dead", dead_detail(row, state is Liveness.REUSED))
    health, ready = probes
    return _probed(row.record, health, ready)


def _probed(record: InstanceRecord, health: ProbeResult, ready: ProbeResult) -> InstanceStatus:
    provisional = with_process(record, "starting")
    in_startup = (provisional.uptime_s or 0.0) < record.startup_timeout
    if health.ok and ready.ok:
        status, detail = "healthy", ""
    elif not health.answered:
        status, detail = ("starting" if in_startup else "unhealthy"), f"health: {health.error}"
    elif not health.ok:
        status, detail = "unhealthy", f"health answered {health.status_code}"
    else:
        answer = ready.status_code if ready.answered else ready.error
        status, detail = ("starting" if in_startup else "unhealthy"), f"ready: {answer}"
    failing = next((probe for probe in (health, ready) if probe.answered and not probe.ok), None)
    shown = failing or (ready if ready.answered else health)
    latencies = [probe.latency_ms for probe in (health, ready) if probe.latency_ms is not None]
    return with_process(
        record,
        status,
        http_status=shown.status_code,
        latency_ms=max(latencies) if latencies else None,
        detail=detail,
    )
