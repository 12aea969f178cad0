"""Fixtures of the cluster scenarios: the cluster's database records, and fault injection when we may."""

from __future__ import annotations

import pytest
from records import ServerRecords

from tasker_cluster.testing.provision import ClusterUnderTest


@pytest.fixture
def records(cluster: ClusterUnderTest) -> ServerRecords:
    if cluster.database_url is None:
        pytest.skip("the cluster's database is unknown: set DATABASE_URL in the project's .env or the environment")
    return ServerRecords(cluster.database_url)


@pytest.fixture
def faults(cluster: ClusterUnderTest) -> ClusterUnderTest:
    """The cluster, when its PID records are at hand to kill and restart instances through."""
    if not cluster.can_inject_faults:
        pytest.skip("fault scenarios need the PID records of the cluster: run from the project that started it")
    return cluster
