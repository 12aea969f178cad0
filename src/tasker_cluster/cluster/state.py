"""The cluster as it is: every instance the configuration names merged with every instance a PID record names.

One `observe()` serves status, status-quick, stop and logs, so they agree on which instances exist, in which
order, and which names are valid. An instance started with a larger count than the file's keeps its record, so it
is listed until stopped (an "extra" instance); for `logs`, an instance of a configured service that only left a log
file is listed too. A running instance the topology now gives another port, command or probe has "drifted": it
runs (and is probed) as it was started until it is restarted.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import NamedTuple

from tasker_cluster.config.model import ROLES, ClusterConfig, Instance
from tasker_cluster.errors import UnknownInstance
from tasker_cluster.proc.processes import ProcessTable
from tasker_cluster.proc.records import InstanceRecord, Liveness, read_records
from tasker_cluster.project import Project


class InstanceState(NamedTuple):
    """One instance: what the configuration says and what its PID file says (either may be missing).

    `liveness` is that of `record` (None without a record, or when not checked); `unreadable` marks a PID file that
    holds no valid record (`record` is then the one rebuilt from the process its marks name, if one runs).
    `serving`: once the leader exited, the processes of its session that run on. `escaped`: processes that carry its
    token outside its session (looked for only when asked: it reads every environment).
    `paused`: it runs, but every process that serves it is stopped by a signal (SIGSTOP, Ctrl-Z: process state T).
    `named_pid`: the pid a valid but edited PID file named, when `record` was rebuilt from the instance's marks.
    """

    name: str
    service: str
    role: str
    configured: Instance | None
    record: InstanceRecord | None
    unreadable: bool = False
    liveness: Liveness | None = None
    serving: tuple[int, ...] = ()
    escaped: tuple[int, ...] = ()
    paused: bool = False
    named_pid: int | None = None

    @property
    def recorded(self) -> bool:
        return self.record is not None or self.unreadable

    @property
    def recovered(self) -> bool:
        """Its PID file holds no valid record (or names another pid: `named_pid`), but its process was found by its
        marks (`record` comes from it)."""
        return self.unreadable and self.record is not None

    @property
    def alive(self) -> bool:
        return self.liveness is not None and self.liveness.running

    @property
    def extra(self) -> bool:
        """Runs, but the topology no longer has it (its count was lowered, its service removed)."""
        return self.configured is None and self.alive

    @property
    def drift(self) -> str | None:
        """How a running instance differs from what the topology now gives it; None when it does not."""
        if self.configured is None or self.record is None or not self.alive:
            return None
        return drift(self.configured, self.record)

    @property
    def port(self) -> int | None:
        if self.configured is not None:
            return self.configured.port
        return self.record.port if self.record is not None else None

    @property
    def url(self) -> str | None:
        if self.configured is not None:
            return self.configured.url
        return self.record.url if self.record is not None else None


class ClusterState(NamedTuple):
    """The instances in display order: configured ones in config order, then the others."""

    project: Project
    config: ClusterConfig | None
    instances: list[InstanceState]

    def names(self) -> list[str]:
        return [instance.name for instance in self.instances]

    def select(self, names: Sequence[str], roles: Collection[str] = ()) -> list[InstanceState]:
        """The named instances, every instance of a named service, and every instance of `roles`, in order;
        UnknownInstance for a name that is neither an instance nor a service here."""
        services = {instance.service for instance in self.instances}
        unknown = [name for name in names if name not in services and name not in self.names()]
        if unknown:
            raise UnknownInstance(unknown, self.names(), list(dict.fromkeys(i.service for i in self.instances)))
        wanted = set(names)
        return [i for i in self.instances if i.name in wanted or i.service in wanted or i.role in roles]


def drift(instance: Instance, record: InstanceRecord) -> str | None:
    """Every way a running instance's record differs from what the topology now gives it, joined by "; " in one
    line (port, command, probe), or None: each is said at once, rather than one hiding the next until undone."""
    found = [
        f"runs on {record.port}, the topology now says {instance.port}" if record.port != instance.port else None,
        "runs the command it was started with, which the topology has changed since"
        if _command_changed(instance, record)
        else None,
        *_probe_drift(instance, record),
    ]
    return "; ".join(text for text in found if text is not None) or None


def _command_changed(instance: Instance, record: InstanceRecord) -> bool:
    # A record from before `start_ticks` holds the kernel's command line, which differs from argv for a script.
    return record.start_ticks is not None and record.cmdline != _at_recorded_port(instance.argv, instance, record)


def _at_recorded_port(args: Sequence[str], instance: Instance, record: InstanceRecord) -> list[str]:
    """`args` as the topology would give them at the recorded port: a `{port}` in a command follows a moved port,
    which is said once, as such, rather than as a changed command too."""
    return [arg.replace(str(instance.port), str(record.port)) for arg in args]


def _probe_drift(instance: Instance, record: InstanceRecord) -> list[str | None]:
    # Its probes go where its record says, as a compose healthcheck or a pod's probes stay what the container or pod
    # was created with: a changed kind, command or path takes a restart, and is said, rather than left to look like
    # a failing probe. A changed kind brings its own command or paths: the kind alone says it.
    if record.probe != instance.probe:
        return [f'is probed by "{record.probe}", the topology now says "{instance.probe}"']
    found: list[str | None] = [
        "is probed by the probe command it was started with, which the topology has changed since"
        if list(record.probe_command) != _at_recorded_port(instance.probe_command, instance, record)
        else None
    ]
    for kind, recorded, configured in (
        ("ready", record.ready_path, instance.ready_path),
        ("health", record.health_path, instance.health_path),
    ):
        found.append(
            f"is probed at its {kind} path {recorded}, the topology now says {configured}"
            if recorded != configured
            else None
        )
    return found


def observe(
    project: Project,
    config: ClusterConfig | None,
    *,
    check: bool = True,
    alive: Collection[str] = (),
    with_logs: bool = False,
    table: ProcessTable | None = None,
) -> ClusterState:
    """Configured and recorded instances, merged (a broken configuration passes None: the records still count).

    With `check`, each record's liveness is verified (/proc), except for the names in `alive`, known to run; with
    the caller's `table` when it reads more of the same moment (status-quick's CPU and memory).
    With `with_logs`, an instance of a configured service whose log file is all that is left is listed too.
    """
    records = read_records(project)
    configured = config.instances if config is not None else []
    states = [
        InstanceState(i.name, i.service, i.role, i, records.valid.get(i.name), i.name in records.unreadable)
        for i in configured
    ]
    listed = {instance.name for instance in configured}
    extra = [_recorded(name, records.valid.get(name)) for name in {*records.valid, *records.unreadable} - listed]
    if with_logs and config is not None:
        extra += _logged(project, config, listed | {state.name for state in extra})
    states += sorted(extra, key=_extra_order(config))
    if check:
        table = table or ProcessTable()
        states = [_recovered(project, _checked(state, alive, table), table) for state in states]
    return ClusterState(project, config, states)


def _recovered(project: Project, state: InstanceState, table: ProcessTable) -> InstanceState:
    """A record that names no running instance of ours, replaced by the one rebuilt from the process its marks
    prove to be that instance (`cluster/recovery.py`); `unreadable` then says the PID file was wrong."""
    from tasker_cluster.cluster.recovery import misrecorded, recover_record

    named = None
    if state.unreadable:
        found = recover_record(project, state.name, state.configured, table)
    elif state.record is not None and state.liveness is not None and state.liveness.misnamed:
        found, named = misrecorded(project, state.configured, state.record, table), state.record.pid
    else:
        return state
    if found is None:
        return state
    return _checked(state._replace(record=found, unreadable=True, named_pid=named), (), table)


def _recorded(name: str, record: InstanceRecord | None) -> InstanceState:
    if record is None:
        return InstanceState(name, "", "", None, None, unreadable=True)
    return InstanceState(name, record.service, record.role, None, record)


def _logged(project: Project, config: ClusterConfig, known: set[str]) -> list[InstanceState]:
    """Instances of configured services beyond their count that left a log file (`worker-a-3.log`)."""
    roles = {service.name: service.role for service in config.services}
    found = []
    for path in project.logs_dir.glob("*.log"):
        service, _, index = path.stem.rpartition("-")
        if path.stem not in known and service in roles and index.isdigit():
            found.append(InstanceState(path.stem, service, roles[service], None, None))
    return found


def _extra_order(config: ClusterConfig | None) -> Callable[[InstanceState], tuple[int, int, str, int, str]]:
    services = {service.name: position for position, service in enumerate(config.services if config else [])}

    def key(state: InstanceState) -> tuple[int, int, str, int, str]:
        role = ROLES.index(state.role) if state.role in ROLES else len(ROLES)  # type: ignore[arg-type]
        index = state.name.rpartition("-")[2]
        # Services the configuration does not order (or no configuration at all) by name, each instance by index.
        position = services.get(state.service, len(services))
        return role, position, state.service, int(index) if index.isdigit() else 0, state.name

    return key


def _checked(state: InstanceState, alive: Collection[str], table: ProcessTable) -> InstanceState:
    from tasker_cluster.proc.records import liveness, session_survivors

    record = state.record
    if record is None:
        return state
    if state.name in alive:
        return state._replace(liveness=Liveness.ALIVE)
    found = liveness(record, table)
    serving = tuple(session_survivors(record, table)) if found is Liveness.SESSION else ()
    serves = serving or ((record.pid,) if found is Liveness.ALIVE else ())
    return state._replace(liveness=found, serving=serving, paused=bool(serves) and all(map(table.stopped, serves)))


def with_escapees(states: Sequence[InstanceState]) -> list[InstanceState]:
    """`states` with the processes that left each instance's session (`escaped`): reads every environment."""
    from tasker_cluster.proc.records import escaped

    found = escaped([state.record for state in states if state.record is not None], ProcessTable())
    return [state._replace(escaped=tuple(found.get(state.name, ()))) for state in states]
