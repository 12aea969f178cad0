"""Queue names, and the NOTIFY channel that wakes each queue's consumers."""

from __future__ import annotations

RESULTS_QUEUE = "orchestration_step_results"


def step_queue(namespace: str) -> str:
    """The PGMQ queue that carries a namespace's steps to its workers."""
    return f"worker_{namespace}_queue"


def wake_channel(queue: str) -> str:
    """The channel queries.sql notifies (`'tasker_' || queue`) when it sends to `queue`."""
    return f"tasker_{queue}"
