"""What the lifecycle commands do once their arguments are parsed: call the core, render, return the exit code.

Free of Typer: the Typer commands (`cli/instances.py`) and the fast path (`cli/fast_path.py`) run these same
bodies, so both print the same bytes and exit with the same code. Each body imports only what it uses.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tasker_cluster.errors import ClusterError, ConfigError

if TYPE_CHECKING:
    from tasker_cluster.cluster.state import Configured
    from tasker_cluster.project import Project


def status_quick(project: Project, *, as_json: bool) -> int:
    """Process states from PID files alone; 0 only when every instance runs."""
    from tasker_cluster.cluster.status_quick import quick_database, quick_status
    from tasker_cluster.ui.render import print_status

    rows = quick_status(project)
    database = quick_database(project)
    # An external server's state needs the network, which this command never uses: it does not decide the exit.
    database_ok = database is None or database.status in ("running", "unknown")
    running = database_ok and bool(rows) and all(row.status == "running" for row in rows)
    print_status(rows, database, as_json=as_json, summary_key="running", ok=running)
    return 0 if running else 1


def status(project: Project, *, as_json: bool, timeout: float) -> int:
    """Probe every instance and the database; 0 only when all are healthy."""
    from tasker_cluster.cluster.status import StatusProbe

    # The probes' clock runs from here: what the display needs is loaded while they are in flight.
    probe = StatusProbe(project, timeout)
    from tasker_cluster.ui.render import preload_for_display, print_status

    preload_for_display(as_json=as_json)
    report = probe.result()
    print_status(report.instances, report.database, as_json=as_json, summary_key="healthy", ok=report.healthy)
    return 0 if report.healthy else 1


def stop(project: Project, names: Sequence[str], *, timeout: float | None, with_db: bool, yes: bool) -> int:
    """SIGTERM, then SIGKILL after the grace period; 0 when nothing named still runs (and the database, if asked)."""
    from tasker_cluster.cluster.stop import (
        SUCCESSFUL,
        InstanceStop,
        database_left_running,
        stop_instances,
        stop_with_database,
    )

    if yes and not with_db:
        raise ClusterError("--yes only applies with --with-db", "add --with-db, or drop --yes", exit_code=2)
    configured = _configured_or_none(project) if names else None
    left_running: list[InstanceStop | None] = [None]

    def meanwhile() -> None:
        # The instances are shutting down: what remains to be done here costs them no time.
        import tasker_cluster.ui.render  # noqa: F401

        if not names and not with_db:
            left_running[0] = database_left_running(project)

    if with_db:
        results, database = stop_with_database(
            project, names, configured=configured, timeout=timeout, force_external=yes, meanwhile=meanwhile
        )
    else:
        results = stop_instances(project, names, configured=configured, timeout=timeout, meanwhile=meanwhile)
        database = left_running[0]
    from tasker_cluster.ui.render import print_stop

    failed = database if database is not None and database.outcome == "failed" else None
    print_stop(results, None if failed else database)
    survivors = [result for result in results if result.outcome not in SUCCESSFUL]
    if failed is not None:
        done = "the instances were stopped" if not survivors else "some instances survived"
        raise ClusterError(f"{done}, but the database was not: {failed.detail}", failed.fix)
    if survivors:
        raise ClusterError(
            f"{', '.join(result.name for result in survivors)} still running after SIGKILL",
            "a process in uninterruptible sleep (state D) cannot be killed; check `ps -o pid,stat,cmd` and retry",
        )
    return 0


def start(
    project: Project,
    names: Sequence[str],
    *,
    wait: bool,
    timeout: float | None,
    orchestration: int | None,
    workers: int | None,
) -> int:
    """Start what is not running (all configured instances when `names` is empty), then show the status table."""
    from tasker_cluster.cluster.start import start_instances
    from tasker_cluster.config.load import load_topology
    from tasker_cluster.ui.render import (
        StartProgress,
        print_line,
        print_status,
        start_failure_fix,
        start_failure_message,
        start_summary,
    )

    topology = load_topology(project, orchestration=orchestration, workers=workers)
    instances = topology.select(names) if names else topology.instances
    with StartProgress([instance.name for instance in instances]) as progress:
        try:
            report = start_instances(project, topology, instances, wait=wait, timeout=timeout, on_event=progress)
        except KeyboardInterrupt:
            # What was spawned is recorded and keeps running (its own session): say so, rather than exit mutely.
            started = progress.started()
            if started:
                sys.stderr.write(
                    f"interrupted: {len(started)} instance(s) started and still running ({', '.join(started)}); "
                    "`cluster status` shows them, `cluster stop` stops them\n"
                )
            raise
    if not report.ok:
        raise ClusterError(start_failure_message(report.failed), start_failure_fix(report.failed))
    print_line(start_summary(report))
    if wait:
        from tasker_cluster.cluster.status import StatusProbe

        # The readiness wait has just probed every instance it started: the table reuses those answers. It shows
        # the database the topology uses, so none when it uses none (`status` would still show a server left
        # running from an earlier configuration).
        final = StatusProbe(
            project,
            configured=topology.configured(),
            known=report.probes,
            with_database=topology.database.mode != "none",
        ).result()
        print_status(final.instances, final.database, as_json=False, summary_key="healthy", ok=final.healthy)
    return 0


def _configured_or_none(project: Project) -> list[Configured] | None:
    from tasker_cluster.cluster.status_quick import configured_instances

    try:
        return configured_instances(project)
    except ConfigError:
        # A broken topology file must not keep anyone from stopping what runs: the PID records suffice.
        return None
