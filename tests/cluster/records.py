"""Server-side records of the cluster's database, for scenarios to assert on: who created what, every transition.

`tampered()` gives the same view with faults written behind the services' back in a transaction that is rolled
back at the end: what the checks would read had the fault happened, with nothing left in the database.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row

from tasker_cluster.services.common.queries import parse_queries

OUTCOMES = frozenset({"complete", "waiting_for_retry", "error"})
# A late outcome the database turned away (queries.sql, record_outcomes): a record of a write, not a state.
REFUSED = "refused"


@cache
def queries(file: str) -> dict[str, str]:
    return parse_queries(Path(__file__).with_name(file).read_text())


@dataclass(frozen=True)
class StepHistory:
    """One step's recorded changes in order: (attempt, from state, to state, instance) each; and apart, the outcomes
    the database refused as late (their attempt had been taken over): (attempt, state it stayed in, instance)."""

    task_uuid: str
    step_name: str
    changes: list[tuple[int, str | None, str, str]]
    refused: list[tuple[int, str | None, str]] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"step {self.task_uuid}/{self.step_name}"

    def states(self) -> tuple[str, ...]:
        return tuple(to_state for _, _, to_state, _ in self.changes)

    def claims(self) -> list[tuple[int, str]]:
        """(attempt, instance) of every claim: a move into in_progress."""
        return [(attempt, instance) for attempt, _, to_state, instance in self.changes if to_state == "in_progress"]

    def outcomes(self) -> Counter[int]:
        """How many outcomes (complete, waiting_for_retry, error) each attempt recorded."""
        return Counter(attempt for attempt, from_state, to_state, _ in self.changes if to_state in OUTCOMES)

    def claimed_by(self, instance: str) -> bool:
        return any(claimer == instance for _, claimer in self.claims())


class ServerRecords:
    """Reads through a new connection per query, or through `connection` when given (a tampered view)."""

    def __init__(self, database_url: str, connection: psycopg.Connection[Any] | None = None) -> None:
        self.database_url = database_url
        self._connection = connection

    def rows(self, name: str, file: str = "records.sql", **params: Any) -> list[Any]:
        if self._connection is not None:
            return self._connection.execute(queries(file)[name], params).fetchall()
        with psycopg.connect(self.database_url, row_factory=namedtuple_row) as conn:
            return conn.execute(queries(file)[name], params).fetchall()

    def rows_changed(self, name: str, file: str, **params: Any) -> int:
        """Run a writing statement through the tampered connection; how many rows it changed."""
        assert self._connection is not None, "writes go through tampered() only, never committed"
        return self._connection.execute(queries(file)[name], params).rowcount

    @contextmanager
    def tampered(self) -> Iterator[ServerRecords]:
        """This view on one connection whose transaction is rolled back at exit, whatever was written through it."""
        conn = psycopg.connect(self.database_url, row_factory=namedtuple_row)
        try:
            yield ServerRecords(self.database_url, conn)
        finally:
            conn.rollback()
            conn.close()

    def tasks(self, uuids: Sequence[str]) -> dict[str, Any]:
        return {row.task_uuid: row for row in self.rows("tasks", uuids=list(uuids))}

    def marked(self, marker: str) -> list[str]:
        """UUIDs of every task carrying `marker` among its tags."""
        return [row.task_uuid for row in self.rows("marked_tasks", marker=marker)]

    def created_by(self, uuids: Sequence[str]) -> Counter[str]:
        return Counter(row.created_by for row in self.tasks(uuids).values())

    def steps(self, uuids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Per task, its step rows by step name."""
        grouped: dict[str, dict[str, Any]] = defaultdict(dict)
        for row in self.rows("steps", uuids=list(uuids)):
            grouped[row.task_uuid][row.name] = row
        return dict(grouped)

    def step_histories(self, uuids: Sequence[str]) -> list[StepHistory]:
        grouped: dict[str, list[Any]] = defaultdict(list)
        for row in self.rows("step_transitions", uuids=list(uuids)):
            grouped[row.step_uuid].append(row)
        return [
            StepHistory(
                rows[0].task_uuid,
                rows[0].step_name,
                [(row.attempt, row.from_state, row.to_state, row.instance) for row in rows if row.to_state != REFUSED],
                [(row.attempt, row.from_state, row.instance) for row in rows if row.to_state == REFUSED],
            )
            for rows in grouped.values()
        ]

    def task_histories(self, uuids: Sequence[str]) -> dict[str, list[str]]:
        histories: dict[str, list[str]] = defaultdict(list)
        for row in self.rows("task_transitions", uuids=list(uuids)):
            histories[row.task_uuid].append(row.to_status)
        return dict(histories)

    def claims_per_instance(self, uuids: Sequence[str]) -> Counter[str]:
        return Counter({row.instance: row.claims for row in self.rows("claims_per_instance", uuids=list(uuids))})

    def unsettled_steps(self, uuids: Sequence[str]) -> int:
        return self.rows("unsettled_steps", uuids=list(uuids))[0][0]

    def running_steps(self, uuids: Sequence[str]) -> list[Any]:
        """(task_uuid, step_name, attempt, instance) of every step of these tasks now in progress."""
        return self.rows("running_steps", uuids=list(uuids))

    def queued_results(self) -> int:
        return self.rows("queued_results")[0][0]

    def archived_result(self, msg_id: int) -> Any | None:
        """The step result `msg_id` as the results queue's archive holds it, or None while it is not there."""
        rows = self.rows("archived_result", msg_id=msg_id)
        return rows[0] if rows else None
