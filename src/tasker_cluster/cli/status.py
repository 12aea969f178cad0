"""`cluster status [--watch]` and `cluster status-quick`: the table of every instance, the database first."""

from __future__ import annotations

from tasker_cluster.project import Project


def status_quick(project: Project, *, as_json: bool) -> int:
    """Process states from PID files alone; 0 only when every instance runs."""
    from tasker_cluster.cluster.status import quick_status
    from tasker_cluster.config.load import load_config
    from tasker_cluster.ui.status import print_status

    report = quick_status(project, load_config(project))
    print_status(report, as_json=as_json, summary_key="running")
    return 0 if report.running else 1


def status(project: Project, *, as_json: bool, timeout: float, watch: bool, interval: float) -> int:
    """Probe every instance and the database; 0 only when all are healthy. With `watch`, until Ctrl-C (exit 0)."""
    from tasker_cluster.cluster.status import StatusProbe
    from tasker_cluster.config.load import load_config

    config = load_config(project)
    if watch:
        from tasker_cluster.ui.watch import watch_status

        return watch_status(lambda: StatusProbe(project, config, timeout).result(), interval, as_json=as_json)
    # The probes' clock runs from here: what the display needs is loaded while they are in flight.
    probe = StatusProbe(project, config, timeout)
    from tasker_cluster.ui.status import preload_for_display, print_status

    preload_for_display(as_json=as_json)
    report = probe.result()
    print_status(report, as_json=as_json)
    return 0 if report.healthy else 1
