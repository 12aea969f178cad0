"""Scenario 9: `kill -9` of an orchestration instance mid-burst; the others finish everything, then the restarted
instance rejoins and serves its share."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import checks
import pytest
from checks import ScenarioRun
from faults import wait_until
from records import ServerRecords
from tamper import EVERY_SCENARIO, Fault, assert_sees, each_fault, write
from workloads import linear

from tasker_cluster.testing import BlockingManager, FaultDriver
from tasker_cluster.testing.plugin import ScenarioFigures

pytestmark = pytest.mark.cluster

TASKS = 100
KILL_AFTER = 20
REJOIN_TASKS = 20


@dataclass(frozen=True)
class OrchestrationCrashRun(ScenarioRun):
    victim: str = ""
    instances: int = 0
    # Who created the tasks sent after the victim rejoined, as the database recorded it.
    rejoined: tuple[str, ...] = ()
    share_after_rejoin: Counter[str] = field(default_factory=Counter)


@pytest.fixture(scope="module")
def run(scenario_manager: BlockingManager, records: ServerRecords, faults: FaultDriver) -> OrchestrationCrashRun:
    victim = faults.instances("orchestration")[0]
    burst = linear(TASKS)
    started = time.monotonic()
    pending = scenario_manager.submit(scenario_manager.manager.create_tasks_concurrent, burst, 8)
    wait_until(lambda: len(scenario_manager.served) >= KILL_AFTER, timeout=30, what=f"{KILL_AFTER} tasks are created")
    faults.kill(victim)
    try:
        created = pending.result(timeout=120)
        scenario_manager.wait_for_tasks_completion([task.task_uuid for task in created], timeout=120)
    finally:
        faults.start(victim)
    scenario_manager.wait_for_healthy(60)
    later = linear(REJOIN_TASKS)
    rejoined = scenario_manager.create_tasks_concurrent(later)
    scenario_manager.wait_for_tasks_completion([task.task_uuid for task in rejoined], timeout=120)
    base = ScenarioRun.of(scenario_manager, [*burst, *later], [*created, *rejoined], time.monotonic() - started)
    return OrchestrationCrashRun(
        **vars(base),
        victim=victim,
        instances=scenario_manager.orchestration_count(),
        rejoined=tuple(task.task_uuid for task in rejoined),
    )


def check(run: OrchestrationCrashRun, records: ServerRecords) -> None:
    """Nothing lost or duplicated by the retried creations, no step run twice (the results the victim held are
    advanced again, harmlessly), and the restarted victim creates its share again."""
    checks.recorded_correctly(records, run)
    checks.finished_as(records, run.uuids, {"complete"})
    checks.steps_took_clean_paths(records, run)
    burst = run.uuids[:TASKS]
    assert records.created_by(burst)[run.victim] > 0, f"{run.victim} created nothing before it died: proved nothing"
    share = records.created_by(run.rejoined)
    assert abs(share[run.victim] - REJOIN_TASKS / run.instances) <= 1, (
        f"after its restart {run.victim} created {share[run.victim]} of {REJOIN_TASKS}: {dict(share)}"
    )


def test_the_cluster_survives_a_killed_orchestration_instance_which_then_rejoins(
    run: OrchestrationCrashRun, records: ServerRecords, figures: ScenarioFigures
) -> None:
    check(run, records)
    figures.throughput(
        len(run.uuids),
        run.seconds,
        killed=run.victim,
        retried_creations=run.retries.count("create"),
        retried_reads=run.retries.count("read"),
        replayed=sum(task.replayed for task in run.created),
        share_after_rejoin=records.created_by(run.rejoined)[run.victim],
    )


def _victim_left_out(records: ServerRecords, run: OrchestrationCrashRun) -> OrchestrationCrashRun:
    """The restarted victim's creations recorded as another instance's: it did not rejoin."""
    other = next(name for name in records.created_by(run.rejoined) if name != run.victim)
    for uuid in run.rejoined:
        write(records, "recreate_by", task_uuid=uuid, instance=other)
    return run


@each_fault(*EVERY_SCENARIO, Fault("a restarted instance that serves nothing", _victim_left_out, r"after its restart"))
def test_scenario_09_sees(fault: Fault, run: OrchestrationCrashRun, records: ServerRecords) -> None:
    assert_sees(fault, check, run, records)
