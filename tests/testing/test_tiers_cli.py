"""`cluster test` end to end: a real pytest subprocess on a small project whose tests are marked by tier."""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

TIERED_TESTS = """
import pytest

def test_plain():
    pass

@pytest.mark.db
def test_needs_db():
    pass

@pytest.mark.messaging
def test_needs_messaging():
    pass

@pytest.mark.services
def test_needs_services():
    pass

@pytest.mark.cluster
def test_needs_cluster(figures):
    figures.throughput(tasks=10, seconds=2.0)

@pytest.mark.not_cluster
def test_single_instance_only():
    pass
"""


def _project(root: Path, tests: dict[str, str]) -> Path:
    (root / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    (root / "tests").mkdir()
    for name, text in tests.items():
        (root / "tests" / name).write_text(text)
    return root


def _cluster_test(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # The outer pytest's own variables must not steer the inner run.
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "TASKER_TEST_"))}
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "tasker_cluster", "--project-dir", str(project), "test", *args],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=100,
    )


def _summary_row(output: str, tier: str) -> list[str]:
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip("│┃|").split("│")]
        if cells and cells[0] == tier:
            return cells
    raise AssertionError(f"no summary row for {tier} in:\n{output}")


def test_a_tier_runs_itself_and_the_tiers_below_and_counts_each(tmp_path: Path) -> None:
    project = _project(tmp_path, {"test_tiers.py": TIERED_TESTS})
    result = _cluster_test(project, "db", "--workers", "0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _summary_row(result.stdout, "unit")[1:5] == ["2", "0", "0", "0"]
    assert _summary_row(result.stdout, "db")[1:5] == ["1", "0", "0", "0"]
    assert "test_needs_messaging" not in result.stdout
    assert "phase db: passed" in result.stdout


def test_a_failing_test_gives_pytests_exit_code_and_is_counted(tmp_path: Path) -> None:
    project = _project(tmp_path, {"test_fails.py": "def test_broken():\n    assert 1 == 2\n"})
    result = _cluster_test(project, "unit", "--workers", "0")
    assert result.returncode == 1
    assert _summary_row(result.stdout, "unit")[1:3] == ["0", "1"]
    assert "failed (pytest exit 1)" in result.stdout


def test_no_tests_collected_is_reported_as_a_failure(tmp_path: Path) -> None:
    project = _project(tmp_path, {"test_db_only.py": "import pytest\n\n@pytest.mark.db\ndef test_x():\n    pass\n"})
    result = _cluster_test(project, "unit", "--workers", "0")
    assert result.returncode == 5
    assert "no tests were collected for unit" in result.stdout


def test_arguments_after_the_double_dash_reach_pytest(tmp_path: Path) -> None:
    project = _project(tmp_path, {"test_tiers.py": TIERED_TESTS})
    result = _cluster_test(project, "unit", "--workers", "0", "--", "-k", "plain")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _summary_row(result.stdout, "unit")[1] == "1"


def test_all_runs_every_tier_and_shows_the_scenario_figures(tmp_path: Path) -> None:
    project = _project(tmp_path, {"test_tiers.py": TIERED_TESTS})
    result = _cluster_test(project, "all", "--workers", "0")
    assert result.returncode == 0, result.stdout + result.stderr
    for tier in ("unit", "db", "messaging", "services", "cluster"):
        assert _summary_row(result.stdout, tier)[1] != "0"
    # `all` runs the single-instance test in the first phase instead of skipping it.
    assert _summary_row(result.stdout, "unit")[1:5] == ["2", "0", "0", "0"]
    assert "tasks=10, duration_s=2.00, tasks_per_s=5.0" in result.stdout


def test_the_cluster_tier_skips_tests_marked_not_cluster(tmp_path: Path) -> None:
    project = _project(tmp_path, {"test_tiers.py": TIERED_TESTS})
    result = _cluster_test(project, "cluster", "--workers", "0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _summary_row(result.stdout, "unit")[1:5] == ["1", "0", "0", "1"]


def test_skipped_cluster_scenarios_are_named_on_the_last_line(tmp_path: Path) -> None:
    skipping = "import pytest\n\n@pytest.mark.cluster\ndef test_scenario():\n    pytest.skip('no faults here')\n"
    project = _project(tmp_path, {"test_plain.py": "def test_plain():\n    pass\n", "test_skips.py": skipping})
    result = _cluster_test(project, "cluster", "--workers", "0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().splitlines()[-1] == (
        "total: 1 passed, 0 failed, 1 skipped; 1 cluster scenario skipped: this run did not prove what they check"
    )


@pytest.mark.parametrize("tier", ["e2e"])
def test_an_unknown_tier_exits_2_with_the_valid_tiers(tmp_path: Path, tier: str) -> None:
    result = _cluster_test(tmp_path, tier)
    assert result.returncode == 2
    assert "unknown test tier 'e2e'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_killed_pytest_is_reported_without_counts_and_fails_the_run(tmp_path: Path) -> None:
    killer = "import os, signal\n\ndef test_kills_its_own_pytest():\n    os.kill(os.getpid(), signal.SIGKILL)\n"
    project = _project(tmp_path, {"test_killed.py": killer})
    result = _cluster_test(project, "unit", "--workers", "0")
    assert result.returncode == 128 + 9
    assert "failed (pytest exit 137)" in result.stdout
    assert "no test counts for unit: pytest was killed by signal 9 before writing its JUnit report" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


INTERRUPTED_TESTS = """
import time
from pathlib import Path

import pytest

@pytest.fixture(scope="session")
def deployment():
    yield
    # What a compose deployment's teardown stands for: work that must finish after a Ctrl-C.
    time.sleep(1)
    Path("torn-down").write_text("yes")

def test_passes_before_the_interrupt(deployment):
    pass

def test_waits_for_ctrl_c(deployment):
    Path("started").write_text("yes")
    time.sleep(60)
"""


def test_ctrl_c_reaches_pytest_and_its_teardown_runs_to_the_end(tmp_path: Path) -> None:
    project = _project(tmp_path, {"test_interrupted.py": INTERRUPTED_TESTS})
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "TASKER_TEST_"))}
    argv = [sys.executable, "-m", "tasker_cluster", "--project-dir", str(project), "test", "unit", "--workers", "0"]
    options = {"cwd": project, "env": env, "stdin": subprocess.DEVNULL, "stdout": subprocess.PIPE, "text": True}
    with subprocess.Popen(argv, **options) as run:
        deadline = time.monotonic() + 60
        while not (project / "started").exists():
            assert run.poll() is None and time.monotonic() < deadline, "the test never started"
            time.sleep(0.05)
        # Only the runner is signalled, as a terminal's Ctrl-C reaches the foreground process group it leads.
        run.send_signal(signal.SIGINT)
        output, _ = run.communicate(timeout=60)
    assert (project / "torn-down").read_text() == "yes", output
    assert run.returncode == 2, output
    assert "failed (pytest exit 2)" in output
    # The interrupted test is neither passed nor failed: it did not finish.
    assert "total: 1 passed, 0 failed, 0 skipped" in output


def test_only_runs_just_the_named_tier(tmp_path: Path) -> None:
    project = _project(tmp_path, {"test_tiers.py": TIERED_TESTS})
    result = _cluster_test(project, "cluster", "--only", "--workers", "0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert _summary_row(result.stdout, "cluster")[1:5] == ["1", "0", "0", "0"]
    assert "│ unit" not in result.stdout and "phase unit..services" not in result.stdout
    assert "phase cluster: passed" in result.stdout


def test_paths_that_hold_only_cluster_tests_pass_without_the_tiers_below(tmp_path: Path) -> None:
    scenario = "import pytest\n\n@pytest.mark.cluster\ndef test_scenario():\n    pass\n"
    project = _project(tmp_path, {"test_plain.py": "def test_plain():\n    pass\n", "test_scenario.py": scenario})
    result = _cluster_test(project, "cluster", "--workers", "0", "--", "tests/test_scenario.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "phase unit..services: no test of this phase among the tests the pytest arguments chose" in result.stdout
    assert _summary_row(result.stdout, "cluster")[1] == "1"


def test_a_phase_under_xdist_that_the_arguments_leave_empty_is_skipped_without_running(tmp_path: Path) -> None:
    """Its run would start the xdist workers to collect nothing; collecting alone says so first."""
    scenario = "import pytest\n\n@pytest.mark.cluster\ndef test_scenario():\n    pass\n"
    project = _project(tmp_path, {"test_plain.py": "def test_plain():\n    pass\n", "test_scenario.py": scenario})
    result = _cluster_test(project, "cluster", "--workers", "2", "--", "tests/test_scenario.py")
    assert result.returncode == 0, result.stdout + result.stderr
    skipped = "skipped: none of the tests the pytest arguments chose is in this phase (collected, not run)"
    assert f"== cluster test: unit..services  {skipped}" in result.stdout
    assert "phase unit..services: skipped: none of the tests the pytest arguments chose is in it" in result.stdout
    assert "-n 2" not in result.stdout, "the phase's pytest (with its xdist workers) never ran"
    assert _summary_row(result.stdout, "cluster")[1] == "1"


def test_the_summary_gives_short_test_times_to_the_hundredth_and_pytests_own_session_time(tmp_path: Path) -> None:
    sleeping = "import time\n\ndef test_sleeps():\n    time.sleep(0.03)\n"
    project = _project(tmp_path, {"test_sleeps.py": sleeping})
    result = _cluster_test(project, "unit", "--workers", "0")
    assert result.returncode == 0, result.stdout + result.stderr
    shown = _summary_row(result.stdout, "unit")[5]
    assert re.fullmatch(r"\d\.\d\d s", shown) and float(shown.split()[0]) >= 0.03, shown
    phase = re.search(r"phase unit: passed in \S+ s \(pytest's session \d+\.\d+ s, its tests (\S+ s)\)", result.stdout)
    assert phase, result.stdout
    assert phase[1] == shown


def test_arguments_that_select_nothing_in_any_phase_still_fail_with_5(tmp_path: Path) -> None:
    project = _project(tmp_path, {"test_tiers.py": TIERED_TESTS})
    result = _cluster_test(project, "cluster", "--workers", "0", "--", "-k", "no_such_test")
    assert result.returncode == 5
    assert "no tests were collected for cluster" in result.stdout


def test_on_a_terminal_a_live_line_counts_the_outcomes_while_the_tier_runs(tmp_path: Path) -> None:
    slow = (
        "import time, pytest\n\n"
        "@pytest.mark.parametrize('n', range(6))\ndef test_slow(n):\n    time.sleep(0.3)\n    assert n != 4\n\n"
        "def test_skipped():\n    pytest.skip('not here')\n"
    )
    project = _project(tmp_path, {"test_slow.py": slow})
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "TASKER_TEST_"))}
    env.update(TERM="xterm-256color", COLUMNS="120")
    controller, terminal = pty.openpty()
    run = subprocess.Popen(
        [sys.executable, "-m", "tasker_cluster", "--project-dir", str(project), "test", "unit", "--workers", "0"],
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
        env=env,
    )
    os.close(terminal)
    seen = bytearray()
    try:
        while True:
            ready, _, _ = select.select([controller], [], [], 60)
            assert ready, f"no output for 60 s: {bytes(seen)[-2000:]!r}"
            try:
                chunk = os.read(controller, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        code = run.wait(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
        os.close(controller)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", bytes(seen).decode(errors="replace"))
    assert code == 1
    # The line as the run went: some outcomes counted before the last, the failure and the skip counted by the end.
    assert re.search(r"unit: [1-5]/7 tests {2}[1-5] passed", text), text[-3000:]
    assert re.search(r"unit: 7/7 tests {2}5 passed {2}1 failed {2}1 skipped", text), text[-3000:]
    # pytest's own output still shows, above the line.
    assert "test_slow.py" in text and "1 failed, 5 passed, 1 skipped" in text
