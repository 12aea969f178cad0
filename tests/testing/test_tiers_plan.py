from itertools import pairwise
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tasker_cluster.errors import ClusterError
from tasker_cluster.testing.tiers import (
    Phase,
    PhaseResult,
    TierCounts,
    marker_expression,
    overall_exit_code,
    plan,
    pytest_argv,
    read_junit,
    read_report,
    total_line,
)


def test_each_tier_excludes_only_the_tiers_above_it() -> None:
    assert marker_expression("unit") == "not (db or messaging or services or cluster)"
    assert marker_expression("db") == "not (messaging or services or cluster)"
    assert marker_expression("messaging") == "not (services or cluster)"
    assert marker_expression("services") == "not (cluster)"
    assert marker_expression("cluster") == ""


def test_tiers_below_cluster_run_as_one_parallel_phase() -> None:
    assert plan("messaging", workers=2) == [Phase("messaging", "not (services or cluster)", 2)]


def test_the_cluster_tier_runs_in_one_process_after_the_others_then_again_on_compose() -> None:
    first, second, third = plan("all", workers=2)
    assert (first.marker, first.workers, first.target_cluster) == ("not (cluster)", 2, False)
    assert (second.marker, second.workers, second.target_cluster, second.cluster_source) == ("cluster", 0, True, None)
    assert (third.marker, third.workers, third.target_cluster, third.cluster_source) == ("cluster", 0, True, "compose")


def test_the_compose_tier_is_the_cluster_tier_alone_against_a_compose_deployment(tmp_path: Path) -> None:
    [phase] = plan("compose", workers=2)
    argv = pytest_argv(phase, tmp_path / "r.xml", ["-k", "burst"], python="py", running=True)
    pairs = list(pairwise(argv))
    assert ("-m", "cluster") in pairs and ("--cluster-source", "compose") in pairs
    assert "--target-cluster" in argv and "-n" not in argv
    assert argv[-2:] == ["-k", "burst"]


def test_the_cluster_tier_targets_the_cluster_in_every_phase_so_not_cluster_tests_skip() -> None:
    assert all(phase.target_cluster for phase in plan("cluster", workers=2))


def test_an_unknown_tier_is_a_usage_error_listing_the_tiers() -> None:
    with pytest.raises(ClusterError) as raised:
        plan("e2e")
    assert raised.value.exit_code == 2
    assert "unit, db, messaging, services, cluster, compose, all" in raised.value.fix


def test_pytest_argv_is_a_list_with_markers_workers_and_passthrough_args(tmp_path) -> None:
    argv = pytest_argv(Phase("db", "not (messaging)", 2), tmp_path / "r.xml", ["-k", "x y"], python="py")
    assert argv[:3] == ["py", "-m", "pytest"]
    assert argv[argv.index("-m", 3) + 1] == "not (messaging)"
    assert argv[argv.index("-n") + 1] == "2"
    assert argv[-2:] == ["-k", "x y"]
    assert f"--junitxml={tmp_path / 'r.xml'}" in argv


def test_a_report_cut_short_is_an_unreadable_report_not_a_crash(tmp_path: Path) -> None:
    report = tmp_path / "phase-1-unit.xml"
    report.write_text('<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest"><testcase ')
    with pytest.raises(ElementTree.ParseError):
        read_junit(report)
    tiers, figures, problem, _ = read_report(report, 137)
    assert (tiers, figures) == ([], [])
    assert problem is not None and "phase-1-unit.xml is cut short or malformed" in problem
    assert problem.endswith("pytest was killed by signal 9")


def test_the_report_gives_pytests_session_time_beside_each_tiers_tests_time(tmp_path: Path) -> None:
    report = tmp_path / "phase-1-unit.xml"
    report.write_text(
        '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" time="3.55">'
        '<testcase name="a" time="0.002"/><testcase name="b" time="0.001"/></testsuite></testsuites>'
    )
    tiers, _, problem, session = read_report(report, 0)
    assert problem is None and session == 3.55
    assert [(counts.tier, counts.passed, round(counts.duration, 3)) for counts in tiers] == [("collection", 2, 0.003)]


def test_a_usage_error_is_not_reported_as_a_kill(tmp_path: Path) -> None:
    _, _, problem, _ = read_report(tmp_path / "never-written.xml", 4)
    assert problem == "pytest exited 4 before writing its JUnit report"


def test_the_cluster_tier_gets_a_throwaway_cluster_unless_the_running_one_is_asked_for(tmp_path: Path) -> None:
    phase = Phase("cluster", "cluster", 0, target_cluster=True)
    default = pytest_argv(phase, tmp_path / "r.xml")
    assert default[default.index("--cluster-source") + 1] == "start"
    running = pytest_argv(phase, tmp_path / "r.xml", running=True)
    assert running[running.index("--cluster-source") + 1] == "env"


def _result(*tiers: TierCounts) -> PhaseResult:
    return PhaseResult(Phase("x", "", 0), [], 0, 1.0, list(tiers))


def test_the_last_line_says_when_cluster_scenarios_were_skipped() -> None:
    clean = [_result(TierCounts("unit", passed=3, skipped=1), TierCounts("cluster", passed=2))]
    assert total_line(clean) == "total: 5 passed, 0 failed, 1 skipped"
    skipped = [_result(TierCounts("unit", passed=3), TierCounts("cluster", passed=2, skipped=3, failed=1))]
    assert total_line(skipped) == (
        "total: 5 passed, 1 failed, 3 skipped; 3 cluster scenarios skipped: this run did not prove what they check"
    )
    one = [_result(TierCounts("cluster", passed=2, skipped=1))]
    assert total_line(one) == (
        "total: 2 passed, 0 failed, 1 skipped; 1 cluster scenario skipped: this run did not prove what they check"
    )


def test_only_selects_one_tier_by_its_highest_marker() -> None:
    assert marker_expression("unit", only=True) == "not (db or messaging or services or cluster)"
    assert marker_expression("db", only=True) == "db and not (messaging or services or cluster)"
    assert marker_expression("services", only=True) == "services and not (cluster)"
    assert marker_expression("cluster", only=True) == "cluster"


def test_only_plans_one_phase_and_the_cluster_tier_alone_targets_the_cluster() -> None:
    assert plan("messaging", workers=2, only=True) == [Phase("messaging", "messaging and not (services or cluster)", 2)]
    assert plan("cluster", workers=2, only=True) == [Phase("cluster", "cluster", 0, target_cluster=True)]


def test_only_with_all_is_a_usage_error() -> None:
    with pytest.raises(ClusterError) as raised:
        plan("all", only=True)
    assert raised.value.exit_code == 2
    assert "name one tier with --only" in raised.value.fix


def _phase(code: int, *, narrowed: bool) -> PhaseResult:
    return PhaseResult(Phase("x", "", 0), [], code, 1.0, narrowed=narrowed)


def test_a_phase_with_no_test_among_those_the_arguments_chose_is_no_failure_unless_none_has_any() -> None:
    assert overall_exit_code([_phase(5, narrowed=True), _phase(0, narrowed=True)]) == 0
    assert overall_exit_code([_phase(5, narrowed=True), _phase(1, narrowed=True)]) == 1
    assert overall_exit_code([_phase(5, narrowed=True), _phase(5, narrowed=True)]) == 5
    assert overall_exit_code([_phase(5, narrowed=False), _phase(0, narrowed=False)]) == 5
