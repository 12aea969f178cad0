"""`cluster start-all` and `cluster start NAME...`: start what is not running, then show the status table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tasker_cluster.errors import ClusterError
from tasker_cluster.project import Project

if TYPE_CHECKING:
    from tasker_cluster.cluster.start_results import StartReport
    from tasker_cluster.config.model import ClusterConfig


def start_all(
    project: Project, *, wait: bool, timeout: float | None, orchestration: int | None, workers: int | None
) -> int:
    return start(project, names=[], wait=wait, timeout=timeout, orchestration=orchestration, workers=workers)


def start(
    project: Project,
    *,
    names: Sequence[str],
    wait: bool,
    timeout: float | None,
    orchestration: int | None,
    workers: int | None,
) -> int:
    """Start what is not running (every configured instance when `names` is empty); 0 when all started."""
    from tasker_cluster.proc.spawn import LOG_WRITER

    # First of all: the log writer's interpreter starts on the core that reading the topology and importing the start
    # core leave idle. Unused (a bad topology, an unknown name, every instance running already), it exits with this
    # command (bench/README.md, "Log writer start").
    LOG_WRITER.start()
    from tasker_cluster.config.load import load_config

    config = load_config(project, orchestration=orchestration, workers=workers)
    instances = config.select(names) if names else config.instances
    from tasker_cluster.cluster.start import start_instances
    from tasker_cluster.ui.events import (
        StartProgress,
        print_interrupted_start,
        print_start_warnings,
        start_failure_fix,
        start_failure_message,
        start_summary,
    )

    if any(count.overridden for count in config.role_counts()):
        from tasker_cluster.ui.config import print_count_notes

        print_count_notes(config)
    with StartProgress([instance.name for instance in instances]) as progress:
        try:
            report = start_instances(config, instances, wait=wait, timeout=timeout, on_event=progress)
        except KeyboardInterrupt:
            # What was spawned is recorded and keeps running (its own session): say so, rather than exit mutely.
            print_interrupted_start(progress.started())
            raise
    print_start_warnings(report)
    if not report.ok:
        raise ClusterError(start_failure_message(report.failed), start_failure_fix(report.failed))
    from tasker_cluster.ui.console import print_line

    print_line(start_summary(report))
    if wait:
        print_closing_status(config, report)
    return 0


def print_closing_status(config: ClusterConfig, report: StartReport) -> None:
    """The status table after a start that waited for readiness (start-all, start, restart)."""
    from tasker_cluster.cluster.status import StatusProbe
    from tasker_cluster.ui.status import print_status

    # The readiness wait has just probed every instance it started: the table reuses those answers. It shows the
    # database the configuration uses, so none when it uses none (`status` would still show a server left running
    # from an earlier configuration). An instance whose leader exited is observed again: the table must show which
    # process now serves. CPU since each start: a sampling window would hold the command up.
    noted = {instance.name for instance in report.instances if instance.note}
    final = StatusProbe(
        config.project,
        config,
        known={name: answers for name, answers in report.probes.items() if name not in noted},
        with_database=config.database.mode != "none",
        database_url=report.database_url,
        cpu_window=None,
    ).result()
    print_status(final, as_json=False)
