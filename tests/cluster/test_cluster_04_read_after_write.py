"""Scenario 4: read-after-write from every instance, immediately after each creation, against the database's
record of the task."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import checks
import pytest
from checks import ScenarioRun
from records import ServerRecords
from tamper import FAULT_FREE, Fault, assert_sees, each_fault
from workloads import linear

from tasker_cluster.testing import CREATION_FIELDS, BlockingManager, Task
from tasker_cluster.testing.plugin import ScenarioFigures

pytestmark = pytest.mark.cluster

TASKS = 20


@dataclass(frozen=True)
class ReadAfterWriteRun(ScenarioRun):
    # Per task, what each orchestration instance (by URL) answered right after the creation returned.
    first_reads: Mapping[str, Mapping[str, Task]] = field(default_factory=dict)
    reads_s: float = 0.0


@pytest.fixture(scope="module")
def run(scenario_manager: BlockingManager) -> ReadAfterWriteRun:
    requests = linear(TASKS)
    started = time.monotonic()
    created, first_reads = [], {}
    for request in requests:
        task = scenario_manager.create_task(request)
        first_reads[task.task_uuid] = scenario_manager.call(scenario_manager.cluster.fetch_from_all, task.task_uuid)
        created.append(task)
    reads_s = time.monotonic() - started
    scenario_manager.wait_for_tasks_completion([task.task_uuid for task in created], timeout=120)
    base = ScenarioRun.of(scenario_manager, requests, created, time.monotonic() - started)
    return ReadAfterWriteRun(**vars(base), first_reads=first_reads, reads_s=reads_s)


def check(run: ReadAfterWriteRun, records: ServerRecords, instances: int) -> None:
    checks.fault_free(records, run)
    rows = records.tasks(run.uuids)
    for uuid, views in run.first_reads.items():
        assert len(views) == instances, f"task {uuid} was read from {len(views)} of {instances} instances"
        # The fields fixed at creation, as the database holds them.
        stored = {key: getattr(rows[uuid], key) for key in sorted(CREATION_FIELDS)}
        for url, view in views.items():
            served = {key: getattr(view, key) for key in sorted(CREATION_FIELDS)}
            assert served == stored, f"right after its creation, {url} served task {uuid} as {served}: {stored}"


def test_every_instance_returns_a_task_the_moment_it_was_created_and_its_result_once_complete(
    run: ReadAfterWriteRun, records: ServerRecords, scenario_manager: BlockingManager, figures: ScenarioFigures
) -> None:
    check(run, records, scenario_manager.orchestration_count())
    checks.served_as_recorded(scenario_manager, records, run.uuids)
    figures.throughput(TASKS, run.reads_s, reads_per_task=scenario_manager.orchestration_count())


def _a_stale_first_read(records: ServerRecords, run: ReadAfterWriteRun) -> ReadAfterWriteRun:
    """One instance answered, right after the creation, with another instance's name as the creator."""
    uuid, views = next(iter(run.first_reads.items()))
    url, view = next(iter(views.items()))
    stale = view.model_copy(update={"created_by": "orchestration-elsewhere"})
    return dataclasses.replace(run, first_reads={**run.first_reads, uuid: {**views, url: stale}})


def _a_missed_first_read(records: ServerRecords, run: ReadAfterWriteRun) -> ReadAfterWriteRun:
    uuid, views = next(iter(run.first_reads.items()))
    return dataclasses.replace(run, first_reads={**run.first_reads, uuid: dict(list(views.items())[1:])})


@each_fault(
    *FAULT_FREE,
    Fault("a stale read right after the creation", _a_stale_first_read, "right after its creation"),
    Fault(
        "an instance that did not answer right after the creation",
        _a_missed_first_read,
        r"read from \d+ of \d+ instances",
    ),
)
def test_scenario_04_sees(
    fault: Fault, run: ReadAfterWriteRun, records: ServerRecords, scenario_manager: BlockingManager
) -> None:
    assert_sees(fault, lambda run, records: check(run, records, scenario_manager.orchestration_count()), run, records)
