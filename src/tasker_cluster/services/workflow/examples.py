"""The handlers the shipped templates (config/templates/examples) use."""

from __future__ import annotations

import asyncio
import math
from typing import Any

from tasker_cluster.services.workflow.handlers import HandlerRegistry, PermanentStepError, StepError, StepInput

EXAMPLE_HANDLERS = HandlerRegistry()
register = EXAMPLE_HANDLERS.register

_MAX_SLEEP_MS = 600_000


@register("square_even_number")
def square_even_number(step: StepInput) -> int:
    """The first term of the sequence: context.even_number squared."""
    value = step.context.get("even_number")
    if isinstance(value, bool) or not isinstance(value, int) or value % 2 != 0:
        raise PermanentStepError(f"context.even_number must be an even integer, got {value!r}")
    return value * value


@register("square_previous")
def square_previous(step: StepInput) -> int:
    """The next term: the previous step's result squared."""
    previous = step.only_dependency()
    if not isinstance(previous, int):
        raise PermanentStepError(f"expected an integer from the previous step, got {previous!r}")
    return previous * previous


@register("multiply_dependencies")
def multiply_dependencies(step: StepInput) -> int:
    """Where branches join: the product of every dependency's result."""
    if not step.dependencies:
        raise PermanentStepError(f"step {step.step_name!r} has no dependencies to multiply")
    return math.prod(int(value) for value in step.dependencies.values())


@register("fail_first_attempt")
def fail_first_attempt(step: StepInput) -> dict[str, int]:
    """Fails its first attempt on purpose, then succeeds: proves retries."""
    if step.attempt == 1:
        raise StepError("failing the first attempt on purpose")
    return {"succeeded_on_attempt": step.attempt}


@register("always_raise")
def always_raise(step: StepInput) -> None:
    """Fails every attempt: proves a step ends in error after max_attempts."""
    raise StepError(f"attempt {step.attempt} failed on purpose")


@register("echo_dependencies")
def echo_dependencies(step: StepInput) -> dict[str, Any]:
    """Returns its dependencies' results unchanged."""
    return dict(step.dependencies)


@register("sleep_ms")
async def sleep_ms(step: StepInput) -> dict[str, int]:
    """Sleeps context.ms milliseconds (default 100) without blocking other steps."""
    ms = step.context.get("ms", 100)
    if isinstance(ms, bool) or not isinstance(ms, int) or not 0 <= ms <= _MAX_SLEEP_MS:
        raise PermanentStepError(f"context.ms must be an integer from 0 to {_MAX_SLEEP_MS}, got {ms!r}")
    await asyncio.sleep(ms / 1000)
    return {"slept_ms": ms}
