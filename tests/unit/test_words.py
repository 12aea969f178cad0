"""Counted nouns: never "instance(s)"."""

from __future__ import annotations

from tasker_cluster.words import counted


def test_one_takes_the_singular_and_every_other_count_the_plural() -> None:
    assert [counted(n, "instance") for n in (0, 1, 5)] == ["0 instances", "1 instance", "5 instances"]
    assert counted(2, "process", "processes") == "2 processes"
