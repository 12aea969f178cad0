"""Scenario 12: PostgreSQL killed with `kill -9` mid-burst, then `cluster db up`: every instance reports it and refuses
creations at once, every task accepted before or after completes exactly once, and no instance restarted."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import checks
import pytest
from bursts import create_each, keyed
from checks import ScenarioRun
from faults import wait_until
from instances import Answer, creation_answers, unready_naming, uptimes
from records import ServerRecords
from tamper import EVERY_SCENARIO, Fault, assert_sees, each_fault
from workloads import linear

from tasker_cluster.testing import BlockingManager, CreatedTask, FaultDriver
from tasker_cluster.testing.plugin import ScenarioFigures
from tasker_cluster.testing.provision import ClusterUnderTest

pytestmark = pytest.mark.cluster

TASKS = 200
KILL_AFTER = 40
# Uptimes are read over HTTP before and after: an instance that kept running aged as much as the wall clock, less the
# time the two reads themselves took.
UPTIME_SLACK_S = 1.0


@dataclass(frozen=True)
class DatabaseCrashRun(ScenarioRun):
    # The database crash may leave an attempt of any worker without an outcome (a claim committed as it died).
    workers: tuple[str, ...] = ()
    refusals: tuple[Answer, ...] = ()
    # Creations the harness gave up on while the database was down; each was sent again, unchanged, once it was back.
    sent_again: int = 0
    uptime_before: dict[str, float] = field(default_factory=dict)
    uptime_after: dict[str, float] = field(default_factory=dict)
    aged_s: float = 0.0
    unready_after_s: float = 0.0
    ready_after_s: float = 0.0


@pytest.fixture(scope="module")
def run(scenario_manager: BlockingManager, faults: FaultDriver, cluster: ClusterUnderTest) -> DatabaseCrashRun:
    urls = [*cluster.config.orchestration_urls, *cluster.config.worker_urls]
    requests = keyed(linear(TASKS))
    before, probed = uptimes(urls), time.monotonic()
    started = time.monotonic()
    burst = scenario_manager.submit(create_each, scenario_manager.manager, requests, 8)
    wait_until(lambda: len(scenario_manager.served) >= KILL_AFTER, timeout=30, what=f"{KILL_AFTER} tasks are created")
    killed_at = time.monotonic()
    faults.kill_database()
    try:
        wait_until(lambda: unready_naming(urls, "database"), timeout=30, what="every instance reports the database")
        unready_after = time.monotonic() - killed_at
        probe = linear(1)[0].model_copy(update={"tags": [scenario_manager.marker]})
        refusals = creation_answers(cluster.config.orchestration_urls, probe)
    finally:
        faults.start_database()
    up_at = time.monotonic()
    scenario_manager.wait_for_healthy(60)
    ready_after = time.monotonic() - up_at
    outcomes = burst.result(timeout=120)
    refused = [index for index, outcome in enumerate(outcomes) if not isinstance(outcome, CreatedTask)]
    sent_again = scenario_manager.create_tasks_concurrent([requests[index] for index in refused])
    for index, task in zip(refused, sent_again, strict=True):
        outcomes[index] = task
    created = [outcome for outcome in outcomes if isinstance(outcome, CreatedTask)]
    scenario_manager.wait_for_tasks_completion([task.task_uuid for task in created], timeout=180)
    after = uptimes(urls)
    base = ScenarioRun.of(scenario_manager, requests, created, time.monotonic() - started)
    return DatabaseCrashRun(
        **vars(base),
        workers=tuple(faults.instances("worker")),
        refusals=tuple(refusals),
        sent_again=len(refused),
        uptime_before=before,
        uptime_after=after,
        aged_s=time.monotonic() - probed,
        unready_after_s=unready_after,
        ready_after_s=ready_after,
    )


def check(run: DatabaseCrashRun, records: ServerRecords) -> None:
    """Refused at once while down; afterwards every request created exactly one task, each completed with each step
    completed once; every instance is the process it was before the crash."""
    assert run.refusals, "no creation was sent while the database was down: the scenario proved nothing"
    for answer in run.refusals:
        assert (answer.status, answer.retry_after) == (503, "1") and answer.error.startswith("database unavailable"), (
            f"{answer.url} answered a creation while the database was down with {answer}, not 503 database "
            "unavailable and Retry-After"
        )
    checks.recorded_correctly(records, run, killed=set(run.workers))
    checks.finished_as(records, run.uuids, {"complete"})
    checks.steps_took_clean_paths(records, run, exempt=taken_over(records, run))
    for name, before in run.uptime_before.items():
        aged = run.uptime_after.get(name, 0.0) - before
        assert aged >= run.aged_s - UPTIME_SLACK_S, (
            f"{name} restarted: its uptime grew {aged:.1f} s while {run.aged_s:.1f} s passed"
        )


def taken_over(records: ServerRecords, run: ScenarioRun) -> set[tuple[str, str]]:
    """The steps an attempt of which ended without an outcome and was taken over: run again, as a crash allows."""
    return {
        (history.task_uuid, history.step_name)
        for history in records.step_histories(run.uuids)
        if any(history.outcomes()[attempt] == 0 for attempt, _ in history.claims()[:-1])
    }


def test_a_database_killed_mid_burst_and_brought_back_loses_no_accepted_task_and_restarts_no_instance(
    run: DatabaseCrashRun, records: ServerRecords, figures: ScenarioFigures
) -> None:
    check(run, records)
    figures.throughput(
        len(run.uuids),
        run.seconds,
        unready_after_s=f"{run.unready_after_s:.2f}",
        ready_after_db_up_s=f"{run.ready_after_s:.2f}",
        sent_again=run.sent_again,
        retried_creations=run.retries.count("create"),
        steps_run_again=len(taken_over(records, run)),
    )


def _restarted(records: ServerRecords, run: DatabaseCrashRun) -> DatabaseCrashRun:
    """One instance's uptime started over: it was restarted (or restarted itself) during the outage."""
    name = next(iter(run.uptime_after))
    return dataclasses.replace(run, uptime_after={**run.uptime_after, name: 0.5})


def _accepted_while_down(records: ServerRecords, run: DatabaseCrashRun) -> DatabaseCrashRun:
    """A creation answered 503 only after waiting for the pool, as before: 'every database connection is busy'."""
    busy = run.refusals[0]._replace(error="every database connection is busy")
    return dataclasses.replace(run, refusals=(busy, *run.refusals[1:]))


@each_fault(
    *EVERY_SCENARIO,
    Fault("an instance restarted during the outage", _restarted, r"restarted: its uptime grew"),
    Fault("a creation not refused as database unavailable", _accepted_while_down, r"not 503 database unavailable"),
)
def test_scenario_12_sees(fault: Fault, run: DatabaseCrashRun, records: ServerRecords) -> None:
    assert_sees(fault, check, run, records)
