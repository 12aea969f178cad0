"""restart_instances' order and where a roll ends, with the spawner, network, clock and group stopper scripted."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tasker_cluster.cluster.restart import RestartReport, restart_instances, rolling_order
from tasker_cluster.config.model import ClusterConfig
from tasker_cluster.proc.groups import GroupStop, StopTarget
from tasker_cluster.proc.records import read_records
from unit.conftest import BASE
from unit.fakes import JumpingClock, ScriptedNetwork, ScriptedSpawner

EVERY_PORT = {BASE: 1000.0, BASE + 10: 1000.0, BASE + 11: 1000.0}


class Steps:
    """What a restart did, in order: ("stop", names signalled) and ("spawn", name)."""

    def __init__(self, survives: Sequence[str] = ()) -> None:
        self.done: list[tuple[str, str]] = []
        self.survives = set(survives)

    def stopper(self, targets: Sequence[StopTarget], meanwhile: Callable[[], None]) -> list[GroupStop]:
        self.done += [("stop", target.name) for target in targets]
        meanwhile()
        return [
            GroupStop(t.name, "survived", [t.leader]) if t.name in self.survives else GroupStop(t.name, "exited", [])
            for t in targets
        ]


def _restart(
    config: ClusterConfig, steps: Steps, spawner: ScriptedSpawner, *, rolling: bool = True, **options: object
) -> RestartReport:
    clock = JumpingClock()
    network = ScriptedNetwork(clock, listens_at=EVERY_PORT)
    original = spawner.__call__

    def spawn(argv, *, env, **options):  # type: ignore[no-untyped-def]
        steps.done.append(("spawn", env["TASKER_INSTANCE_ID"]))
        return original(argv, env=env, **options)

    return restart_instances(
        config,
        config.instances,
        rolling=rolling,
        spawner=spawn,
        prober=network,
        clock=clock,
        stopper=steps.stopper,
        **options,  # type: ignore[arg-type]
    )


def _started(config: ClusterConfig) -> None:
    """Every instance recorded, as a start leaves them (the scripted pids run nowhere)."""
    assert _restart(config, Steps(), ScriptedSpawner(), rolling=False).ok


def test_a_rolling_restart_stops_each_instance_only_after_the_previous_one_was_started_again(
    config: ClusterConfig,
) -> None:
    _started(config)
    steps = Steps()

    report = _restart(config, steps, ScriptedSpawner())

    assert report.ok and report.restarted == ["orchestration-1", "worker-1", "worker-2"]
    assert steps.done == [
        ("stop", "orchestration-1"),
        ("spawn", "orchestration-1"),
        ("stop", "worker-1"),
        ("spawn", "worker-1"),
        ("stop", "worker-2"),
        ("spawn", "worker-2"),
    ]
    assert [instance.outcome for instance in report.started.instances] == ["ready"] * 3


def test_a_plain_restart_stops_every_instance_before_starting_any(config: ClusterConfig) -> None:
    _started(config)
    steps = Steps()

    report = _restart(config, steps, ScriptedSpawner(), rolling=False)

    assert report.ok and len(report.steps) == 1
    assert [kind for kind, _ in steps.done] == ["stop"] * 3 + ["spawn"] * 3


def test_a_roll_ends_at_the_first_instance_that_fails_to_start_and_leaves_the_rest_untouched(
    config: ClusterConfig,
) -> None:
    _started(config)
    steps = Steps()

    report = _restart(config, steps, ScriptedSpawner(exits={"worker-1": 3}))

    assert not report.ok
    assert report.failed is not None and report.failed.names == ["worker-1"]
    assert report.restarted == ["orchestration-1"] and report.not_reached == ["worker-2"]
    assert ("stop", "worker-2") not in steps.done and ("spawn", "worker-2") not in steps.done
    assert "worker-2" in read_records(config.project).valid


def test_an_instance_that_survives_its_stop_is_not_started_again_and_ends_the_roll(config: ClusterConfig) -> None:
    _started(config)
    steps = Steps(survives=["orchestration-1"])

    report = _restart(config, steps, ScriptedSpawner())

    assert report.failed is not None and report.failed.started is None
    assert [result.outcome for result in report.failed.stop_failed] == ["survived"]
    assert steps.done == [("stop", "orchestration-1")]
    assert report.not_reached == ["worker-1", "worker-2"]


def test_the_roll_takes_orchestration_first_whatever_the_file_order(config: ClusterConfig) -> None:
    workers_first = [*config.by_role("worker"), *config.by_role("orchestration")]

    assert [i.name for i in rolling_order(workers_first)] == ["orchestration-1", "worker-1", "worker-2"]


def test_stopping_is_announced_once_the_instances_have_their_sigterm(config: ClusterConfig) -> None:
    _started(config)
    announced: list[Sequence[str]] = []

    _restart(config, Steps(), ScriptedSpawner(), on_stopping=announced.append)

    assert [list(names) for names in announced] == [["orchestration-1"], ["worker-1"], ["worker-2"]]
