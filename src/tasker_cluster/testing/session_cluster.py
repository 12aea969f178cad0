"""Choosing the test session's cluster: the running one the environment names, or a throwaway one."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import anyio

from tasker_cluster.project import Project
from tasker_cluster.testing.cluster import OrchestrationCluster
from tasker_cluster.testing.config import ClusterConfig, env_names_cluster
from tasker_cluster.testing.errors import HarnessError
from tasker_cluster.testing.provision import ClusterUnderTest, start_throwaway_cluster

Source = Literal["auto", "env", "start"]
_PROBE_TIMEOUT = 2.0


def acquire_cluster(rootdir: Path, source: Source) -> ClusterUnderTest:
    project = Project.discover(cwd=rootdir)
    if source != "start" and env_names_cluster(project.env_file):
        config = ClusterConfig.from_env(project.env_file)
        answering, ready = anyio.run(_probe, config)
        if ready == len(config.orchestration_urls) + len(config.worker_urls):
            return ClusterUnderTest(config, _records_project(project, config), _database_url(project), False)
        if answering or source == "env":
            raise HarnessError(
                f"the cluster named by TASKER_TEST_ORCHESTRATION_URLS is not fully ready "
                f"({ready} of {len(config.orchestration_urls) + len(config.worker_urls)} instances ready)",
                "check `cluster status` and fix it, or run the tests with --cluster-source start "
                "to use a throwaway cluster",
            )
    elif source == "env":
        raise HarnessError(
            "--cluster-source env, but TASKER_TEST_ORCHESTRATION_URLS names no cluster",
            "run `cluster setup-env` and `cluster start-all`, or use --cluster-source auto",
        )
    return start_throwaway_cluster(project)


async def _probe(config: ClusterConfig) -> tuple[int, int]:
    """(instances answering at all, instances ready)."""
    async with OrchestrationCluster(config) as cluster:
        probes = await cluster.probe_all(_PROBE_TIMEOUT)
    return sum(probe.status_code is not None for probe in probes), sum(probe.ok for probe in probes)


def _records_project(project: Project, config: ClusterConfig) -> Project | None:
    """The project, when its PID records describe the named cluster (needed to kill and restart instances)."""
    from tasker_cluster.proc.records import read_records

    recorded = {record.url for record in read_records(project).valid.values()}
    return project if set(config.orchestration_urls) <= recorded else None


def _database_url(project: Project) -> str | None:
    """The running cluster's DATABASE_URL; None when it uses none, or its local server was never created."""
    if not project.config_file.is_file():
        return None
    from tasker_cluster.config.load import load_database_config
    from tasker_cluster.db.urls import database_url
    from tasker_cluster.errors import ClusterError

    try:
        return database_url(project, load_database_config(project))
    except ClusterError:
        return None
