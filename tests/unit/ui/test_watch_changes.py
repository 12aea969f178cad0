"""What `status --watch` highlights on a terminal: a change of state, of the process or of the port, a new
instance and one that went away; never the numbers that move on every refresh (latency, uptime, CPU, RSS,
connections)."""

from __future__ import annotations

from tasker_cluster.ui.watch import GONE, changes

HEALTHY = ("worker-1", "healthy", "4242", "23010", "5s", "1.0%", "20 MiB", "200 3 ms")
DATABASE = ("database", "healthy", "4000", "5433", "9s", "2.0%", "117 MiB", "SQL 24 ms, 19/500 connections")


def _last(*rows: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    return {row[0]: row for row in rows}


def test_latency_uptime_cpu_rss_and_connection_counts_are_not_highlighted() -> None:
    noisy = ("worker-1", "healthy", "4242", "23010", "7s", "35%", "21 MiB", "200 41 ms")
    busier = ("database", "healthy", "4000", "5433", "11s", "60%", "130 MiB", "SQL 170 ms, 47/500 connections")

    assert changes([busier, noisy], _last(DATABASE, HEALTHY)) == [(busier, frozenset()), (noisy, frozenset())]


def test_a_status_change_highlights_the_status_and_its_reason() -> None:
    dead = ("worker-1", "dead", "4242", "23010", "", "", "", "the PID file outlived its process")

    assert changes([dead], _last(HEALTHY)) == [(dead, frozenset({"STATUS", "HEALTH"}))]


def test_a_new_pid_or_port_is_highlighted() -> None:
    restarted = ("worker-1", "healthy", "5151", "23011", "0s", "9.0%", "20 MiB", "200 2 ms")

    assert changes([restarted], _last(HEALTHY)) == [(restarted, frozenset({"PID", "PORT"}))]


def test_an_instance_that_appears_is_highlighted_whole_and_one_that_went_away_is_shown_once_as_gone() -> None:
    extra = ("worker-2", "healthy", "5252", "23011", "0s", "1.0%", "20 MiB", "200 2 ms")

    appeared = changes([HEALTHY, extra], _last(HEALTHY))
    went = changes([HEALTHY], _last(HEALTHY, extra))

    assert appeared[1] == (extra, frozenset({"INSTANCE", "STATUS", "PID", "PORT", "UPTIME", "CPU", "RSS", "HEALTH"}))
    assert went == [
        (HEALTHY, frozenset()),
        (("worker-2", GONE, "5252", "23011", "", "", "", ""), frozenset({"INSTANCE", "STATUS"})),
    ]


def test_the_first_refresh_highlights_nothing() -> None:
    assert changes([DATABASE, HEALTHY], None) == [(DATABASE, frozenset()), (HEALTHY, frozenset())]
