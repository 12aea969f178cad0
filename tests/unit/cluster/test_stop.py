"""stop's decisions per instance, from PID records alone, with the group stopper scripted: nothing is signalled."""

from __future__ import annotations

import os

import psutil

from tasker_cluster.cluster.state import InstanceState
from tasker_cluster.cluster.stop import InstanceStop, classify, finish, in_order, stop_instances
from tasker_cluster.config.model import ClusterConfig
from tasker_cluster.proc.groups import GroupStop, StopTarget
from tasker_cluster.proc.records import InstanceRecord, Liveness, read_records, write_record
from unit.fakes import NO_SUCH_PID


def _record(name: str, pid: int, create_time: float = 1.0) -> InstanceRecord:
    return InstanceRecord(name, pid, create_time, ["x"], 1, "http://127.0.0.1:1", "worker", "worker", "l", "t")


def _state(name: str, liveness: Liveness | None, *, unreadable: bool = False) -> InstanceState:
    record = None if liveness is None or unreadable else _record(name, 4242)
    return InstanceState(name, "worker", "worker", None, record, unreadable, liveness)


def test_a_live_instance_is_a_target_with_its_grace_or_the_given_timeout() -> None:
    target, outcome = classify(_state("w-1", Liveness.ALIVE), None)
    overridden, _ = classify(_state("w-1", Liveness.ALIVE), 0.5)

    assert outcome is None
    assert target == StopTarget("w-1", 4242, None, True, 10.0, 4242)
    assert overridden is not None and overridden.grace == 0.5


def test_a_reused_pid_is_never_signalled_and_its_record_is_stale() -> None:
    target, outcome = classify(_state("w-1", Liveness.REUSED), None)

    assert target is None
    assert outcome is not None and outcome.outcome == "stale" and "belongs to another program" in outcome.detail


def test_a_dead_leader_is_stale_but_its_session_is_still_searched_for_leftovers() -> None:
    target, outcome = classify(_state("w-1", Liveness.DEAD), None)

    assert target is not None and target.leader_alive is False
    assert outcome is not None and outcome.outcome == "stale"
    assert finish(GroupStop("w-1", "absent", []), _record("w-1", 4242), outcome, grace=10.0) == outcome
    killed = finish(GroupStop("w-1", "exited", []), _record("w-1", 4242), outcome, grace=10.0)
    assert killed.detail.endswith("; stopped the processes it left behind")


def test_an_unreadable_pid_file_and_a_missing_one_are_settled_without_signals() -> None:
    assert classify(_state("w-1", None, unreadable=True), None)[1].outcome == "stale"  # type: ignore[union-attr]
    assert classify(_state("w-1", None), None) == (None, classify(_state("w-1", None), None)[1])
    assert classify(_state("w-1", None), None)[1].outcome == "not-running"  # type: ignore[union-attr]


def test_the_group_outcome_decides_stopped_killed_or_survived() -> None:
    record = _record("w-1", 4242)

    assert finish(GroupStop("w-1", "exited", []), record, None, grace=10.0).outcome == "stopped"
    assert (
        finish(GroupStop("w-1", "killed", []), record, None, grace=10.0).detail
        == "did not exit after SIGTERM; sent SIGKILL"
    )
    at_once = finish(GroupStop("w-1", "killed", []), record, None, grace=0.0)
    assert (at_once.outcome, at_once.detail) == ("killed", "no grace period (0 s): SIGKILL right after SIGTERM")
    survived = finish(GroupStop("w-1", "survived", [4242, 4243]), record, None, grace=10.0)
    assert (survived.outcome, survived.detail) == ("survived", "still running after SIGKILL: pid 4242, 4243")


def test_stop_hands_only_verified_groups_to_the_stopper_and_keeps_survivors_records(config: ClusterConfig) -> None:
    project = config.project
    me = psutil.Process(os.getpid())
    # This test's own process, recorded with another create time: a pid now used by someone else.
    write_record(project, _record("worker-1", me.pid, create_time=me.create_time() - 100))
    write_record(project, _record("worker-2", NO_SUCH_PID))
    project.pid_file("orchestration-1").write_text("1234\n")
    handed: list[list[StopTarget]] = []

    def stopper(targets: list[StopTarget], meanwhile: object) -> list[GroupStop]:
        handed.append(list(targets))
        return [GroupStop(target.name, "survived", [99]) for target in targets]

    results = stop_instances(project, config, stopper=stopper)

    assert [(r.name, r.outcome) for r in results] == [
        ("orchestration-1", "stale"),
        ("worker-1", "stale"),
        ("worker-2", "survived"),
    ]
    assert [[t.name for t in targets] for targets in handed] == [["worker-2"]]
    assert list(read_records(project).valid) == ["worker-2"]
    assert read_records(project).unreadable == []


def test_results_are_put_in_the_given_order_and_names_it_lacks_keep_theirs_after() -> None:
    results = [InstanceStop(name, "stopped") for name in ("b-1", "x-2", "a-1", "x-1")]

    ordered = in_order(results, ["a-1", "b-1"])

    assert [result.name for result in ordered] == ["a-1", "b-1", "x-2", "x-1"]


def test_a_misrecorded_pid_is_never_signalled_and_says_the_file_was_edited() -> None:
    state = _state("w-1", Liveness.MISRECORDED)._replace(record=_record("w-1", 4242)._replace(session=4000))

    target, outcome = classify(state, None)

    assert target is None
    assert outcome is not None and outcome.outcome == "stale"
    assert "never led the session the file records (4000)" in outcome.detail and "not signalled" in outcome.detail
