"""Scenario 3: round-robin distribution, read from what the servers recorded (`created_by`)."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import checks
import pytest
from checks import ScenarioRun
from records import ServerRecords
from tamper import FAULT_FREE, Fault, assert_sees, each_fault, write
from workloads import linear

from tasker_cluster.testing import BlockingManager
from tasker_cluster.testing.plugin import ScenarioFigures

pytestmark = pytest.mark.cluster

PER_INSTANCE = 10


@dataclass(frozen=True)
class RoundRobinRun(ScenarioRun):
    instances: int = 0
    # Creations per instance as the harness saw them answered (`created_by` of each response).
    served: Counter[str] = field(default_factory=Counter)


@pytest.fixture(scope="module")
def run(scenario_manager: BlockingManager) -> RoundRobinRun:
    instances = scenario_manager.orchestration_count()
    requests = linear(PER_INSTANCE * instances + 1)  # one over, so "within one of even" is really exercised
    started = time.monotonic()
    created = scenario_manager.create_tasks_concurrent(requests, concurrency=4)
    scenario_manager.wait_for_tasks_completion([task.task_uuid for task in created], timeout=120)
    base = ScenarioRun.of(scenario_manager, requests, created, time.monotonic() - started)
    return RoundRobinRun(**vars(base), instances=instances, served=scenario_manager.served_by_instance())


def check(run: RoundRobinRun, records: ServerRecords) -> None:
    checks.fault_free(records, run)
    server_side = records.created_by(run.uuids)
    even = len(run.requests) / run.instances
    assert len(server_side) == run.instances and all(abs(n - even) <= 1 for n in server_side.values()), (
        f"creations are not spread evenly over {run.instances} instances: {dict(server_side)}"
    )
    assert server_side == run.served, f"the database says {dict(server_side)}, the responses {dict(run.served)}"


def test_round_robin_spreads_creations_evenly_by_the_servers_own_record(
    run: RoundRobinRun, records: ServerRecords, figures: ScenarioFigures
) -> None:
    check(run, records)
    per_instance = dict(sorted(records.created_by(run.uuids).items()))
    figures.throughput(len(run.requests), run.seconds, per_instance=per_instance)


def _created_by_the_other(records: ServerRecords, run: RoundRobinRun) -> RoundRobinRun:
    """One task moved, in the records, to the instance that created the most: no longer within one of even."""
    [(busiest, _)] = records.created_by(run.uuids).most_common(1)
    moved = next(task.task_uuid for task in run.created if task.created_by != busiest)
    write(records, "recreate_by", task_uuid=moved, instance=busiest)
    return run


@each_fault(*FAULT_FREE, Fault("a creation recorded by another instance", _created_by_the_other, "not spread evenly"))
def test_scenario_03_sees(fault: Fault, run: RoundRobinRun, records: ServerRecords) -> None:
    assert_sees(fault, check, run, records)
