"""Drift: what differs between a running instance's record and what the topology now gives it, probes included."""

from __future__ import annotations

from tasker_cluster.cluster.state import drift
from tasker_cluster.config.model import ClusterConfig
from tasker_cluster.proc.records import InstanceRecord


def _record(config: ClusterConfig, **changes: object) -> InstanceRecord:
    instance = config.instances[0]
    record = InstanceRecord(
        name=instance.name,
        pid=1,
        create_time=0.0,
        cmdline=list(instance.argv),
        port=instance.port,
        url=instance.url,
        service=instance.service,
        role=instance.role,
        log="",
        started_at="",
        start_ticks=1,
        probe=instance.probe,
        probe_command=list(instance.probe_command),
    )
    return record._replace(**changes)


def test_an_instance_started_as_configured_has_not_drifted(config: ClusterConfig) -> None:
    assert drift(config.instances[0], _record(config)) is None


def test_a_changed_probe_kind_is_drift_that_names_both_kinds(config: ClusterConfig) -> None:
    instance = config.instances[0]._replace(probe="tcp")
    assert drift(instance, _record(config)) == 'is probed by "http", the topology now says "tcp"'


def test_a_changed_probe_command_is_drift_also_when_the_record_holds_it_as_a_json_list(config: ClusterConfig) -> None:
    instance = config.instances[0]._replace(probe="exec", probe_command=("check", "--port", "1"))
    same = _record(config, probe="exec", probe_command=["check", "--port", "1"])
    changed = _record(config, probe="exec", probe_command=["check", "--port", "2"])
    assert drift(instance, same) is None
    assert drift(instance, changed) == (
        "is probed by the probe command it was started with, which the topology has changed since"
    )


def test_a_record_written_before_probe_kinds_existed_counts_as_probed_over_http(config: ClusterConfig) -> None:
    fields = {key: value for key, value in _record(config)._asdict().items() if key not in ("probe", "probe_command")}
    assert drift(config.instances[0], InstanceRecord(**fields)) is None


def test_every_difference_is_named_in_one_line_in_the_topologys_order(config: ClusterConfig) -> None:
    instance = config.instances[0]
    moved = instance._replace(port=instance.port + 1, argv=[*instance.argv, "--verbose"], health_path="/alive")

    assert drift(moved, _record(config)) == (
        f"runs on {instance.port}, the topology now says {instance.port + 1}; "
        "runs the command it was started with, which the topology has changed since; "
        f"is probed at its health path {instance.health_path}, the topology now says /alive"
    )


def test_a_moved_port_that_the_command_names_is_said_once_as_a_moved_port(config: ClusterConfig) -> None:
    instance = config.instances[0]
    assert str(instance.port) in instance.argv
    moved = instance._replace(
        port=instance.port + 1, argv=[arg.replace(str(instance.port), str(instance.port + 1)) for arg in instance.argv]
    )

    assert drift(moved, _record(config)) == f"runs on {instance.port}, the topology now says {instance.port + 1}"
