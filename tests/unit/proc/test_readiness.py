"""The readiness watch, with a scripted network and clock: ready when the port opens and the path answers 2xx."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from tasker_cluster.proc.probes import ReadinessWatch, ReadyResult, ReadyTarget
from unit.fakes import JumpingClock, ScriptedNetwork


def _watch(network: ScriptedNetwork, *targets: ReadyTarget) -> list[ReadyResult]:
    reported: list[ReadyResult] = []
    watch = ReadinessWatch(reported.append, prober=network, clock=network.clock)
    try:
        for target in targets:
            watch.add(target)
        results = watch.results()
    finally:
        watch.close()
    assert sorted(r.name for r in reported) == sorted(r.name for r in results)
    return results


def _target(port: int, timeout: float = 5.0, exit_code: int | None = None) -> ReadyTarget:
    url = f"http://127.0.0.1:{port}"
    return ReadyTarget(f"i-{port}", f"{url}/ready", timeout, lambda: exit_code, f"{url}/health")


def test_an_instance_is_ready_as_soon_as_it_listens_and_its_health_is_probed_once() -> None:
    clock = JumpingClock()
    network = ScriptedNetwork(clock, listens_at={21001: 1002.5})

    (result,) = _watch(network, _target(21001))

    assert result.outcome == "ready" and 2.5 <= result.elapsed < 2.6
    assert result.health is not None and result.health.status_code == 200
    assert network.requests == ["http://127.0.0.1:21001/ready", "http://127.0.0.1:21001/health"]


def test_an_exit_ends_the_wait_at_once_and_a_silent_port_runs_out_of_time() -> None:
    clock = JumpingClock()
    network = ScriptedNetwork(clock)

    exited, silent = _watch(network, _target(21002, exit_code=1), _target(21003, timeout=0.5))

    assert (exited.outcome, silent.outcome) == ("exited", "timeout")
    assert silent.last_probe is not None and silent.last_probe.error == "refused"


def test_an_instance_that_keeps_answering_not_ready_is_probed_less_often_after_a_second() -> None:
    # Backing off from 5 ms to 50 ms, then to 250 ms once it has answered 503 for a second: about 20 probes in the
    # first second, 4 a second after that, against the 20 a second it used to get throughout.
    clock = JumpingClock()
    network = ScriptedNetwork(clock, listens_at={21004: 1000.0}, answers={"/ready": 503})

    (result,) = _watch(network, _target(21004, timeout=11.0))

    probes = [url for url in network.requests if url.endswith("/ready")]
    assert result.outcome == "timeout" and result.last_probe is not None and result.last_probe.status_code == 503
    assert 50 <= len(probes) <= 70, len(probes)


def _kind_target(port: int, probe: str, timeout: float = 5.0, exit_code: int | None = None) -> ReadyTarget:
    command = ("check", str(port)) if probe == "exec" else ()
    return ReadyTarget(f"i-{port}", f"http://127.0.0.1:{port}", timeout, lambda: exit_code, None, probe, command)


def test_a_tcp_probe_is_ready_once_a_connect_succeeds_and_sends_no_http_request() -> None:
    clock = JumpingClock()
    network = ScriptedNetwork(clock, listens_at={21010: 1001.5})

    (result,) = _watch(network, _kind_target(21010, "tcp"))

    assert result.outcome == "ready" and 1.5 <= result.elapsed < 1.6
    assert result.last_probe is not None and result.last_probe.text == "tcp open"
    assert result.health == result.last_probe
    assert network.requests == ["tcp 21010"]


def test_a_tcp_probe_that_never_connects_times_out_with_a_tcp_answer() -> None:
    clock = JumpingClock()
    network = ScriptedNetwork(clock)

    (result,) = _watch(network, _kind_target(21011, "tcp", timeout=0.5))

    assert result.outcome == "timeout"
    assert result.last_probe is not None and result.last_probe.text == "tcp refused"


def test_an_exec_probe_needs_no_port_and_is_run_until_it_exits_0_with_the_http_backoff() -> None:
    clock = JumpingClock()
    # Nothing ever listens: the command alone decides.
    network = ScriptedNetwork(clock, exits=[3, 3, 3, 0])

    (result,) = _watch(network, _kind_target(21012, "exec"))

    assert result.outcome == "ready"
    assert network.requests == ["check 21012"] * 4
    # 4 runs of 10 ms, with 5, 10 and 20 ms pauses between them.
    assert abs(result.elapsed - 0.075) < 1e-6, result.elapsed
    assert result.health is not None and result.health.exit_code == 0


def test_an_exec_probe_that_keeps_failing_times_out_with_its_last_exit_and_line() -> None:
    clock = JumpingClock()
    network = ScriptedNetwork(clock, exits=[3])

    (result,) = _watch(network, _kind_target(21013, "exec", timeout=2.0))

    assert result.outcome == "timeout"
    assert result.last_probe is not None and result.last_probe.text == "exec exit 3: not yet"


def test_an_exec_probe_whose_command_cannot_be_started_ends_the_wait_at_once_and_is_not_run_again() -> None:
    clock = JumpingClock()
    network = ScriptedNetwork(clock, cannot_run="FileNotFoundError: check")

    (result,) = _watch(network, _kind_target(21032, "exec", timeout=30.0))

    assert result.outcome == "probe-error" and result.elapsed == 0.0
    assert result.last_probe is not None and result.last_probe.error == "FileNotFoundError: check"
    assert network.requests == ["check 21032"]


def test_no_probe_is_ready_once_spawned_and_still_running_and_an_exit_still_ends_the_wait() -> None:
    clock = JumpingClock()
    network = ScriptedNetwork(clock)

    running, exited = _watch(network, _kind_target(21014, "none"), _kind_target(21015, "none", exit_code=1))

    assert (running.outcome, exited.outcome) == ("ready", "exited")
    assert running.elapsed < 0.01 and running.last_probe is None and running.health is None
    assert network.requests == []


def test_no_probe_is_ready_only_once_it_has_stayed_up_its_window_and_the_windows_run_at_once() -> None:
    clock = JumpingClock()
    network = ScriptedNetwork(clock)
    # One that exits half-way through its window, as a program refusing its arguments does a moment after spawn.
    crashing = _kind_target(21016, "none")._replace(stay_up=1.0, exit_code=lambda: 3 if clock.now >= 1000.5 else None)
    steady = [_kind_target(port, "none")._replace(stay_up=1.0) for port in (21017, 21018, 21019)]
    # A window longer than the startup window ends with it.
    short = _kind_target(21020, "none", timeout=0.3)._replace(stay_up=1.0)

    exited, *ready, cut = _watch(network, crashing, *steady, short)

    assert exited.outcome == "exited" and 0.5 <= exited.elapsed < 0.51, exited
    # Three windows of 1 s end together at 1 s, not at 1, 2 and 3 s.
    assert [(r.outcome, 1.0 <= r.elapsed < 1.01) for r in ready] == [("ready", True)] * 3, ready
    assert cut.outcome == "ready" and 0.3 <= cut.elapsed < 0.31, cut
    assert network.requests == []


def _timeouts(target: ReadyTarget, **script: Any) -> tuple[ReadyResult, dict[str, list[float]]]:
    """The target's result alone on a scripted network that listens at once, and the timeout of each probe sent,
    by request."""
    network = ScriptedNetwork(JumpingClock(), listens_at={urlsplit(target.url).port or 80: 1000.0}, **script)
    (result,) = _watch(network, target)
    sent: dict[str, list[float]] = {}
    for request, timeout in zip(network.requests, network.timeouts, strict=True):
        sent.setdefault(request, []).append(timeout)
    return result, sent


def test_each_kind_is_given_its_default_timeout_per_probe_1_s_for_http_and_tcp_and_5_s_for_a_command() -> None:
    http, tcp, command = _target(21020), _kind_target(21021, "tcp"), _kind_target(21022, "exec", timeout=30.0)

    assert _timeouts(http)[1] == {"http://127.0.0.1:21020/ready": [1.0], "http://127.0.0.1:21020/health": [1.0]}
    assert _timeouts(tcp)[1] == {"tcp 21021": [1.0]}
    result, sent = _timeouts(command, exits=[None, 0])
    assert result.outcome == "ready" and sent == {"check 21022": [5.0, 5.0]}


def test_a_probe_timeout_bounds_each_probe_of_every_kind_and_a_command_past_it_is_run_again() -> None:
    http = _target(21023)._replace(probe_timeout=3.0)
    tcp = _kind_target(21024, "tcp")._replace(probe_timeout=0.25)
    command = _kind_target(21025, "exec", timeout=30.0)._replace(probe_timeout=2.0)

    assert _timeouts(http)[1] == {"http://127.0.0.1:21023/ready": [3.0], "http://127.0.0.1:21023/health": [3.0]}
    assert _timeouts(tcp)[1] == {"tcp 21024": [0.25]}
    result, sent = _timeouts(command, exits=[None, None, 0])
    assert result.outcome == "ready" and sent == {"check 21025": [2.0, 2.0, 2.0]}
    # Killed at 2 s twice, with 5 and 10 ms pauses, then it exits 0 in 10 ms.
    assert abs(result.elapsed - 4.025) < 1e-6, result.elapsed


def test_a_probe_cut_short_by_the_end_of_the_startup_window_keeps_the_answer_before_it_for_the_message() -> None:
    clock = JumpingClock()
    # It answers "exit 3" once, then hangs: the run in flight when the 2 s window ends is killed there, and says
    # less about the instance than the exit before it.
    network = ScriptedNetwork(clock, exits=[3, None])

    (result,) = _watch(network, _kind_target(21030, "exec", timeout=2.0))

    assert network.requests == ["check 21030"] * 2
    assert network.timeouts[1] < 2.0
    assert result.outcome == "timeout"
    assert result.last_probe is not None and result.last_probe.text == "exec exit 3: not yet"


def test_a_probe_that_times_out_while_the_window_still_runs_is_the_last_answer() -> None:
    clock = JumpingClock()
    # Its own 0.5 s limit ends each hanging run well inside the window: the instance no longer answers in time.
    network = ScriptedNetwork(clock, exits=[3, None])

    (result,) = _watch(network, _kind_target(21031, "exec", timeout=2.0)._replace(probe_timeout=0.5))

    assert result.outcome == "timeout"
    assert result.last_probe is not None and result.last_probe.text == "exec timeout"
