"""`cluster status [--watch]` and `cluster status-quick`: the table of every instance, the database first.

Both show what the PID records know when config/cluster.toml cannot be read, under a warning; with neither the file
nor a record (outside any project), there is nothing to show, and they say so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tasker_cluster.errors import ConfigError
from tasker_cluster.project import PID_SUFFIX, Project

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
    missing = _refuse_outside_a_project(project, loaded)
    report = quick_status(project, loaded.config, database=_database(loaded, missing), warnings=_warnings(loaded))
    print_status(report, as_json=as_json, summary_key="running")
    return 0 if report.running else 1


def status(project: Project, *, as_json: bool, timeout: float, watch: bool, interval: float) -> int:
    """Probe every instance and the database; 0 only when all are healthy. With `watch`, until Ctrl-C (exit 0)."""
    from tasker_cluster.cluster.status import StatusProbe
    from tasker_cluster.config.load import load_config_leniently

    loaded = load_config_leniently(project)
    missing = _refuse_outside_a_project(project, loaded)
    config, database, warnings = loaded.config, _database(loaded, missing), _warnings(loaded)
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


def _refuse_outside_a_project(project: Project, loaded: Lenient) -> bool:
    """Whether the topology file is missing (looked for only when it could not be read). ConfigError (exit 2) when
    there is then nothing to show, no PID record either, as in a folder that is no project (as compose says "no
    configuration file provided"): a table would show the default database's port as stopped, though that port may
    be another project's."""
    if loaded.error is None or project.config_file.exists():
        return False
    if not any(project.pids_dir.glob(f"*{PID_SUFFIX}")):
        raise ConfigError(
            f"no cluster here: {project.config_file} not found, and no instance of {project.root} has a PID file",
            loaded.error.fix,
        )
    return True


def _database(loaded: Lenient, topology_missing: bool) -> DatabaseSpec | None:
    """The `[database]` table the rows are drawn from; None without one. A missing topology file gives the defaults,
    whose port may well be another project's: the row then comes from a local server found running alone."""
    if isinstance(loaded.database, Exception) or topology_missing:
        return None
    return loaded.database


def _warnings(loaded: Lenient) -> tuple[StatusWarning, ...]:
    from tasker_cluster.cluster.status import StatusWarning

    return () if loaded.error is None else (StatusWarning.unreadable_config(loaded.error),)
