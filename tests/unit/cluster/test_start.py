"""start_instances' outcomes, driven through a scripted spawner, network and clock: no process is started."""

from __future__ import annotations

import os
import tomllib

import tomli_w

from tasker_cluster.cluster.start import start_instances
from tasker_cluster.cluster.start_results import StartEvent
from tasker_cluster.config.load import load_config
from tasker_cluster.config.model import ClusterConfig
from tasker_cluster.errors import ClusterError
from tasker_cluster.proc.records import InstanceRecord, read_record, read_records
from unit.conftest import BASE
from unit.fakes import JumpingClock, ScriptedNetwork, ScriptedSpawner


def _start(config: ClusterConfig, network: ScriptedNetwork, spawner: ScriptedSpawner, **options: object):
    events: list[StartEvent] = []
    report = start_instances(
        config,
        config.instances,
        on_event=events.append,
        spawner=spawner,
        prober=network,
        clock=network.clock,
        **options,  # type: ignore[arg-type]
    )
    return report, events


def test_instances_that_listen_and_answer_ready_are_ready_and_recorded(config: ClusterConfig) -> None:
    clock = JumpingClock()
    network = ScriptedNetwork(clock, listens_at={BASE: 1000.2, BASE + 10: 1000.0, BASE + 11: 1001.0})
    spawner = ScriptedSpawner()

    report, events = _start(config, network, spawner)

    assert [(i.name, i.outcome) for i in report.instances] == [
        ("orchestration-1", "ready"),
        ("worker-1", "ready"),
        ("worker-2", "ready"),
    ]
    assert report.ok and set(report.probes) == {"orchestration-1", "worker-1", "worker-2"}
    assert [e.kind for e in events].count("spawned") == 3 and [e.kind for e in events].count("ready") == 3
    assert sorted(read_records(config.project).valid) == ["orchestration-1", "worker-1", "worker-2"]


def test_an_instance_that_exits_before_it_is_ready_reports_its_code_and_log_and_loses_its_record(
    config: ClusterConfig,
) -> None:
    clock = JumpingClock()
    network = ScriptedNetwork(clock, listens_at={BASE + 10: 1000.0, BASE + 11: 1000.0})
    spawner = ScriptedSpawner(exits={"orchestration-1": 3})

    report, _ = _start(config, network, spawner)

    failed = report.failed
    assert [(i.name, i.outcome) for i in failed] == [("orchestration-1", "exited")]
    assert failed[0].detail == "exited with code 3 before it was ready"
    assert failed[0].log_tail == ["orchestration-1: settings.toml: missing key database_url"]
    assert read_record(config.project, "orchestration-1") is None


def test_an_instance_that_never_listens_times_out_saying_it_never_answered_and_keeps_running(
    config: ClusterConfig,
) -> None:
    clock = JumpingClock()
    network = ScriptedNetwork(clock, listens_at={BASE + 10: 1000.0, BASE + 11: 1000.0})

    report, _ = _start(config, network, ScriptedSpawner(), timeout=2.0)

    (failed,) = report.failed
    assert (failed.name, failed.outcome) == ("orchestration-1", "timeout")
    assert failed.detail.startswith(f"not ready after 2.0 s: nothing listened on 127.0.0.1:{BASE}: its command must")
    assert failed.detail.endswith("it is still running")
    assert read_record(config.project, "orchestration-1") is not None


def test_a_ready_path_that_keeps_answering_503_times_out_naming_the_last_answer(config: ClusterConfig) -> None:
    clock = JumpingClock()
    network = ScriptedNetwork(
        clock, listens_at={BASE: 1000.0, BASE + 10: 1000.0, BASE + 11: 1000.0}, answers={"/health/ready": 503}
    )

    report, _ = _start(config, network, ScriptedSpawner(), timeout=1.0)

    assert {i.outcome for i in report.instances} == {"timeout"}
    assert "its ready path /health/ready still answered 503: its log says why it is not ready, or a longer " in (
        report.instances[0].detail
    )


def test_a_ready_path_the_instance_does_not_serve_times_out_naming_the_key_to_change(config: ClusterConfig) -> None:
    clock = JumpingClock()
    network = ScriptedNetwork(
        clock, listens_at={BASE: 1000.0, BASE + 10: 1000.0, BASE + 11: 1000.0}, answers={"/health/ready": 404}
    )

    report, _ = _start(config, network, ScriptedSpawner(), timeout=1.0)

    assert report.instances[0].detail == (
        "not ready after 1.0 s: its ready path /health/ready answered 404: set services.orchestration.ready_path to a "
        "path the instance serves (2xx once it is ready); it is still running"
    )


def test_a_taken_port_is_refused_naming_its_holder_and_nothing_is_spawned_for_it(config: ClusterConfig) -> None:
    clock = JumpingClock()
    network = ScriptedNetwork(
        clock, listens_at={BASE + 10: 1000.0, BASE + 11: 1000.0}, taken={BASE: "pid 42 (python3 -m http.server)"}
    )
    spawner = ScriptedSpawner()

    report, events = _start(config, network, spawner)

    (refused,) = report.failed
    assert (refused.name, refused.outcome) == ("orchestration-1", "port-taken")
    assert refused.detail == f"port {BASE} is taken by pid 42 (python3 -m http.server)"
    assert len(spawner.spawned) == 2
    assert StartEvent("port-taken", "orchestration-1", refused.detail) in events


def test_a_ready_instance_whose_health_path_answers_non_2xx_is_unhealthy_naming_the_key_or_its_log(
    config: ClusterConfig,
) -> None:
    config = _edited(config, orchestration={"health_path": "/missing"})
    clock = JumpingClock()
    listens = {BASE: 1000.0, BASE + 10: 1000.0, BASE + 11: 1000.0}
    network = ScriptedNetwork(clock, listens_at=listens, answers={"/missing": 404, "/health": 503})

    report, events = _start(config, network, ScriptedSpawner())

    assert [(i.name, i.outcome) for i in report.instances] == [
        ("orchestration-1", "unhealthy"),
        ("worker-1", "unhealthy"),
        ("worker-2", "unhealthy"),
    ]
    assert not report.ok and not report.probes
    assert report.instances[0].detail.endswith(
        "but its health path /missing answered 404: set services.orchestration.health_path to a path the instance "
        "serves (2xx while it is healthy); it is still running"
    )
    assert report.instances[1].detail.startswith("ready in 0.0")
    assert report.instances[1].detail.endswith(
        "but its health path /health answered 503: the instance reports itself unhealthy, its log says why; it is "
        "still running"
    )
    assert [e.kind for e in events if e.kind in ("ready", "unhealthy")] == ["unhealthy"] * 3
    assert StartEvent("unhealthy", "orchestration-1", "0.00 s, health answered 404") in events


def _edited(config: ClusterConfig, **services: dict[str, object]) -> ClusterConfig:
    """`config` with keys of its services changed, loaded again."""
    document = tomllib.loads(config.config_file.read_text())
    for name, keys in services.items():
        document["services"][name].update(keys)
    config.config_file.write_text(tomli_w.dumps(document))
    return load_config(config.project)


def test_a_taken_port_refuses_only_instances_whose_probe_is_answered_on_it(config: ClusterConfig) -> None:
    document = tomllib.loads(config.config_file.read_text())
    document["services"]["worker"].update(probe="exec", probe_command=["check", "{port}"])
    document["services"]["spare"] = {**document["services"]["worker"], "probe": "none", "base_port": BASE + 20}
    del document["services"]["spare"]["probe_command"]
    config.config_file.write_text(tomli_w.dumps(document))
    config = load_config(config.project)
    clock = JumpingClock()
    taken = {port: f"pid 42 (holder of {port})" for port in (BASE, BASE + 10, BASE + 11, BASE + 20, BASE + 21)}
    network = ScriptedNetwork(clock, listens_at={BASE: 1000.0}, taken=taken)
    spawner = ScriptedSpawner()

    report, _ = _start(config, network, spawner)

    assert [(i.name, i.outcome) for i in report.instances] == [
        ("orchestration-1", "port-taken"),
        ("worker-1", "ready"),
        ("worker-2", "ready"),
        ("spare-1", "ready"),
        ("spare-2", "ready"),
    ]
    assert [argv[-1] for argv in spawner.spawned] == [str(BASE + 10), str(BASE + 11), str(BASE + 20), str(BASE + 21)]


def test_a_program_that_cannot_be_run_is_a_spawn_failure_and_the_others_still_start(config: ClusterConfig) -> None:
    clock = JumpingClock()
    network = ScriptedNetwork(clock, listens_at={BASE: 1000.0, BASE + 11: 1000.0})
    spawner = ScriptedSpawner(fails={"worker-1": ClusterError("cannot run 'nope': No such file or directory", "fix")})

    report, _ = _start(config, network, spawner)

    assert [(i.name, i.outcome) for i in report.instances] == [
        ("orchestration-1", "ready"),
        ("worker-1", "spawn-failed"),
        ("worker-2", "ready"),
    ]
    assert "cannot run 'nope'" in report.instances[1].detail


def test_without_wait_the_spawned_instances_are_started_and_nobody_probes(config: ClusterConfig) -> None:
    clock = JumpingClock()
    network = ScriptedNetwork(clock)

    report, _ = _start(config, network, ScriptedSpawner(), wait=False)

    assert {i.outcome for i in report.instances} == {"started"}
    assert network.requests == []


def test_a_ready_path_that_redirects_ends_the_wait_at_once_naming_the_final_path(config: ClusterConfig) -> None:
    clock = JumpingClock()
    network = ScriptedNetwork(
        clock,
        listens_at={BASE: 1000.0, BASE + 10: 1000.0, BASE + 11: 1000.0},
        redirects={"/health/ready": "/health/ready/", "/health/ready/": "/ready"},
    )

    report, _ = _start(config, network, ScriptedSpawner(), timeout=600.0)

    assert {i.outcome for i in report.instances} == {"redirect"}
    assert report.instances[0].detail == (
        "its ready path /health/ready answers 307, a redirect to /ready: "
        'set services.orchestration.ready_path = "/ready"; it is still running'
    )
    assert clock.now < 1010.0


def test_an_instance_listening_on_the_ipv6_loopback_only_is_named_within_a_second(config: ClusterConfig) -> None:
    clock = JumpingClock()
    network = ScriptedNetwork(
        clock, listens_at={BASE: 1000.0, BASE + 10: 1000.0, BASE + 11: 1000.0}, ipv6_only=[BASE + 11]
    )

    report, _ = _start(config, network, ScriptedSpawner(), timeout=600.0)

    assert [(i.name, i.outcome) for i in report.instances] == [
        ("orchestration-1", "ready"),
        ("worker-1", "ready"),
        ("worker-2", "wrong-address"),
    ]
    assert report.instances[2].detail.startswith(f"it listens on [::1]:{BASE + 11} only, while its URL is on 127.0.0.1")
    assert clock.now < 1002.0


def test_a_running_instance_the_topology_moved_is_outdated_never_probed_nor_respawned(config: ClusterConfig) -> None:
    from tasker_cluster.proc.processes import boot_id, read_stat
    from tasker_cluster.proc.records import write_record

    me = read_stat(os.getpid())
    assert me is not None
    # This test's own process stands for an instance started when the topology gave worker-1 another port, which
    # its command names as the topology's `{port}` placed it then.
    moved = [arg.replace(str(config.instances[1].port), str(BASE + 50)) for arg in config.instances[1].argv]
    record = InstanceRecord(
        "worker-1",
        me.pid,
        1.0,
        moved,
        BASE + 50,
        f"http://127.0.0.1:{BASE + 50}",
        "worker",
        "worker",
        "l",
        "t",
        start_ticks=me.start_ticks,
        boot_id=boot_id(),
        session=me.session,
        token="t0",
    )
    write_record(config.project, record)
    clock = JumpingClock()
    network = ScriptedNetwork(clock, listens_at={BASE: 1000.0, BASE + 11: 1000.0})
    spawner = ScriptedSpawner()

    report, _ = _start(config, network, spawner)

    assert [(i.name, i.outcome) for i in report.instances] == [
        ("orchestration-1", "ready"),
        ("worker-1", "outdated"),
        ("worker-2", "ready"),
    ]
    assert report.instances[1].detail == f"runs on {BASE + 50}, the topology now says {BASE + 10}: restart it"
    assert len(spawner.spawned) == 2 and not any(str(BASE + 50) in url for url in network.requests)
    assert read_record(config.project, "worker-1") == record
