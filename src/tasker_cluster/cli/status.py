"""`cluster status [--watch]` and `cluster status-quick`: the table of every instance, the database first.

Both show what the PID records know when config/cluster.toml cannot be read, under a warning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tasker_cluster.project import Project

if TYPE_CHECKING:
    from tasker_cluster.cluster.status import StatusWarning
    from tasker_cluster.config.load import Lenient
    from tasker_cluster.config.model import DatabaseSpec


def status_quick(project: Project, *, as_json: bool) -> int:
    """Process states from PID files alone; 0 only when every instance runs."""
    from tasker_cluster.cluster.status import quick_status
    from tasker_cluster.config.load import load_config_leniently
    from tasker_cluster.ui.status import print_status

    loaded = load_config_leniently(project)
    report = quick_status(project, loaded.config, database=_database(loaded), warnings=_warnings(loaded))
    print_status(report, as_json=as_json, summary_key="running")
    return 0 if report.running else 1


def status(project: Project, *, as_json: bool, timeout: float, watch: bool, interval: float) -> int:
    """Probe every instance and the database; 0 only when all are healthy. With `watch`, until Ctrl-C (exit 0)."""
    from tasker_cluster.cluster.status import StatusProbe
    from tasker_cluster.config.load import load_config_leniently

    loaded = load_config_leniently(project)
    config, database, warnings = loaded.config, _database(loaded), _warnings(loaded)
    if watch:
        from tasker_cluster.ui.watch import watch_status

        return watch_status(
            lambda baseline: StatusProbe(
                project, config, timeout, baseline=baseline, database=database, warnings=warnings
            ).result(),
            interval,
            as_json=as_json,
        )
    # The probes' clock runs from here: what the display needs is loaded while they are in flight.
    probe = StatusProbe(project, config, timeout, database=database, warnings=warnings)
    from tasker_cluster.ui.status import preload_for_display, print_status

    preload_for_display(as_json=as_json)
    report = probe.result()
    print_status(report, as_json=as_json)
    return 0 if report.healthy else 1


def _database(loaded: Lenient) -> DatabaseSpec | None:
    return None if isinstance(loaded.database, Exception) else loaded.database


def _warnings(loaded: Lenient) -> tuple[StatusWarning, ...]:
    from tasker_cluster.cluster.status import StatusWarning

    return () if loaded.error is None else (StatusWarning.unreadable_config(loaded.error),)
