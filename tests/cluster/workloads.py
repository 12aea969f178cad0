"""Task requests for the scenarios, and what the shipped templates (config/templates/examples) must record for them:
each step's result, and the states a step passes through when nothing fails."""

from __future__ import annotations

from typing import Any

from tasker_cluster.testing import TaskRequest

NAMESPACE = "examples"
CLEAN_STEP = ("pending", "enqueued", "in_progress", "complete")
# always_fail.toml and fail_once.toml: three attempts, retried after a backoff.
RETRIED = ("in_progress", "waiting_for_retry", "enqueued")


def even_number(index: int) -> int:
    # Small even numbers keep n**16 a modest integer in JSON.
    return 2 * (1 + index % 3)


def linear(count: int, start: int = 0) -> list[TaskRequest]:
    return [
        TaskRequest(namespace=NAMESPACE, name="linear", context={"even_number": even_number(start + index)})
        for index in range(count)
    ]


def diamond(count: int) -> list[TaskRequest]:
    return [
        TaskRequest(namespace=NAMESPACE, name="diamond", context={"even_number": even_number(index)})
        for index in range(count)
    ]


def slow(count: int, ms: int) -> list[TaskRequest]:
    return [TaskRequest(namespace=NAMESPACE, name="slow", context={"ms": ms}) for _ in range(count)]


def named(name: str, count: int) -> list[TaskRequest]:
    return [TaskRequest(namespace=NAMESPACE, name=name) for _ in range(count)]


def expected_results(request: TaskRequest) -> dict[str, Any]:
    """Every step of the request's template by name, with the result it records once complete (None: it never
    completes)."""
    context = request.context
    if request.name == "linear":
        n = context["even_number"]
        return {"square_even_number": n**2, "square_2": n**4, "square_3": n**8, "square_4": n**16}
    if request.name == "diamond":
        n = context["even_number"]
        return {"start": n**2, "branch_b": n**4, "branch_c": n**4, "end": n**8}
    if request.name == "slow":
        return {"nap": {"slept_ms": context.get("ms", 100)}}
    if request.name == "fail_once":
        flaky = {"succeeded_on_attempt": 2}
        return {"flaky": flaky, "confirm": {"flaky": flaky}}
    if request.name == "always_fail":
        return {"doomed": None, "never_runs": None}
    raise ValueError(f"no expected results for template {request.name!r}")


def clean_path(request: TaskRequest, step: str) -> tuple[str, ...]:
    """The states the step records when no instance fails: the template's own retries and failures only."""
    if (request.name, step) == ("fail_once", "flaky"):
        return ("pending", "enqueued", *RETRIED, *CLEAN_STEP[2:])
    if (request.name, step) == ("always_fail", "doomed"):
        return ("pending", "enqueued", *RETRIED, *RETRIED, "in_progress", "error")
    if (request.name, step) == ("always_fail", "never_runs"):
        return ("pending", "cancelled")
    return CLEAN_STEP
