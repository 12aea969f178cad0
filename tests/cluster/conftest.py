"""Fixtures of the cluster scenarios: the cluster's database records, and the fault driver when faults may be
injected."""

from __future__ import annotations

import pytest
from records import ServerRecords

from tasker_cluster.testing import FaultDriver
from tasker_cluster.testing.provision import ClusterUnderTest


@pytest.fixture(scope="session")
def records(cluster: ClusterUnderTest) -> ServerRecords:
    if cluster.database_url is None:
        pytest.skip("the cluster's database is unknown: set DATABASE_URL in the project's .env or the environment")
    return ServerRecords(cluster.database_url)


@pytest.fixture(scope="session")
def faults(cluster: ClusterUnderTest, pytestconfig: pytest.Config) -> FaultDriver:
    """The session's fault driver: kill, pause, stop and start instances (and the database) by name.

    A cluster the session did not start is the user's: injecting faults into it needs their explicit consent."""
    if not cluster.started_here and not pytestconfig.getoption("allow_faults"):
        pytest.skip("fault scenarios kill -9 instances of the running cluster you named: pass --allow-faults")
    if cluster.faults is None:
        pytest.skip("no fault driver for this cluster: run from the project whose PID records describe it")
    return cluster.faults
