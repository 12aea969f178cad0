"""Scenario 3: round-robin distribution, read from what the servers recorded (`created_by`)."""

from __future__ import annotations

import time

import pytest
from records import ServerRecords
from workloads import linear

from tasker_cluster.testing import BlockingManager
from tasker_cluster.testing.plugin import ScenarioFigures

pytestmark = pytest.mark.cluster

PER_INSTANCE = 10


def test_round_robin_spreads_creations_evenly_by_the_servers_own_record(
    manager: BlockingManager, records: ServerRecords, figures: ScenarioFigures
) -> None:
    instances = manager.orchestration_count()
    total = PER_INSTANCE * instances + 1  # one over, so "within one of even" is really exercised
    started = time.monotonic()
    created = manager.create_tasks_concurrent(linear(total), concurrency=4)
    elapsed = time.monotonic() - started
    uuids = [task.task_uuid for task in created]
    assert all(task.attempts == 1 for task in created), "a retry moved a request: distribution is not measurable"

    server_side = records.created_by(uuids)
    assert len(server_side) == instances, f"not every instance created tasks: {dict(server_side)}"
    even = total / instances
    assert all(abs(count - even) <= 1 for count in server_side.values()), dict(server_side)
    assert server_side == manager.served_by_instance()
    manager.wait_for_tasks_completion(uuids, timeout=120)
    figures.throughput(total, elapsed, per_instance=dict(sorted(server_side.items())))
