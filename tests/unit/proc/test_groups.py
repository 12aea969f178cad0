"""The escalation rule of a group stop: SIGTERM, SIGKILL once the grace period is over, then give up."""

from __future__ import annotations

import pytest

from tasker_cluster.proc.groups import KILL_WAIT, next_step


@pytest.mark.parametrize(
    ("killed", "elapsed", "alive", "step"),
    [
        (False, 0.0, False, "gone"),
        (False, 0.5, True, "wait"),
        (False, 1.0, True, "kill"),
        (True, 1.0, True, "wait"),
        (True, 1.0 + KILL_WAIT - 0.01, True, "wait"),
        (True, 1.0 + KILL_WAIT, True, "give-up"),
        (True, 2.0, False, "gone"),
    ],
)
def test_a_group_is_killed_after_its_grace_and_given_up_on_after_the_kill_wait(
    killed: bool, elapsed: float, alive: bool, step: str
) -> None:
    assert next_step(1.0, killed, elapsed, alive) == step
