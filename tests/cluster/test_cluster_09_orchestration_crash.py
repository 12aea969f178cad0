"""Scenario 8: `kill -9` of an orchestration instance mid-burst; the others finish everything, then the restarted
instance rejoins and serves its share."""

from __future__ import annotations

import time

import pytest
from faults import wait_until
from records import ServerRecords
from workloads import linear

from tasker_cluster.testing import BlockingManager, FaultDriver
from tasker_cluster.testing.plugin import ScenarioFigures

pytestmark = pytest.mark.cluster

TASKS = 100
KILL_AFTER = 20
REJOIN_TASKS = 20


def test_the_cluster_survives_a_killed_orchestration_instance_which_then_rejoins(
    manager: BlockingManager, records: ServerRecords, faults: FaultDriver, figures: ScenarioFigures
) -> None:
    victim = faults.instances("orchestration")[0]
    started = time.monotonic()
    burst = manager.submit(manager.manager.create_tasks_concurrent, linear(TASKS), 8)
    wait_until(lambda: len(manager.served) >= KILL_AFTER, timeout=30, what=f"{KILL_AFTER} tasks are created")
    faults.kill(victim)
    try:
        created = burst.result(timeout=120)
        uuids = [task.task_uuid for task in created]
        finished = manager.wait_for_tasks_completion(uuids, timeout=120)
    finally:
        faults.start(victim)
    elapsed = time.monotonic() - started

    assert len(set(uuids)) == TASKS
    assert set(records.tasks_per_key([task.idempotency_key for task in created]).values()) == {1}
    assert {task.status for task in finished} == {"complete"}
    rerun = [h.changes for h in records.step_histories(uuids) if len(h.claims()) != 1]
    assert rerun == [], "results the victim held are advanced again, harmlessly: no step runs twice"
    before = records.created_by(uuids)
    assert before[victim] > 0, "the victim created nothing before it died: the scenario proved nothing"

    manager.wait_for_healthy(60)
    rejoined = [task.task_uuid for task in manager.create_tasks_concurrent(linear(REJOIN_TASKS))]
    share = records.created_by(rejoined)
    assert abs(share[victim] - REJOIN_TASKS / manager.orchestration_count()) <= 1, dict(share)
    manager.wait_for_tasks_completion(rejoined, timeout=120)
    figures.throughput(
        TASKS,
        elapsed,
        killed=victim,
        retried_creations=sum(task.attempts > 1 for task in created),
        share_after_rejoin=share[victim],
    )
