"""`cluster restart [NAME...] [--rolling]`: stop, then start and wait until ready, as `stop` and `start` do."""

from __future__ import annotations

from collections.abc import Sequence

from tasker_cluster.errors import ClusterError
from tasker_cluster.project import Project


def restart(
    project: Project, *, names: Sequence[str], rolling: bool, timeout: float | None, grace: float | None
) -> int:
    """Restart the named instances or services (every configured and every running extra instance when `names` is
    empty); 0 when every one is ready again."""
    from tasker_cluster.cli.start import print_closing_status
    from tasker_cluster.cluster.restart import restart_instances, restart_targets, rolling_order
    from tasker_cluster.config.load import load_config
    from tasker_cluster.ui.events import StartProgress, print_interrupted_restart, restart_failure, restart_summary

    config = load_config(project)
    instances = restart_targets(config, names)
    shown = rolling_order(instances) if rolling else instances
    with StartProgress([instance.name for instance in shown]) as progress:
        try:
            report = restart_instances(
                config,
                instances,
                rolling=rolling,
                timeout=timeout,
                grace=grace,
                on_stopping=progress.stopping,
                on_stopped=progress.stopped,
                on_event=progress,
            )
        except KeyboardInterrupt:
            print_interrupted_restart(progress.down(), progress.started())
            raise
    if not report.ok:
        raise ClusterError(*restart_failure(report))
    from tasker_cluster.ui.console import print_line

    print_line(restart_summary(report))
    print_closing_status(config, report.started)
    return 0
