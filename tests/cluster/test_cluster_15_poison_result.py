"""Scenario 15: a step result no orchestration can process (it names a queue that does not exist) waits in a backlog
with the results of 10 tasks: the 10 complete at once, and the poison result is archived with its reason."""

from __future__ import annotations

import time
import uuid

import httpx
import psycopg
import pytest
from faults import wait_until
from pauses import paused
from psycopg.types.json import Jsonb
from records import ServerRecords
from workloads import slow

from tasker_cluster.testing import BlockingManager
from tasker_cluster.testing.plugin import ScenarioFigures
from tasker_cluster.testing.provision import ClusterUnderTest

pytestmark = pytest.mark.cluster

GOOD = 10
RESULTS_QUEUE = "orchestration_step_results"


def send_poison_result(database_url: str) -> int:
    poison = {"task_uuid": str(uuid.uuid4()), "step_uuid": str(uuid.uuid4()), "state": "complete", "attempt": 1,
              "queue": "worker_nowhere_queue"}  # fmt: skip
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT * FROM pgmq.send(%s, %s)", (RESULTS_QUEUE, Jsonb(poison))).fetchone()
    assert row is not None
    return int(row[0])


def archived_counts(urls: list[str]) -> int:
    """Results the orchestration instances have archived, as their /health/detailed pages count them."""
    with httpx.Client(timeout=5.0) as client:
        pages = [client.get(f"{url}/health/detailed").json() for url in urls]
    return sum(consumer["archived"] for page in pages for consumer in page["consumers"])


def test_a_poison_result_in_a_backlog_holds_up_no_other_task_and_is_archived_with_its_reason(
    manager: BlockingManager, records: ServerRecords, faults: ClusterUnderTest, figures: ScenarioFigures
) -> None:
    assert faults.database_url is not None
    orchestration, workers = faults.instance_names("orchestration"), faults.instance_names("worker")
    urls = [faults.url_of(name) for name in orchestration]
    archived_before = archived_counts(urls)
    queued_before = records.queued_results()
    # The backlog: the workers hold the steps back until the orchestration is paused, so that the 10 results queue
    # up behind the poison one and are read with it.
    with paused(faults, workers) as paused_workers:
        uuids = [task.task_uuid for task in manager.create_tasks_concurrent(slow(GOOD, ms=0))]
        with paused(faults, orchestration):
            poison_id = send_poison_result(faults.database_url)
            paused_workers.resume()
            wait_until(
                lambda: records.queued_results() >= queued_before + GOOD + 1,
                timeout=30,
                what=f"{GOOD} results are queued behind the poison one",
            )
    resumed = time.monotonic()
    finished = manager.wait_for_tasks_completion(uuids, timeout=60)
    others_s = time.monotonic() - resumed
    moved = None

    def archived() -> bool:
        nonlocal moved
        moved = records.archived_result(poison_id)
        return moved is not None

    wait_until(archived, timeout=60, what="the poison result is archived")
    archived_s = time.monotonic() - resumed

    assert {task.status for task in finished} == {"complete"}
    assert moved is not None
    reason = moved.archived["reason"]
    assert "worker_nowhere_queue" in reason and "does not exist" in reason, reason
    assert moved.archived["instance"] in orchestration
    assert moved.read_ct == 3, "archived after a bounded number of reads"
    assert archived_counts(urls) == archived_before + 1
    figures.report(
        tasks=GOOD,
        others_done_s=f"{others_s:.2f}",
        poison_archived_s=f"{archived_s:.2f}",
        poison_reads=moved.read_ct,
    )
