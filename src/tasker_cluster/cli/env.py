"""`cluster setup-env`: write `.env` and the per-instance config files; `cluster config`: print the resolved
topology."""

from __future__ import annotations

from tasker_cluster.project import Project


def setup_env(project: Project, *, orchestration: int | None, workers: int | None) -> int:
    from tasker_cluster.cluster.env import write_cluster_environment
    from tasker_cluster.config.load import load_config
    from tasker_cluster.ui.config import print_count_notes
    from tasker_cluster.ui.setup_env import print_environment_written

    config = load_config(project, orchestration=orchestration, workers=workers)
    print_environment_written(project, write_cluster_environment(config))
    print_count_notes(config, with_flags=True)
    return 0


def config(project: Project, *, as_json: bool, orchestration: int | None, workers: int | None) -> int:
    from tasker_cluster.cluster.resolved import resolved_topology
    from tasker_cluster.config.load import load_config
    from tasker_cluster.ui.config import print_topology

    print_topology(
        resolved_topology(load_config(project, orchestration=orchestration, workers=workers)), as_json=as_json
    )
    return 0
