"""What the instances say about themselves over HTTP, whatever engine runs them: uptime, readiness, archived
messages, and how they answer a creation while the database is down."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import httpx

from tasker_cluster.testing import TaskRequest

_TIMEOUT_S = 10.0


class Answer(NamedTuple):
    url: str
    status: int
    error: str
    retry_after: str | None


def uptimes(urls: Sequence[str]) -> dict[str, float]:
    """Each instance's uptime in seconds (/health), by name: one that restarted counts from its restart."""
    with httpx.Client(timeout=_TIMEOUT_S) as client:
        bodies = [client.get(f"{url}/health").json() for url in urls]
    return {body["instance"]: float(body["uptime_s"]) for body in bodies}


def unready_naming(urls: Sequence[str], check: str) -> bool:
    """Every instance answers /health/ready with 503 and names `check` among the failed ones."""
    with httpx.Client(timeout=_TIMEOUT_S) as client:
        for url in urls:
            answer = client.get(f"{url}/health/ready")
            if answer.status_code != 503 or check not in answer.json()["failed"]:
                return False
    return True


def creation_answers(urls: Sequence[str], request: TaskRequest) -> list[Answer]:
    """How each orchestration instance answers `request` (sent once to each, never retried)."""
    answers = []
    with httpx.Client(timeout=_TIMEOUT_S) as client:
        for url in urls:
            answer = client.post(f"{url}/v1/tasks", json=request.body())
            error = answer.json().get("error", "") if answer.status_code >= 400 else ""
            answers.append(Answer(url, answer.status_code, error, answer.headers.get("Retry-After")))
    return answers


def archived_counts(urls: Sequence[str]) -> int:
    """Messages the instances' consumers have archived as unprocessable, as their /health/detailed pages count."""
    with httpx.Client(timeout=_TIMEOUT_S) as client:
        pages = [client.get(f"{url}/health/detailed").json() for url in urls]
    return sum(consumer["archived"] for page in pages for consumer in page["consumers"])
