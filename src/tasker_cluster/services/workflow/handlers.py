"""Step handlers: plain functions registered by name, called with what their step needs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

Handler = Callable[["StepInput"], Any] | Callable[["StepInput"], Awaitable[Any]]


@dataclass(frozen=True)
class StepInput:
    """What a handler sees: the task's context, its dependencies' results by step name, and which attempt this is."""

    task_uuid: str
    step_name: str
    attempt: int
    context: dict[str, Any]
    dependencies: dict[str, Any]

    def only_dependency(self) -> Any:
        """The result of the single step this one depends on."""
        if len(self.dependencies) != 1:
            count = len(self.dependencies)
            raise PermanentStepError(f"step {self.step_name!r} needs exactly one dependency, has {count}")
        return next(iter(self.dependencies.values()))


class StepError(Exception):
    """A handler failure worth retrying (any other exception counts as one too)."""


class PermanentStepError(StepError):
    """A handler failure no retry can fix (bad input): the step goes to `error` at once."""


class HandlerRegistry:
    """Handlers by name. A handler returns a JSON-serializable result; an `async def` handler may await."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def register(self, name: str) -> Callable[[Handler], Handler]:
        def add(function: Handler) -> Handler:
            if name in self._handlers:
                raise ValueError(f"handler {name!r} is registered twice")
            self._handlers[name] = function
            return function

        return add

    def get(self, name: str) -> Handler | None:
        return self._handlers.get(name)

    def names(self) -> frozenset[str]:
        return frozenset(self._handlers)
