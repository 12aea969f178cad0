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
def faults(cluster: ClusterUnderTest, pytestconfig: pytest.Config) -> ClusterUnderTest:
    """The cluster, when its PID records are at hand to kill and restart instances through.

    A cluster the session did not start is the user's: killing its instances needs their explicit consent."""
    if not cluster.started_here and not pytestconfig.getoption("allow_faults"):
        pytest.skip("fault scenarios kill -9 instances of the running cluster you named: pass --allow-faults")
    if not cluster.can_inject_faults:
        pytest.skip("fault scenarios need the PID records of the cluster: run from the project that started it")
    return cluster
