"""Scenario 16: a step result no orchestration can process (it names a queue that does not exist) waits in a backlog
with the results of 10 tasks: the 10 complete at once, and the poison result is archived with its reason after a
bounded number of reads, counted by the instance that archived it."""

from __future__ import annotations

import dataclasses
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import checks
import psycopg
import pytest
from checks import ScenarioRun
from faults import wait_until
from instances import archived_counts
from psycopg.types.json import Jsonb
from records import ServerRecords
from tamper import FAULT_FREE, Fault, assert_sees, each_fault, write
from workloads import slow

from tasker_cluster.testing import BlockingManager, FaultDriver
from tasker_cluster.testing.plugin import ScenarioFigures
from tasker_cluster.testing.provision import ClusterUnderTest

pytestmark = pytest.mark.cluster

GOOD = 10
RESULTS_QUEUE = "orchestration_step_results"
NOWHERE = "worker_nowhere_queue"
# The services' bound (services/orchestration/results.py): a result the database refuses is read this many times.
MAX_READS = 3


@dataclass(frozen=True)
class PoisonRun(ScenarioRun):
    poison_id: int = 0
    orchestration: tuple[str, ...] = ()
    archived_before: int = 0
    archived_after: int = 0
    others_done_s: float = 0.0
    archived_s: float = 0.0


def send_poison_result(database_url: str) -> int:
    poison = {"task_uuid": str(uuid.uuid4()), "step_uuid": str(uuid.uuid4()), "state": "complete", "attempt": 1,
              "queue": NOWHERE}  # fmt: skip
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT * FROM pgmq.send(%s, %s)", (RESULTS_QUEUE, Jsonb(poison))).fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture(scope="module")
def run(
    scenario_manager: BlockingManager, records: ServerRecords, faults: FaultDriver, cluster: ClusterUnderTest
) -> PoisonRun:
    assert cluster.database_url is not None
    orchestration, workers = faults.instances("orchestration"), faults.instances("worker")
    urls = list(cluster.config.orchestration_urls)
    archived_before = archived_counts(urls)
    queued_before = records.queued_results()
    requests = slow(GOOD, ms=0)
    started = time.monotonic()
    # The backlog: the workers hold the steps back until the orchestration is paused, so that the 10 results queue
    # up behind the poison one and are read with it.
    with ExitStack() as paused:
        for name in workers:
            faults.pause(name)
            paused.callback(faults.resume, name)
        created = scenario_manager.create_tasks_concurrent(requests)
        with ExitStack() as orchestration_paused:
            for name in orchestration:
                faults.pause(name)
                orchestration_paused.callback(faults.resume, name)
            poison_id = send_poison_result(cluster.database_url)
            paused.close()
            wait_until(
                lambda: records.queued_results() >= queued_before + GOOD + 1,
                timeout=30,
                what=f"{GOOD} results are queued behind the poison one",
            )
        resumed = time.monotonic()
    uuids = [task.task_uuid for task in created]
    scenario_manager.wait_for_tasks_completion(uuids, timeout=60)
    others_done_s = time.monotonic() - resumed
    wait_until(lambda: records.archived_result(poison_id) is not None, timeout=60, what="the poison is archived")
    archived_s = time.monotonic() - resumed
    base = ScenarioRun.of(scenario_manager, requests, created, time.monotonic() - started)
    return PoisonRun(
        **vars(base),
        poison_id=poison_id,
        orchestration=tuple(orchestration),
        archived_before=archived_before,
        archived_after=archived_counts(urls),
        others_done_s=others_done_s,
        archived_s=archived_s,
    )


def check(run: PoisonRun, records: ServerRecords) -> None:
    """The good tasks as if nothing had happened; the poison result in the archive after MAX_READS reads, with the
    reason and the instance that archived it, which counted it."""
    checks.fault_free(records, run)
    moved: Any = records.archived_result(run.poison_id)
    assert moved is not None, f"the poison result {run.poison_id} is not in the archive"
    assert moved.message["queue"] == NOWHERE, f"the archive holds {moved.message} as message {run.poison_id}"
    reason = (moved.archived or {}).get("reason", "")
    assert NOWHERE in reason and "does not exist" in reason, f"the poison result was archived with reason {reason!r}"
    assert moved.archived["instance"] in run.orchestration, f"archived by {moved.archived['instance']!r}"
    assert moved.read_ct == MAX_READS, f"the poison result was archived after {moved.read_ct} reads, not {MAX_READS}"
    assert run.archived_after == run.archived_before + 1, (
        f"the instances count {run.archived_after - run.archived_before} archived results, not 1"
    )


def test_a_poison_result_in_a_backlog_holds_up_no_other_task_and_is_archived_with_its_reason(
    run: PoisonRun, records: ServerRecords, figures: ScenarioFigures
) -> None:
    check(run, records)
    figures.report(
        tasks=GOOD,
        others_done_s=f"{run.others_done_s:.2f}",
        poison_archived_s=f"{run.archived_s:.2f}",
        poison_reads=records.archived_result(run.poison_id).read_ct,
    )


def _poison_dropped(records: ServerRecords, run: PoisonRun) -> PoisonRun:
    """The poison result deleted rather than archived: lost without a trace."""
    write(records, "unarchive", msg_id=run.poison_id)
    return run


def _archived_without_reason(records: ServerRecords, run: PoisonRun) -> PoisonRun:
    write(records, "forget_archive_reason", msg_id=run.poison_id)
    return run


def _archived_at_once(records: ServerRecords, run: PoisonRun) -> PoisonRun:
    """Archived at its first failure, before the bound of reads: a refusal a moment could cure gets no chance."""
    write(records, "archived_after_one_read", msg_id=run.poison_id)
    return run


def _not_counted(records: ServerRecords, run: PoisonRun) -> PoisonRun:
    return dataclasses.replace(run, archived_after=run.archived_before)


@each_fault(
    *FAULT_FREE,
    Fault("the poison result dropped", _poison_dropped, r"is not in the archive"),
    Fault("archived without its reason", _archived_without_reason, r"archived with reason ''"),
    Fault("archived at its first read", _archived_at_once, r"after 1 reads"),
    Fault("archived but not counted", _not_counted, r"count 0 archived results"),
)
def test_scenario_16_sees(fault: Fault, run: PoisonRun, records: ServerRecords) -> None:
    assert_sees(fault, check, run, records)
