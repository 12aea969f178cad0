"""Scenario 15: the database terminates every session of the services mid-burst (pg_terminate_backend, what a
failover or a connection-proxy restart does), three times: no request fails for it, no step runs twice, and every
task completes."""

from __future__ import annotations

import time
from dataclasses import dataclass

import checks
import psycopg
import pytest
from checks import ScenarioRun
from faults import wait_until
from records import ServerRecords
from tamper import FAULT_FREE, Fault, assert_sees, each_fault
from workloads import linear

from tasker_cluster.testing import BlockingManager, FaultDriver
from tasker_cluster.testing.plugin import ScenarioFigures
from tasker_cluster.testing.provision import ClusterUnderTest

pytestmark = pytest.mark.cluster

TASKS = 300
TERMINATE_AT = (50, 120, 190)


@dataclass(frozen=True)
class TerminatedSessionsRun(ScenarioRun):
    # Sessions terminated each time; each instance holds at least its notification listener's.
    terminated: tuple[int, ...] = ()
    instances: int = 0


def terminate_sessions(database_url: str, instances: list[str]) -> int:
    """pg_terminate_backend of every session the instances hold (each names itself in application_name); returns
    once those backends have exited."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity WHERE application_name = ANY(%s)",
            (instances,),
        ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture(scope="module")
def run(scenario_manager: BlockingManager, faults: FaultDriver, cluster: ClusterUnderTest) -> TerminatedSessionsRun:
    assert cluster.database_url is not None
    instances = faults.instances()
    requests = linear(TASKS)
    started = time.monotonic()
    burst = scenario_manager.submit(scenario_manager.manager.create_tasks_concurrent, requests, 8)
    terminated = []
    for served in TERMINATE_AT:
        wait_until(lambda n=served: len(scenario_manager.served) >= n, timeout=60, what=f"{served} tasks are created")
        terminated.append(terminate_sessions(cluster.database_url, instances))
    created = burst.result(timeout=120)
    scenario_manager.wait_for_tasks_completion([task.task_uuid for task in created], timeout=120)
    scenario_manager.wait_for_healthy(10)
    base = ScenarioRun.of(scenario_manager, requests, created, time.monotonic() - started)
    return TerminatedSessionsRun(**vars(base), terminated=tuple(terminated), instances=len(instances))


def check(run: TerminatedSessionsRun, records: ServerRecords) -> None:
    """As if nothing had happened: no request retried (a 503 or a dropped connection would have been), every record
    right, every step on its template's path."""
    assert all(count >= run.instances for count in run.terminated), (
        f"fewer sessions terminated than instances: {run.terminated}: the scenario proved nothing"
    )
    checks.fault_free(records, run)


def test_sessions_terminated_by_the_database_mid_burst_fail_no_request(
    run: TerminatedSessionsRun, records: ServerRecords, figures: ScenarioFigures
) -> None:
    check(run, records)
    figures.throughput(TASKS, run.seconds, sessions_terminated=list(run.terminated), retried=run.retries.count())


@each_fault(*FAULT_FREE)
def test_scenario_15_sees(fault: Fault, run: TerminatedSessionsRun, records: ServerRecords) -> None:
    assert_sees(fault, check, run, records)
