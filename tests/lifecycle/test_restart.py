"""`cluster restart [NAME...] [--rolling]`: the real CLI against real instances (the test server)."""

from __future__ import annotations

import itertools

import httpx

from support.availability import AvailabilityProbe
from support.sandbox import Sandbox, running, server_command, service

READY = "/health/ready"


def _pids(sandbox: Sandbox, *names: str) -> dict[str, int]:
    return {name: sandbox.record(name).pid for name in names}


def _events(output: str) -> list[tuple[str, str]]:
    """(instance, event) of each progress line, in order."""
    return [(line.split()[0], line.split()[1]) for line in output.splitlines() if len(line.split()) >= 2]


def test_restart_of_a_service_replaces_its_processes_and_exits_0_once_they_are_ready(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=1, workers=2)
    assert sandbox.start().ok
    before = _pids(sandbox, "orchestration-1", "worker-1", "worker-2")

    result = sandbox.cli("restart", "worker")

    assert result.returncode == 0, result.stdout + result.stderr
    after = _pids(sandbox, "orchestration-1", "worker-1", "worker-2")
    assert after["orchestration-1"] == before["orchestration-1"]
    assert after["worker-1"] != before["worker-1"] and after["worker-2"] != before["worker-2"]
    events = _events(result.stdout)
    assert ("worker-1", "stopped") in events and ("worker-1", "ready") in events
    # Not rolling: both are stopped before either starts.
    assert events.index(("worker-2", "stopped")) < events.index(("worker-1", "spawned"))
    assert "2 restarted" in result.stdout
    assert [line.split()[:2] for line in result.stdout.splitlines() if line.startswith("worker-")][-2:] == [
        ["worker-1", "healthy"],
        ["worker-2", "healthy"],
    ]


def test_a_rolling_restart_keeps_the_orchestration_api_answering_throughout(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=2, workers=2)
    assert sandbox.start().ok
    names = ("orchestration-1", "orchestration-2", "worker-1", "worker-2")
    before = _pids(sandbox, *names)
    urls = [f"http://127.0.0.1:{sandbox.base + offset}" for offset in (0, 1)]

    with AvailabilityProbe(urls, READY) as probe:
        result = sandbox.cli("restart", "--rolling")

    assert result.returncode == 0, result.stdout + result.stderr
    assert probe.rounds > 0
    assert probe.unanswered == [], f"{len(probe.unanswered)} of {probe.rounds} probes unanswered"
    after = _pids(sandbox, *names)
    assert all(after[name] != before[name] for name in names)
    events = _events(result.stdout)
    # Each instance is ready again before the next one is stopped, orchestration first.
    stops = [name for name, event in events if event == "stopped"]
    assert stops == list(names)
    for previous, following in itertools.pairwise(names):
        assert events.index((previous, "ready")) < events.index((following, "stopped"))
    assert "4 restarted one at a time" in result.stdout


def test_a_plain_restart_of_every_orchestration_instance_leaves_probes_unanswered(sandbox: Sandbox) -> None:
    """The probe of the rolling test can fail: restarting both instances at once is an outage it sees."""
    sandbox.write_cluster(orchestration=2, workers=1)
    assert sandbox.start().ok
    urls = [f"http://127.0.0.1:{sandbox.base + offset}" for offset in (0, 1)]

    with AvailabilityProbe(urls, READY, interval=0.002) as probe:
        result = sandbox.cli("restart", "orchestration")

    assert result.returncode == 0, result.stdout + result.stderr
    assert probe.unanswered, f"no unanswered probe in {probe.rounds}"


def test_a_rolling_restart_ends_at_the_first_instance_that_fails_and_says_where(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=1, workers=2)
    assert sandbox.start().ok
    before = _pids(sandbox, "orchestration-1", "worker-1", "worker-2")
    # worker-1 now dies at start-up: its new command exits before it listens.
    sandbox.write_topology(
        {
            "orchestration": service("orchestration", 1, sandbox.base),
            "worker": service("worker", 2, sandbox.base + 10, "--exit-early", "settings.toml: missing key"),
        }
    )

    result = sandbox.cli("restart", "--rolling")

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "error: the rolling restart stopped at worker-1: 1 instance failed to start:" in result.stderr
    assert "worker-1: exited: exited with code 3 before it was ready" in result.stderr
    assert "| settings.toml: missing key" in result.stderr
    assert "restarted: orchestration-1; not reached (still running as before): worker-2" in result.stderr
    assert "`cluster restart --rolling worker-1 worker-2` completes the roll" in result.stderr
    assert sandbox.record("orchestration-1").pid != before["orchestration-1"]
    assert sandbox.record("worker-2").pid == before["worker-2"]


def test_restart_of_an_unknown_name_touches_nothing_and_exits_2(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=1, workers=1)
    assert sandbox.start().ok
    before = _pids(sandbox, "orchestration-1", "worker-1")

    result = sandbox.cli("restart", "worker-9", "--rolling")

    assert result.returncode == 2
    assert result.stderr.startswith("error: unknown instance worker-9\n  fix: did you mean one of worker-1, worker? ")
    assert "Otherwise use one of these names: services " in result.stderr
    assert _pids(sandbox, "orchestration-1", "worker-1") == before


def test_restart_starts_a_stopped_instance_and_gives_it_the_new_grace_and_timeout(sandbox: Sandbox) -> None:
    sandbox.write_topology(
        {
            "orchestration": service("orchestration", 1, sandbox.base),
            "deaf": {
                "role": "worker",
                "count": 1,
                "base_port": sandbox.base + 10,
                "command": server_command("--ignore-term"),
            },
        }
    )
    assert sandbox.start().ok
    sandbox.stop(["orchestration-1"])

    result = sandbox.cli("restart", "--grace", "0.2", "--timeout", "10")

    assert result.returncode == 0, result.stdout + result.stderr
    events = _events(result.stdout)
    assert ("orchestration-1", "not-running") in events
    assert ("deaf-1", "killed") in events
    assert ("orchestration-1", "ready") in events and ("deaf-1", "ready") in events


def test_restart_of_an_extra_instance_starts_it_again_on_its_port_with_its_services_settings(
    sandbox: Sandbox,
) -> None:
    """An instance started with a larger count is the cluster's, as a scaled compose replica is its project's: stop
    and logs know it, so restart does too."""
    worker = service("worker", 2, sandbox.base + 10, "--echo-env", "GREETING", env={"GREETING": "hi {name}"})
    sandbox.write_topology({"worker": worker})
    assert sandbox.cli("start-all", "--workers", "3").returncode == 0
    before = sandbox.record("worker-3")

    result = sandbox.cli("restart", "worker-3")

    assert result.returncode == 0, result.stdout + result.stderr
    after = sandbox.record("worker-3")
    assert after.pid != before.pid and after.port == before.port == sandbox.base + 12
    assert httpx.get(f"http://127.0.0.1:{after.port}/env").json() == {"GREETING": "hi worker-3"}
    assert ("worker-3", "ready") in _events(result.stdout)
    quick = sandbox.cli("status-quick")
    assert "worker-3: not in the topology any more" in quick.stdout, quick.stdout
    assert sandbox.cli("stop", "worker-3").returncode == 0


def test_restart_takes_no_counts_and_says_what_to_use_instead(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=1, workers=1)

    result = sandbox.cli("restart", "--workers", "3")

    assert result.returncode == 2
    assert result.stderr.startswith("error: no such option: --workers")
    assert "fix: restart takes no counts: it restarts what runs, an extra instance by its name" in result.stderr
    assert "`cluster start-all --workers N`" in result.stderr


def test_restart_of_an_extra_instance_whose_service_is_gone_says_why_and_leaves_it_running(sandbox: Sandbox) -> None:
    sandbox.write_topology(
        {"orchestration": service("orchestration", 1, sandbox.base), "spare": service("worker", 1, sandbox.base + 10)}
    )
    assert sandbox.start().ok
    before = sandbox.record("spare-1").pid
    sandbox.write_topology({"orchestration": service("orchestration", 1, sandbox.base)})

    result = sandbox.cli("restart", "spare-1")

    assert result.returncode == 1
    assert "error: spare-1 runs, but the topology no longer has its service spare" in result.stderr
    assert "fix: `cluster stop spare-1` stops it; to restart it instead, put [services.spare] back" in result.stderr
    assert sandbox.record("spare-1").pid == before and running(before)
    assert sandbox.cli("stop", "spare-1").returncode == 0
