"""`cluster setup-env`: write `.env` and the per-instance config files from the configuration."""

from __future__ import annotations

from tasker_cluster.project import Project


def setup_env(project: Project, *, orchestration: int | None, workers: int | None) -> int:
    from tasker_cluster.cluster.env import write_cluster_environment
    from tasker_cluster.config.load import load_config
    from tasker_cluster.ui.setup_env import print_environment_written

    config = load_config(project, orchestration=orchestration, workers=workers)
    print_environment_written(project, write_cluster_environment(config))
    return 0
