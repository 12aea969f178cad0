"""The example handlers the shipped templates use."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tasker_cluster.services.workflow.examples import EXAMPLE_HANDLERS
from tasker_cluster.services.workflow.handlers import HandlerRegistry, PermanentStepError, StepError, StepInput


def run(
    handler: str, context: dict[str, Any] | None = None, dependencies: dict[str, Any] | None = None, attempt: int = 1
) -> Any:
    function = EXAMPLE_HANDLERS.get(handler)
    assert function is not None
    value = function(StepInput("t", "s", attempt, context or {}, dependencies or {}))
    return asyncio.run(value) if asyncio.iscoroutine(value) else value


def test_the_linear_sequence_squares_the_even_number_then_each_result() -> None:
    first = run("square_even_number", {"even_number": 6})
    assert [first, run("square_previous", dependencies={"a": first})] == [36, 1296]


@pytest.mark.parametrize("value", [3, "4", None, True, 2.0])
def test_anything_but_an_even_integer_fails_permanently(value: object) -> None:
    with pytest.raises(PermanentStepError, match="even integer"):
        run("square_even_number", {"even_number": value})


def test_the_diamond_join_multiplies_its_branches() -> None:
    assert run("multiply_dependencies", dependencies={"b": 16, "c": 16}) == 256


def test_fail_first_attempt_fails_once_then_reports_the_attempt_that_worked() -> None:
    with pytest.raises(StepError):
        run("fail_first_attempt", attempt=1)
    assert run("fail_first_attempt", attempt=2) == {"succeeded_on_attempt": 2}


def test_sleep_ms_refuses_a_duration_it_cannot_honour() -> None:
    assert run("sleep_ms", {"ms": 1}) == {"slept_ms": 1}
    with pytest.raises(PermanentStepError):
        run("sleep_ms", {"ms": -5})


def test_a_handler_name_can_be_registered_only_once() -> None:
    registry = HandlerRegistry()
    registry.register("x")(lambda step: None)
    with pytest.raises(ValueError, match="twice"):
        registry.register("x")(lambda step: None)
