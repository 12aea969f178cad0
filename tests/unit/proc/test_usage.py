"""cpu_percent from two readings of an instance's group, or from one and its start; no process is read."""

from __future__ import annotations

import time

import pytest

from tasker_cluster.proc.usage import Leader, Usage, cpu_percent

LEADER = Leader(4242, 100_000, 1000.0)


def test_cpu_between_two_readings_is_what_every_member_used_in_between() -> None:
    before = Usage(LEADER, {4242: 10.0, 4243: 2.0}, 0, at=50.0)
    after = Usage(LEADER, {4242: 10.3, 4243: 2.2}, 0, at=50.5)

    assert cpu_percent(after, before) == pytest.approx((100.0, 0.5))


def test_a_member_that_appeared_in_between_counts_with_all_its_cpu_time() -> None:
    before = Usage(LEADER, {4242: 10.0}, 0, at=50.0)
    after = Usage(LEADER, {4242: 10.0, 5000: 0.25}, 0, at=51.0)

    assert cpu_percent(after, before).percent == pytest.approx(25.0)


def test_without_an_earlier_reading_of_the_same_leader_it_is_the_average_since_start() -> None:
    started = time.time() - 100.0
    after = Usage(Leader(4242, 100_000, started), {4242: 20.0, 4243: 5.0}, 0, at=50.0)
    restarted = Usage(Leader(4242, 50_000, started - 500.0), {4242: 1.0}, 0, at=49.0)

    for result in (cpu_percent(after), cpu_percent(after, restarted)):
        assert result.percent == pytest.approx(25.0, rel=0.01)
        assert result.window_s == pytest.approx(100.0, abs=1.0)
