"""Server-side records of the cluster's database, for scenarios to assert on: who created what, every transition."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row

from tasker_cluster.services.common.queries import parse_queries

RECORDS_SQL = Path(__file__).with_name("records.sql")


@cache
def _queries() -> dict[str, str]:
    return parse_queries(RECORDS_SQL.read_text())


@dataclass(frozen=True)
class StepHistory:
    """One step's recorded states in order, with the attempt and instance of each change."""

    task_uuid: str
    step_name: str
    changes: list[tuple[int, str | None, str, str]]  # (attempt, from, to, instance)

    def states(self) -> list[str]:
        return [to_state for _, _, to_state, _ in self.changes]

    def claims(self) -> list[tuple[int, str]]:
        """(attempt, instance) of every claim: a move into in_progress."""
        return [(attempt, instance) for attempt, _, to_state, instance in self.changes if to_state == "in_progress"]


class ServerRecords:
    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    def _rows(self, name: str, **params: Any) -> list[Any]:
        with psycopg.connect(self.database_url, row_factory=namedtuple_row) as conn:
            return conn.execute(_queries()[name], params).fetchall()

    def tasks(self, uuids: Sequence[str]) -> dict[str, Any]:
        return {row.task_uuid: row for row in self._rows("tasks", uuids=list(uuids))}

    def created_by(self, uuids: Sequence[str]) -> Counter[str]:
        return Counter(row.created_by for row in self.tasks(uuids).values())

    def tasks_per_key(self, keys: Sequence[str]) -> dict[str, int]:
        return {row.key: row.tasks for row in self._rows("tasks_per_key", keys=list(keys))}

    def step_histories(self, uuids: Sequence[str]) -> list[StepHistory]:
        grouped: dict[str, list[Any]] = defaultdict(list)
        for row in self._rows("step_transitions", uuids=list(uuids)):
            grouped[row.step_uuid].append(row)
        return [
            StepHistory(
                rows[0].task_uuid,
                rows[0].step_name,
                [(row.attempt, row.from_state, row.to_state, row.instance) for row in rows],
            )
            for rows in grouped.values()
        ]

    def task_histories(self, uuids: Sequence[str]) -> dict[str, list[str]]:
        histories: dict[str, list[str]] = defaultdict(list)
        for row in self._rows("task_transitions", uuids=list(uuids)):
            histories[row.task_uuid].append(row.to_status)
        return dict(histories)

    def claims_per_instance(self, uuids: Sequence[str]) -> Counter[str]:
        return Counter({row.instance: row.claims for row in self._rows("claims_per_instance", uuids=list(uuids))})

    def unsettled_steps(self, uuids: Sequence[str]) -> int:
        return self._rows("unsettled_steps", uuids=list(uuids))[0][0]
