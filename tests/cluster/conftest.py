"""Fixtures of the cluster scenarios: the cluster's database records, and the fault driver when faults may be
injected."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from records import ServerRecords

from tasker_cluster.testing import BlockingManager, FaultDriver
from tasker_cluster.testing.manager import new_marker
from tasker_cluster.testing.provision import ClusterUnderTest

# An earlier scenario may have just restarted instances; a healthy cluster passes this at the first probe.
_READY_TIMEOUT = 60.0


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


@pytest.fixture(scope="module")
def scenario_manager(cluster: ClusterUnderTest, request: pytest.FixtureRequest) -> Iterator[BlockingManager]:
    """A manager for one scenario module, its tasks marked for that module: the workload runs once (a module
    fixture), and the scenario's test and its "sees the fault" tests all check that one run."""
    with BlockingManager.open(cluster.config, marker=new_marker(request.module.__name__)) as manager:
        manager.wait_for_healthy(_READY_TIMEOUT)
        yield manager
