"""Comparing one task as seen by several instances: every field, every step, not just the status."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tasker_cluster.testing.models import Task
from tasker_cluster.words import counted

# Fields fixed when the task is created: they must match on every instance even while the task is still running.
CREATION_FIELDS: frozenset[str] = frozenset({"task_uuid", "namespace", "name", "version", "context", "created_by"})


@dataclass(frozen=True)
class FieldDifference:
    field: str
    values: Mapping[str, Any]

    def describe(self) -> str:
        shown = ", ".join(f"{instance}={value!r}" for instance, value in self.values.items())
        return f"{self.field}: {shown}"


def flatten_task(task: Task) -> dict[str, Any]:
    """Every field as `name -> value`, steps keyed by step name (`steps[b].attempts`), so a difference names it."""
    flat = {key: value for key, value in task.model_dump().items() if key != "steps"}
    for step in task.steps:
        for key, value in step.model_dump().items():
            if key != "name":
                flat[f"steps[{step.name}].{key}"] = value
    flat["steps"] = sorted(step.name for step in task.steps)
    return flat


def compare_tasks(
    views: Mapping[str, Task], only: Iterable[str] | None = None, ignore: Iterable[str] = ()
) -> list[FieldDifference]:
    """Fields on which the instances (`views`: instance -> task) disagree; a field missing on one counts."""
    flat = {instance: flatten_task(task) for instance, task in views.items()}
    wanted = set(only) if only is not None else None
    skipped = set(ignore)
    names = sorted({name for fields in flat.values() for name in fields})
    differences = []
    for name in names:
        base = name.split(".", 1)[0].split("[", 1)[0]
        if (wanted is not None and base not in wanted) or base in skipped or name in skipped:
            continue
        values = {instance: fields.get(name, "<missing>") for instance, fields in flat.items()}
        if len({repr(value) for value in values.values()}) > 1:
            differences.append(FieldDifference(name, values))
    return differences


def describe_differences(task_uuid: str, differences: list[FieldDifference]) -> str:
    lines = [f"task {task_uuid} differs between instances on {counted(len(differences), 'field')}:"]
    lines += [f"  {difference.describe()}" for difference in differences]
    return "\n".join(lines)
