"""Task requests for the scenarios, and the results the shipped templates must produce for them."""

from __future__ import annotations

from tasker_cluster.testing import TaskRequest

NAMESPACE = "examples"


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


def linear_result(request: TaskRequest) -> int:
    """square_4 of examples/linear: even_number squared four times."""
    return request.context["even_number"] ** 16


def diamond_result(request: TaskRequest) -> int:
    """end of examples/diamond: (n^2)^2 from each branch, multiplied."""
    return request.context["even_number"] ** 8
