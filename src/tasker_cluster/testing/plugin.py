"""pytest plugin (entry point `tasker_cluster`): tier markers, the `cluster` and `manager` fixtures, figures.

Loaded by every pytest run in an environment where this package is installed, so module level stays cheap: the
harness is imported only when a fixture is used.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tasker_cluster.testing.blocking import BlockingManager
    from tasker_cluster.testing.provision import ClusterUnderTest

# Highest tier first: a test's tier is its highest tier marker.
TIER_MARKERS: tuple[str, ...] = ("cluster", "services", "messaging", "db")
MARKERS = {
    "db": "needs a PostgreSQL server",
    "messaging": "needs PostgreSQL with PGMQ",
    "services": "needs one orchestration and one worker instance running",
    "cluster": "needs a multi-instance cluster running",
    "not_cluster": "skipped when the suite targets a cluster",
}
SOURCE_ENV = "TASKER_TEST_CLUSTER_SOURCE"
CLUSTER_SOURCES = ("start", "env", "compose")
TARGET_ENV = "TASKER_TEST_TARGET_CLUSTER"
ALLOW_FAULTS_ENV = "TASKER_TEST_ALLOW_FAULTS"
FIGURES_PROPERTY = "figures"
# An earlier test may have just restarted instances; a healthy cluster passes this at the first probe.
_READY_TIMEOUT = 60.0


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tasker-cluster", "tasker-cluster test harness")
    group.addoption(
        "--target-cluster",
        action="store_true",
        default=os.environ.get(TARGET_ENV, "") not in ("", "0"),
        help=f"the suite targets a multi-instance cluster: skip `not_cluster` tests (env {TARGET_ENV}=1)",
    )
    group.addoption(
        "--keep-cluster",
        action="store_true",
        default=False,
        help="leave a cluster the session started running after the tests (its folder is printed)",
    )
    group.addoption(
        "--allow-faults",
        action="store_true",
        default=os.environ.get(ALLOW_FAULTS_ENV, "") not in ("", "0"),
        help="let fault scenarios kill -9 and restart instances of a running cluster this session did not start "
        f"(a throwaway cluster always allows them; env {ALLOW_FAULTS_ENV}=1)",
    )
    group.addoption(
        "--cluster-source",
        choices=CLUSTER_SOURCES,
        default=os.environ.get(SOURCE_ENV) or "start",
        help="start: a throwaway cluster of the project's topology, stopped at the end (the default); env: the "
        "running cluster named by TASKER_TEST_ORCHESTRATION_URLS (environment, else .env): the tests write tasks "
        "into its database; compose: the project's topology as a podman-compose deployment, built and taken down "
        f"here (env {SOURCE_ENV})",
    )


def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    source = config.getoption("cluster_source", "start")
    if source not in CLUSTER_SOURCES:
        # The environment's value is the option's default, which argparse does not check against its choices.
        raise pytest.UsageError(
            f"{SOURCE_ENV}={source} is not a cluster source\n  fix: use one of: {', '.join(CLUSTER_SOURCES)}"
        )


def tier_of(item: pytest.Item) -> str:
    return next((marker for marker in TIER_MARKERS if item.get_closest_marker(marker)), "unit")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    target = config.getoption("target_cluster")
    skip = pytest.mark.skip(reason="not_cluster: skipped because the suite targets a cluster")
    # A compose deployment is built and started in the setup of the first test that uses it: minutes that must
    # not count against that one test's timeout (pytest-timeout then times each test's own body).
    body_only = config.getoption("cluster_source") == "compose" and config.pluginmanager.hasplugin("timeout")
    for item in items:
        # A JUnit property, so `cluster test` can count results per tier without re-deriving markers.
        item.user_properties.append(("tier", tier_of(item)))
        if target and item.get_closest_marker("not_cluster"):
            item.add_marker(skip)
        if body_only and "cluster" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.timeout(func_only=True))


class ScenarioFigures:
    """Key figures of a scenario (tasks, duration, rate): shown in the terminal summary and the JUnit report."""

    def __init__(self, item: pytest.Item) -> None:
        self._item = item

    def report(self, **values: object) -> str:
        text = ", ".join(f"{key}={value}" for key, value in values.items())
        self._item.user_properties.append((FIGURES_PROPERTY, text))
        return text

    def throughput(self, tasks: int, seconds: float, **extra: object) -> str:
        rate = tasks / seconds if seconds > 0 else float("inf")
        return self.report(tasks=tasks, duration_s=f"{seconds:.2f}", tasks_per_s=f"{rate:.1f}", **extra)


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> ScenarioFigures:
    return ScenarioFigures(request.node)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    shown = [
        (report.nodeid, str(value))
        for reports in terminalreporter.stats.values()
        for report in reports
        if isinstance(report, pytest.TestReport) and report.when == "call"
        for name, value in report.user_properties
        if name == FIGURES_PROPERTY
    ]
    if shown:
        terminalreporter.section("scenario figures")
        for nodeid, text in sorted(shown):
            terminalreporter.write_line(f"{nodeid}: {text}")


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest) -> Iterator[ClusterUnderTest]:
    """The cluster under test, for the whole session: a throwaway one started with the project's topology on free
    ports (stopped at the end unless --keep-cluster), or with --cluster-source env the running one named by
    TASKER_TEST_ORCHESTRATION_URLS."""
    from tasker_cluster.testing.session_cluster import acquire_cluster

    config = request.config
    _unwind_on_sigterm()
    target = acquire_cluster(Path(config.rootpath), config.getoption("cluster_source"), _announcer(config))
    try:
        yield target
    finally:
        if target.started_here and config.getoption("keep_cluster"):
            _report_kept(config, target)
        else:
            target.shutdown()


def _unwind_on_sigterm() -> None:
    """A CI job killed with SIGTERM would otherwise die on the spot and leave the cluster it started running (its
    instances live in their own sessions). Raising KeyboardInterrupt instead lets pytest run the teardown."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, signal.default_int_handler)


def _report_kept(config: pytest.Config, target: ClusterUnderTest) -> None:
    if target.kept_note is not None:
        _announcer(config)(target.kept_note)
    elif target.project is not None:
        _announcer(config)(
            f"kept the test cluster in {target.project.root}; stop it with "
            f"`cluster --project-dir {target.project.root} stop --with-db`"
        )


def _announcer(config: pytest.Config) -> Callable[[str], None]:
    """Lines for the terminal while the session's cluster starts or stops (fixtures run under output capture)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")

    def announce(line: str) -> None:
        if reporter is None:
            return
        with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
            reporter.write_line(line)

    return announce


@pytest.fixture
def manager(cluster: ClusterUnderTest, request: pytest.FixtureRequest) -> Iterator[BlockingManager]:
    """A MultiInstanceTestManager on the session's cluster, as plain (blocking) calls, once every instance is
    ready; fresh per test, so its record of what it created, which instance served it and what it retried covers
    this test only. Every task it creates carries the test's marker tag (`manager.marker`)."""
    from tasker_cluster.testing.blocking import BlockingManager
    from tasker_cluster.testing.manager import new_marker

    with BlockingManager.open(cluster.config, marker=new_marker(request.node.name)) as opened:
        opened.wait_for_healthy(_READY_TIMEOUT)
        yield opened
