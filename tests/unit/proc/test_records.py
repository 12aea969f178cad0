"""Which processes are an instance's, decided from a scripted process table: nothing is read from /proc for them."""

from __future__ import annotations

from tasker_cluster.proc.ports import unseen_holder
from tasker_cluster.proc.processes import ProcessStat, ProcessTable
from tasker_cluster.proc.records import InstanceRecord, Liveness, escaped, liveness, session_survivors
from unit.fakes import NO_SUCH_PID

LEADER = NO_SUCH_PID  # gone: no process can have this pid
START = 5000


def _record(token: str = "tok", **changes: object) -> InstanceRecord:
    record = InstanceRecord(
        "worker-1", LEADER, 1.0, ["x"], 1, "http://127.0.0.1:1", "worker", "worker", "l", "t",
        start_ticks=START, boot_id="", session=LEADER, token=token,
    )  # fmt: skip
    return record._replace(**changes)


def _stat(pid: int, session: int = LEADER, start: int = START + 10, state: str = "S") -> ProcessStat:
    return ProcessStat(pid, state, session, session, start)


def test_once_the_leader_is_gone_only_marked_running_members_of_its_session_count() -> None:
    table = ProcessTable(
        [
            _stat(NO_SUCH_PID + 1),  # ours: marked, in the session
            _stat(NO_SUCH_PID + 2),  # unmarked (cleared its environment, or not ours)
            _stat(NO_SUCH_PID + 3, state="Z"),  # exited
            _stat(NO_SUCH_PID + 4, start=START - 1),  # older than the instance
            _stat(NO_SUCH_PID + 5, session=77),  # another session
        ],
        {NO_SUCH_PID + pid: "tok" for pid in (1, 3, 4, 5)},
    )

    assert session_survivors(_record(), table) == [NO_SUCH_PID + 1]
    assert liveness(_record(), table) is Liveness.SESSION
    assert liveness(_record(token="other"), table) is Liveness.DEAD


def test_a_gone_pid_that_never_led_the_recorded_session_is_misrecorded_not_a_command_that_backgrounded() -> None:
    session = NO_SUCH_PID + 10
    # The session's own leader serves on, marked, with the record's start tick: the record's pid was edited.
    table = ProcessTable([_stat(session, session=session, start=START)], {session: "tok"})
    edited = _record(session=session)  # pid LEADER (gone), session led by another pid
    daemonized = _record(pid=session + 1, session=session + 1)
    table_daemonized = ProcessTable([_stat(session + 2, session=session + 1)], {session + 2: "tok"})

    assert liveness(edited, table) is Liveness.MISRECORDED
    assert not Liveness.MISRECORDED.running and Liveness.MISRECORDED.misnamed
    assert liveness(daemonized, table_daemonized) is Liveness.SESSION


def test_a_record_without_a_token_or_start_tick_has_no_session_to_outlive_it() -> None:
    table = ProcessTable([_stat(NO_SUCH_PID + 1)], {NO_SUCH_PID + 1: ""})

    assert liveness(_record(token=""), table) is Liveness.DEAD
    assert liveness(_record(start_ticks=None), table) is Liveness.DEAD


def test_a_record_of_another_boot_is_rebooted_whatever_runs() -> None:
    assert liveness(_record(boot_id="0" * 32), ProcessTable([])) is Liveness.REBOOTED


def test_escaped_processes_carry_the_token_outside_the_session_and_are_not_older_than_the_instance() -> None:
    table = ProcessTable(
        [
            _stat(NO_SUCH_PID + 1, session=900),  # escaped: setsid then forked
            _stat(NO_SUCH_PID + 2),  # still in the session: not escaped
            _stat(NO_SUCH_PID + 3, session=901, start=START - 1),  # older than the instance
            _stat(NO_SUCH_PID + 4, session=902),  # another instance's token
        ],
        {NO_SUCH_PID + 1: "tok", NO_SUCH_PID + 2: "tok", NO_SUCH_PID + 3: "tok", NO_SUCH_PID + 4: "other"},
    )

    assert escaped([_record()], table) == {"worker-1": [NO_SUCH_PID + 1]}
    assert escaped([_record(boot_id="0" * 32)], table) == {}


def test_a_port_no_process_can_be_named_for_says_why() -> None:
    listening, time_wait = "0A", "06"

    assert "only connections in TIME_WAIT hold it" in unseen_holder([(time_wait, 0), (time_wait, 0)], euid=0)
    other = unseen_holder([(listening, 0)], euid=1000)
    assert other.startswith("a process of user root (uid 0), which this user cannot see: run as root or as root")
    assert "another PID namespace" in unseen_holder([(listening, 1000)], euid=0)
    assert "no socket this network namespace can see" in unseen_holder([], euid=0)
