"""Scenario 12: a worker paused with SIGSTOP while it holds claimed steps, past their visibility timeout, then resumed:
other workers take the steps over, its late results are refused (and the refusal is in the transitions), and no
step completes twice."""

from __future__ import annotations

import time

import pytest
from faults import wait_until
from pauses import paused
from records import ServerRecords
from workloads import slow

from tasker_cluster.testing import BlockingManager
from tasker_cluster.testing.plugin import ScenarioFigures
from tasker_cluster.testing.provision import ClusterUnderTest

pytestmark = pytest.mark.cluster

TASKS = 40
# Long enough that the victim surely holds steps when it is paused, short enough to finish soon once it resumes.
STEP_MS = 1500
# The workers' visibility timeout (TASKER_WORKER_VISIBILITY_TIMEOUT's default) is 5 s: the pause outlasts it.
TAKEOVER_TIMEOUT_S = 60


def test_a_paused_workers_late_results_are_refused_visibly_and_no_step_completes_twice(
    manager: BlockingManager, records: ServerRecords, faults: ClusterUnderTest, figures: ScenarioFigures
) -> None:
    uuids = [task.task_uuid for task in manager.create_tasks_concurrent(slow(TASKS, STEP_MS))]
    wait_until(lambda: records.running_steps(uuids), timeout=30, what="a worker runs a step")
    # The busiest worker, so the pause surely catches steps in flight.
    [(victim, _)] = records.claims_per_instance(uuids).most_common(1)
    assert victim in faults.instance_names("worker")

    with paused(faults, [victim]):
        paused_at = time.monotonic()
        held = {(r.task_uuid, r.step_name): r.attempt for r in records.running_steps(uuids) if r.instance == victim}

        def released() -> bool:
            running = {(r.task_uuid, r.step_name): r.attempt for r in records.running_steps(uuids)}
            # Taken over (a later attempt runs, or already finished); or finished by the victim just before.
            return all(running.get(step) != attempt for step, attempt in held.items())

        wait_until(released, timeout=TAKEOVER_TIMEOUT_S, what=f"the steps {victim} holds are taken over")
        paused_s = time.monotonic() - paused_at
    finished = manager.wait_for_tasks_completion(uuids, timeout=120)
    taken_over = [
        h for h in records.step_histories(uuids) if (h.task_uuid, h.step_name) in held and h.claims()[-1][1] != victim
    ]

    def refused() -> int:
        return sum(len(h.refused()) for h in records.step_histories(uuids))

    # The victim records its late outcomes as soon as its steps' sleeps end, moments after it resumes.
    wait_until(lambda: refused() >= len(taken_over), timeout=30, what=f"{victim} has tried its late writes")
    histories = records.step_histories(uuids)

    assert {task.status for task in finished} == {"complete"}
    assert taken_over, f"no step {victim} held was taken over: the scenario proved nothing"
    completed_twice = [h.changes for h in histories if h.completions() != 1]
    assert completed_twice == [], "no step completes twice"
    for history in histories:
        claims = history.claims()
        assert [attempt for attempt, _ in claims] == list(range(1, len(claims) + 1)), history.changes
        for attempt, instance in history.refused():
            assert instance == victim, history.changes
            assert (attempt, victim) in claims and claims[-1][0] > attempt, "refused: an attempt taken over"
            [(done_attempt, _, _, finisher)] = [change for change in history.changes if change[2] == "complete"]
            assert finisher != victim and done_attempt > attempt, history.changes
    figures.report(
        tasks=TASKS,
        paused=victim,
        held=len(held),
        taken_over=len(taken_over),
        paused_s=f"{paused_s:.2f}",
        refused_late_writes=refused(),
    )
