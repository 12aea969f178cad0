"""Scenario 7: `kill -9` of a worker mid-burst; its in-flight steps re-run elsewhere and every task completes."""

from __future__ import annotations

import time

import pytest
from faults import wait_until
from records import ServerRecords
from workloads import slow

from tasker_cluster.testing import BlockingManager, FaultDriver
from tasker_cluster.testing.plugin import ScenarioFigures

pytestmark = pytest.mark.cluster

TASKS = 60
# Long enough that the victim surely holds steps in flight when it dies.
STEP_MS = 1500
MAX_ATTEMPTS = 3  # config/templates/examples/slow.toml


def test_a_killed_workers_steps_run_again_on_another_worker_and_every_task_completes(
    manager: BlockingManager, records: ServerRecords, faults: FaultDriver, figures: ScenarioFigures
) -> None:
    started = time.monotonic()
    uuids = [task.task_uuid for task in manager.create_tasks_concurrent(slow(TASKS, STEP_MS))]
    wait_until(lambda: records.claims_per_instance(uuids), timeout=30, what="a worker claims a step")
    # The busiest worker, so the crash surely interrupts steps in flight.
    [(victim, _)] = records.claims_per_instance(uuids).most_common(1)
    assert victim in faults.instances("worker")
    faults.kill(victim)
    try:
        finished = manager.wait_for_tasks_completion(uuids, timeout=120)
    finally:
        faults.start(victim)
    elapsed = time.monotonic() - started

    assert {task.status for task in finished} == {"complete"}
    rerun = []
    for history in records.step_histories(uuids):
        claims = history.claims()
        assert [attempt for attempt, _ in claims] == list(range(1, len(claims) + 1)), history.changes
        assert len(claims) <= MAX_ATTEMPTS, history.changes
        assert history.states()[-1] == "complete"
        finisher = history.changes[-1][3]
        if victim in (instance for _, instance in claims) and finisher != victim:
            rerun.append(history)
            assert claims[-1][1] != victim and claims[-1][0] >= 2, history.changes
    assert rerun, f"{victim} was killed with no step in flight: the scenario proved nothing"
    figures.throughput(TASKS, elapsed, killed=victim, steps_rerun_elsewhere=len(rerun))
