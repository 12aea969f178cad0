"""`cluster start-all | start | status | status-quick | stop`: parse, call the core, render.

The database is part of the cluster here: started before the instances, shown first, stopped on `stop --with-db`.

Only typer at module level: the core is imported inside each command, so status-quick loads neither httpx nor
pydantic.
"""

from __future__ import annotations

import typer

ORCHESTRATION_OPTION = typer.Option(
    None, "--orchestration", min=0, help="Orchestration instances (beats TASKER_ORCHESTRATION_INSTANCES and .env)."
)
WORKERS_OPTION = typer.Option(
    None, "--workers", min=0, help="Worker instances, split over the worker types (beats TASKER_WORKER_INSTANCES)."
)
WAIT_OPTION = typer.Option(True, "--wait/--no-wait", help="Wait until every instance answers its ready path.")
START_TIMEOUT_OPTION = typer.Option(
    None, "--timeout", min=0.1, help="Seconds to wait for readiness (default: each service's startup_timeout)."
)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("start-all")(start_all)
    app.command("start")(start)
    app.command("status")(status)
    app.command("status-quick")(status_quick)
    app.command("stop")(stop)


def start_all(
    ctx: typer.Context,
    wait: bool = WAIT_OPTION,
    timeout: float | None = START_TIMEOUT_OPTION,
    orchestration: int | None = ORCHESTRATION_OPTION,
    workers: int | None = WORKERS_OPTION,
) -> None:
    """Start every configured instance that is not running, then show the cluster's status."""
    _start(ctx, [], wait=wait, timeout=timeout, orchestration=orchestration, workers=workers)


def start(
    ctx: typer.Context,
    names: list[str] = typer.Argument(
        ..., metavar="NAME", help="Instance names (orchestration-1) or service names (worker-a)."
    ),
    wait: bool = WAIT_OPTION,
    timeout: float | None = START_TIMEOUT_OPTION,
    orchestration: int | None = ORCHESTRATION_OPTION,
    workers: int | None = WORKERS_OPTION,
) -> None:
    """Start the named instances unless they are running."""
    _start(ctx, names, wait=wait, timeout=timeout, orchestration=orchestration, workers=workers)


def status(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    timeout: float = typer.Option(2.0, "--timeout", min=0.05, help="Seconds for all health probes together."),
) -> None:
    """Query the database and probe every instance's health and ready paths; exit 0 only when all are healthy."""
    from tasker_cluster.render import print_status
    from tasker_cluster.status import full_status
    from tasker_cluster.topology import load_topology

    project = ctx.obj.project
    report = full_status(project, load_topology(project), timeout)
    print_status(report.instances, report.database, as_json=as_json, summary_key="healthy", ok=report.healthy)
    if not report.healthy:
        raise typer.Exit(1)


def status_quick(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Process states from PID files alone, no network; exit 0 only when all are running."""
    from tasker_cluster.quick_status import quick_database, quick_status
    from tasker_cluster.render import print_status

    rows = quick_status(ctx.obj.project)
    database = quick_database(ctx.obj.project)
    # An external server's state needs the network, which this command never uses: it does not decide the exit.
    database_ok = database is None or database.status in ("running", "unknown")
    running = database_ok and bool(rows) and all(row.status == "running" for row in rows)
    print_status(rows, database, as_json=as_json, summary_key="running", ok=running)
    if not running:
        raise typer.Exit(1)


def stop(
    ctx: typer.Context,
    names: list[str] | None = typer.Argument(
        None, metavar="NAME", help="Instance or service names (default: every running one)."
    ),
    timeout: float | None = typer.Option(
        None, "--timeout", min=0.0, help="Seconds between SIGTERM and SIGKILL (default: each service's stop_grace)."
    ),
    with_db: bool = typer.Option(False, "--with-db", help="Then stop the project's local PostgreSQL too."),
    yes: bool = typer.Option(
        False, "--yes", "-y", help="With --with-db: also stop an external DATABASE_URL server (loopback only)."
    ),
) -> None:
    """SIGTERM each instance's process group, SIGKILL what outlives the grace period, remove PID files."""
    from tasker_cluster.errors import ClusterError, ConfigError
    from tasker_cluster.render import print_stop
    from tasker_cluster.stopping import SUCCESSFUL, database_left_running, stop_instances, stop_with_database
    from tasker_cluster.topology import load_topology

    if yes and not with_db:
        raise ClusterError("--yes only applies with --with-db", "add --with-db, or drop --yes", exit_code=2)
    project = ctx.obj.project
    try:
        topology = load_topology(project) if names else None
    except ConfigError:
        # A broken topology file must not keep anyone from stopping what runs: the PID records suffice.
        topology = None
    if with_db:
        results, database = stop_with_database(
            project, names or [], topology=topology, timeout=timeout, force_external=yes
        )
    else:
        results = stop_instances(project, names or [], topology=topology, timeout=timeout)
        database = None if names else database_left_running(project)
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


def _start(
    ctx: typer.Context,
    names: list[str],
    *,
    wait: bool,
    timeout: float | None,
    orchestration: int | None,
    workers: int | None,
) -> None:
    from tasker_cluster.errors import ClusterError
    from tasker_cluster.lifecycle import start_instances
    from tasker_cluster.render import (
        StartProgress,
        print_status,
        start_failure_fix,
        start_failure_message,
        start_summary,
    )
    from tasker_cluster.topology import load_topology

    project = ctx.obj.project
    topology = load_topology(project, orchestration=orchestration, workers=workers)
    instances = topology.select(names) if names else topology.instances
    with StartProgress([instance.name for instance in instances]) as progress:
        report = start_instances(project, topology, instances, wait=wait, timeout=timeout, on_event=progress)
    if not report.ok:
        raise ClusterError(
            start_failure_message(report.failed),
            start_failure_fix(report.failed),
        )
    typer.echo(start_summary(report))
    if wait:
        from tasker_cluster.status import full_status

        final = full_status(project, topology)
        print_status(final.instances, final.database, as_json=False, summary_key="healthy", ok=final.healthy)
