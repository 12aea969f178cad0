"""Records rebuilt from the processes they should name: an instance we started stays ours when its PID file is
corrupt or was edited by hand.

Every instance's environment carries this project's folder, its name and its start token
(`cluster/start.instance_env`); only a start of this project writes all three, so a session leader carrying them is
that instance (`proc/records.marked_leader`) and may be shown, recorded again and stopped. Nothing else is.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tasker_cluster.config.model import Instance
from tasker_cluster.proc.ports import LOOPBACK
from tasker_cluster.proc.processes import ProcessStat, ProcessTable, boot_id, wall_clock_start
from tasker_cluster.proc.records import InstanceRecord, marked_leader
from tasker_cluster.project import Project


def recover_record(
    project: Project, name: str, configured: Instance | None, table: ProcessTable
) -> InstanceRecord | None:
    """The record of instance `name`, rebuilt from the session leader its marks name; None when none runs.

    Its port is the one it was told. Its command is the topology's when the instance is configured (what it was
    started with cannot be known, and its command line may have changed since: exec, a process title), else the
    one /proc shows; the stop grace and probe paths are the topology's, else the defaults.
    """
    found = marked_leader(project, name, table)
    if found is None:
        return None
    stat, marks = found
    if configured is not None:
        from tasker_cluster.cluster.start import record_of

        record = record_of(configured, stat, marks.token, project.log_file(name))
    else:
        record = _unconfigured(project, name, stat, marks.token)
    started = datetime.fromtimestamp(wall_clock_start(stat.start_ticks), UTC).isoformat(timespec="seconds")
    return record._replace(port=marks.port, url=f"http://{LOOPBACK}:{marks.port}", started_at=started)


def misrecorded(
    project: Project, configured: Instance | None, record: InstanceRecord, table: ProcessTable
) -> InstanceRecord | None:
    """For a valid record whose process is gone or now another program's: the record of the running instance it
    was written for, when only its pid was changed since (a hand edit): a marked leader with the record's token and
    start tick. None otherwise (a process that left the session after a crash started later: never taken for it)."""
    found = recover_record(project, record.name, configured, table)
    if found is None or (found.token, found.start_ticks) != (record.token, record.start_ticks):
        return None
    return found


def _unconfigured(project: Project, name: str, stat: ProcessStat, token: str) -> InstanceRecord:
    try:
        with open(f"/proc/{stat.pid}/cmdline", "rb") as file:
            cmdline = [part.decode(errors="replace") for part in file.read().split(b"\0") if part]
    except OSError:
        cmdline = []
    return InstanceRecord(
        name=name,
        pid=stat.pid,
        create_time=wall_clock_start(stat.start_ticks),
        cmdline=cmdline,
        port=0,
        url="",
        service=name.rpartition("-")[0],
        role="",
        log=str(project.log_file(name)),
        started_at="",
        start_ticks=stat.start_ticks,
        boot_id=boot_id(),
        session=stat.session,
        token=token,
    )
