"""`cluster logs` through the real CLI, on log files the tests write themselves."""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from support.sandbox import Sandbox
from tasker_cluster.project import Project

from .conftest import FollowedLogs, RunCli, append

ANSI_ESCAPE = "\x1b["


def _fill(project: Project, instance: str, count: int) -> None:
    append(project, instance, "".join(f"{instance} line {number}\n" for number in range(1, count + 1)))


def test_prefixes_are_padded_to_the_longest_selected_name(project: Project, run_cli: RunCli) -> None:
    _fill(project, "orchestration-1", 1)
    _fill(project, "worker-b-1", 1)

    result = run_cli("logs")

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "orchestration-1 | orchestration-1 line 1",
        "worker-b-1      | worker-b-1 line 1",
    ]


def test_lines_option_shows_the_last_n_lines_of_each_log_grouped_in_topology_order(
    project: Project, run_cli: RunCli
) -> None:
    # Written in reverse topology order: the output order must come from the topology, not from the files.
    _fill(project, "worker-a-2", 5)
    _fill(project, "orchestration-2", 5)

    result = run_cli("logs", "-n", "2")

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "orchestration-2 | orchestration-2 line 4",
        "orchestration-2 | orchestration-2 line 5",
        "worker-a-2      | worker-a-2 line 4",
        "worker-a-2      | worker-a-2 line 5",
    ]


def test_default_shows_twenty_lines(project: Project, run_cli: RunCli) -> None:
    _fill(project, "worker-a-1", 50)

    result = run_cli("logs", "worker-a-1")

    lines = result.stdout.splitlines()
    assert len(lines) == 20
    assert lines[0] == "worker-a-1 | worker-a-1 line 31"


def test_role_flags_select_orchestration_or_workers(project: Project, run_cli: RunCli) -> None:
    for instance in ("orchestration-1", "worker-a-1", "worker-b-1"):
        _fill(project, instance, 1)

    orchestration = run_cli("logs", "--orchestration")
    workers = run_cli("logs", "--workers")

    assert orchestration.stdout.splitlines() == ["orchestration-1 | orchestration-1 line 1"]
    assert workers.stdout.splitlines() == ["worker-a-1 | worker-a-1 line 1", "worker-b-1 | worker-b-1 line 1"]


def test_a_service_name_selects_its_instances(project: Project, run_cli: RunCli) -> None:
    for instance in ("worker-a-1", "worker-a-2", "worker-b-1"):
        _fill(project, instance, 1)

    result = run_cli("logs", "worker-a")

    assert result.stdout.splitlines() == ["worker-a-1 | worker-a-1 line 1", "worker-a-2 | worker-a-2 line 1"]


def test_log_of_an_instance_beyond_the_topology_count_is_shown_but_other_files_are_not(
    project: Project, run_cli: RunCli
) -> None:
    _fill(project, "worker-b-3", 1)
    _fill(project, "postgres", 1)

    result = run_cli("logs")

    assert result.stdout.splitlines() == ["worker-b-3      | worker-b-3 line 1"]


def test_unfinished_last_line_is_shown_without_follow(project: Project, run_cli: RunCli) -> None:
    append(project, "worker-a-1", "complete\npanicked at")

    result = run_cli("logs", "worker-a-1")

    assert result.stdout.splitlines() == ["worker-a-1 | complete", "worker-a-1 | panicked at"]


def test_log_content_is_printed_verbatim_not_as_markup(project: Project, run_cli: RunCli) -> None:
    append(project, "worker-a-1", "[bold]not bold[/bold] :smile: \xe9\n")

    result = run_cli("logs", "worker-a-1")

    assert result.stdout == "worker-a-1 | [bold]not bold[/bold] :smile: \xe9\n"


def test_unknown_name_exits_2_listing_valid_names(project: Project, run_cli: RunCli) -> None:
    result = run_cli("logs", "orchestration-9")

    assert result.returncode == 2
    assert result.stderr.startswith("error: unknown instance orchestration-9")
    assert "orchestration-1, orchestration-2, worker-a-1, worker-a-2, worker-b-1" in result.stderr
    assert "Traceback" not in result.stderr


def test_no_log_file_for_any_selected_instance_exits_1_naming_start_all(project: Project, run_cli: RunCli) -> None:
    _fill(project, "orchestration-1", 1)

    result = run_cli("logs", "--workers")

    assert result.returncode == 1
    assert "no log file for worker-a-1, worker-a-2, worker-b-1" in result.stderr
    assert "cluster start-all" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_log_among_existing_ones_is_one_line_on_stderr(project: Project, run_cli: RunCli) -> None:
    _fill(project, "worker-a-1", 1)

    result = run_cli("logs", "worker-a")

    assert result.returncode == 0
    assert result.stdout.splitlines() == ["worker-a-1 | worker-a-1 line 1"]
    assert result.stderr.count("\n") == 1
    assert "no log yet for worker-a-2" in result.stderr


def test_prefix_colors_are_the_same_every_run_and_only_when_forced_or_on_a_tty(
    project: Project, run_cli: RunCli
) -> None:
    _fill(project, "orchestration-1", 1)
    _fill(project, "worker-a-1", 1)

    # Different hash seeds: a color derived from hash() would change between these runs.
    first = run_cli("logs", env={"FORCE_COLOR": "1", "PYTHONHASHSEED": "1"})
    second = run_cli("logs", env={"FORCE_COLOR": "1", "PYTHONHASHSEED": "2"})
    plain = run_cli("logs")
    no_color = run_cli("logs", env={"FORCE_COLOR": "1", "NO_COLOR": "1"})

    assert ANSI_ESCAPE in first.stdout
    assert first.stdout == second.stdout
    assert first.stdout.splitlines()[0] != first.stdout.splitlines()[1].replace("worker-a-1     ", "orchestration-1")
    assert ANSI_ESCAPE not in plain.stdout
    assert ANSI_ESCAPE not in no_color.stdout
    # The colored and the plain (pipe) renderings lay lines out identically.
    assert re.sub(r"\x1b\[[0-9;]*m", "", first.stdout) == plain.stdout == no_color.stdout


def test_follow_prints_appended_lines_and_joins_a_line_written_in_pieces(
    project: Project, follow_logs: Callable[..., FollowedLogs]
) -> None:
    _fill(project, "orchestration-1", 3)
    append(project, "worker-a-1", "started\nhalf")
    followed = follow_logs("-n", "1")
    shown = followed.wait_for("worker-a-1      | started")

    append(project, "worker-a-1", " and the rest\n")
    joined = followed.wait_for("worker-a-1      | half and the rest")
    append(project, "orchestration-1", "appended\n")
    appended = followed.wait_for("orchestration-1 | appended")

    assert shown == ["orchestration-1 | orchestration-1 line 3", "worker-a-1      | started"]
    assert joined == ["worker-a-1      | half and the rest"]
    assert appended == ["orchestration-1 | appended"]


def test_follow_picks_up_a_log_created_after_it_began(
    project: Project, follow_logs: Callable[..., FollowedLogs]
) -> None:
    _fill(project, "orchestration-1", 1)
    followed = follow_logs()
    followed.wait_for("orchestration-1 | orchestration-1 line 1")

    append(project, "worker-b-1", "first words\n")

    followed.wait_for("worker-b-1      | first words")


def test_follow_reopens_a_rotated_log_from_its_start(
    project: Project, follow_logs: Callable[..., FollowedLogs]
) -> None:
    log = project.log_file("worker-a-2")
    _fill(project, "worker-a-2", 2)
    followed = follow_logs("worker-a-2")
    followed.wait_for("worker-a-2 | worker-a-2 line 2")

    append(project, "worker-a-2", "last words before rotation\n")
    os.replace(log, log.with_name("worker-a-2.log.1"))
    append(project, "worker-a-2", "new process\n")

    seen = followed.wait_for("worker-a-2 | new process")
    assert "worker-a-2 | last words before rotation" in seen


def test_ctrl_c_while_following_exits_0_without_traceback(
    project: Project, follow_logs: Callable[..., FollowedLogs]
) -> None:
    _fill(project, "worker-b-1", 1)
    followed = follow_logs()
    followed.wait_for("worker-b-1      | worker-b-1 line 1")

    returncode, stderr = followed.interrupt()

    assert returncode == 0
    assert "Traceback" not in stderr
    assert "KeyboardInterrupt" not in stderr


def test_lines_beyond_the_length_of_a_log_show_all_of_it_plain_and_followed(
    project: Project, run_cli: RunCli, follow_logs: Callable[..., FollowedLogs]
) -> None:
    _fill(project, "worker-a-1", 15)
    everything = [f"worker-a-1 | worker-a-1 line {number}" for number in range(1, 16)]

    twenty = run_cli("logs", "worker-a-1", "-n", "20")
    sixteen = run_cli("logs", "worker-a-1", "-n", "16")
    fifteen = run_cli("logs", "worker-a-1", "-n", "15")
    followed = follow_logs("worker-a-1", "-n", "20")

    assert twenty.stdout.splitlines() == sixteen.stdout.splitlines() == fifteen.stdout.splitlines() == everything
    assert followed.wait_for(everything[-1]) == everything


def test_timestamps_of_a_log_not_written_by_the_log_writer_are_a_dash(project: Project, run_cli: RunCli) -> None:
    append(project, "worker-a-1", "written by hand\n")

    result = run_cli("logs", "worker-a-1", "--timestamps")

    assert result.stdout == "worker-a-1 | -                       written by hand\n"


def test_a_running_instance_without_a_log_is_said_to_have_written_nothing_yet(sandbox: Sandbox) -> None:
    silent = ["{python}", "-c", "import time; time.sleep(120)"]
    sandbox.write_topology({"sleeper": {"role": "worker", "count": 2, "base_port": sandbox.base, "command": silent}})
    assert sandbox.start(["sleeper-1"], wait=False).ok
    assert not sandbox.project.log_file("sleeper-1").exists()  # the log writer creates it with the first output

    one = sandbox.cli("logs", "sleeper-1")
    both = sandbox.cli("logs")

    assert one.returncode == 0, one.stderr
    assert one.stdout == ""
    assert re.fullmatch(
        r"sleeper-1 has run for \d+s and written nothing yet \(its log starts with its first output\)\n", one.stderr
    )
    # One that runs and one that never started: each is named for what it is.
    assert both.returncode == 0, both.stderr
    assert both.stderr.splitlines()[0].startswith("sleeper-1 has run for ")
    assert both.stderr.splitlines()[1].startswith("no log yet for sleeper-2 in ")
