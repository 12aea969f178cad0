"""Choosing the test session's cluster: a throwaway one (the default), or the running one the user names.

Targeting a running cluster is always an explicit choice (`--cluster-source env`, or TASKER_TEST_CLUSTER_SOURCE=env
in the environment), never made because URLs in a `.env` happen to answer: a suite run against the user's cluster
writes tasks into the user's database.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import anyio

from tasker_cluster.project import Project
from tasker_cluster.testing.cluster import OrchestrationCluster
from tasker_cluster.testing.config import ORCHESTRATION_URLS_ENV, ClusterConfig, env_names_cluster
from tasker_cluster.testing.errors import HarnessError
from tasker_cluster.testing.local_faults import LocalFaults
from tasker_cluster.testing.plugin import CLUSTER_SOURCES
from tasker_cluster.testing.provision import ClusterUnderTest, source_project, start_throwaway_cluster

_PROBE_TIMEOUT = 2.0


def acquire_cluster(
    rootdir: Path, source: str, announce: Callable[[str], None] = lambda line: None
) -> ClusterUnderTest:
    """`start`: a throwaway copy of the project's topology (the project holding `rootdir`); `env`: the running
    cluster that TASKER_TEST_ORCHESTRATION_URLS names (environment, else the project's `.env`), every instance
    ready; `compose`: the topology as a podman-compose deployment built and started here (`announce` hears its
    steps). Raises HarnessError naming the fix otherwise."""
    if source not in CLUSTER_SOURCES:
        raise HarnessError(f"unknown cluster source {source!r}", f"use one of: {', '.join(CLUSTER_SOURCES)}")
    project = source_project(rootdir)
    if source == "start":
        return start_throwaway_cluster(project)
    if source == "compose":
        from tasker_cluster.testing.compose_cluster import start_compose_cluster

        return start_compose_cluster(project, announce)
    if not env_names_cluster(project.env_file):
        raise HarnessError(
            f"--cluster-source env, but {ORCHESTRATION_URLS_ENV} names no cluster (environment or {project.env_file})",
            "run `cluster setup-env` and `cluster start-all`, or leave the source at `start` for a throwaway cluster",
        )
    config = ClusterConfig.from_env(project.env_file)
    ready = anyio.run(_count_ready, config)
    total = len(config.orchestration_urls) + len(config.worker_urls)
    if ready < total:
        raise HarnessError(
            f"the cluster named by {ORCHESTRATION_URLS_ENV} is not fully ready ({ready} of {total} instances ready)",
            "check `cluster status` and fix it, or leave the source at `start` for a throwaway cluster",
        )
    described = _described_by_records(project, config)
    return ClusterUnderTest(
        config,
        _database_url(project),
        started_here=False,
        # The user's instances come back with the user's environment, as the user started them.
        faults=LocalFaults(project, os.environ) if described else None,
        project=project if described else None,
    )


async def _count_ready(config: ClusterConfig) -> int:
    async with OrchestrationCluster(config) as cluster:
        probes = await cluster.probe_all(_PROBE_TIMEOUT)
    return sum(probe.ok for probe in probes)


def _described_by_records(project: Project, config: ClusterConfig) -> bool:
    """Whether the project's PID records describe the named cluster (needed to kill and restart its instances)."""
    from tasker_cluster.proc.records import read_records

    recorded = {record.url for record in read_records(project).valid.values()}
    return bool(recorded) and set(config.orchestration_urls) | set(config.worker_urls) <= recorded


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
