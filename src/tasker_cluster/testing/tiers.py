"""Test tiers -> pytest invocations, and what their JUnit reports say per tier.

Tiers nest (unit < db < messaging < services < cluster): selecting one runs every tier below it, unless `only`
asks for that tier alone. The runner plans one or two pytest runs ("phases") per request: everything below
`cluster` runs under pytest-xdist, while the cluster tier runs in a single process, because its tests share one
session-scoped cluster and two xdist workers would each start their own.
"""

from __future__ import annotations

import os
import sys
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from tasker_cluster.errors import ClusterError
from tasker_cluster.words import counted

TIERS: tuple[str, ...] = ("unit", "db", "messaging", "services", "cluster")
# `compose`: the cluster tier against the project's topology deployed with podman-compose (testing/compose_cluster).
TIER_CHOICES: tuple[str, ...] = (*TIERS, "compose", "all")
# The JUnit property the pytest plugin stamps on every test, naming its tier.
TIER_PROPERTY = "tier"
NO_TESTS_COLLECTED = 5
_STOP_EARLY_CODES = frozenset({2, 3, 4})  # interrupted, internal error, usage error: later phases would fail alike

# Runs one phase's pytest command in the project folder; its exit code.
Runner = Callable[["Phase", list[str], Path], int]


@dataclass(frozen=True)
class Phase:
    """One pytest invocation."""

    label: str
    marker: str
    workers: int
    target_cluster: bool = False
    # The plugin's --cluster-source for this run, when the phase itself decides it.
    cluster_source: str | None = None


@dataclass
class TierCounts:
    tier: str
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    duration: float = 0.0


@dataclass(frozen=True)
class PhaseResult:
    phase: Phase
    argv: list[str]
    exit_code: int
    wall_seconds: float
    tiers: list[TierCounts] = field(default_factory=list)
    figures: list[tuple[str, str]] = field(default_factory=list)
    # Why the phase has no counts, when its JUnit report is missing or cut short (pytest killed or crashed).
    report_problem: str | None = None
    # pytest arguments chose the tests (paths, -k, ...): a phase with none of them collects nothing, rightly.
    narrowed: bool = False
    # Not run: collecting alone found none of the chosen tests in it (testing/selection.py).
    skipped: bool = False
    # pytest's own session time (its JUnit report's), which its terminal line states too.
    session_seconds: float | None = None

    @property
    def empty(self) -> bool:
        """pytest collected no test for this phase."""
        return self.exit_code == NO_TESTS_COLLECTED

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 or (self.empty and self.narrowed)


def marker_expression(tier: str, *, only: bool = False) -> str:
    """The `-m` expression selecting `tier` and every tier below it ("" selects everything), or with `only` that
    tier alone (a test's tier is its highest tier marker; unmarked tests are `unit`)."""
    check_tier(tier)
    above = TIERS[TIERS.index(tier) + 1 :]
    below = f"not ({' or '.join(above)})" if above else ""
    if not only or tier == "unit":
        return below
    return f"{tier} and {below}" if below else tier


def check_tier(tier: str) -> None:
    if tier not in TIER_CHOICES:
        raise ClusterError(f"unknown test tier {tier!r}", f"use one of: {', '.join(TIER_CHOICES)}", exit_code=2)


def default_workers() -> int:
    """xdist workers for the non-cluster tiers: one per core, none on a single core (xdist's start-up is pure cost)."""
    cores = os.cpu_count() or 1
    return cores if cores > 1 else 0


def plan(tier: str, workers: int | None = None, *, only: bool = False) -> list[Phase]:
    """The pytest runs for a tier. `cluster` targets the cluster in both runs (so `not_cluster` tests are skipped,
    as the seed's `test-cluster` feature did); `all` runs `not_cluster` tests in the first run, and the cluster tier
    twice: on this machine, then against a compose deployment. `compose` is that last run alone. With `only`, one
    run of that tier alone."""
    check_tier(tier)
    count = default_workers() if workers is None else workers
    compose = Phase("compose", "cluster", 0, target_cluster=True, cluster_source="compose")
    if tier == "compose":
        return [compose]
    if only:
        if tier == "all":
            raise ClusterError(
                "--only runs one tier, and `all` is every tier",
                f"name one tier with --only ({', '.join((*TIERS, 'compose'))}), or drop --only",
                exit_code=2,
            )
        if tier == "cluster":
            return [Phase("cluster", "cluster", 0, target_cluster=True)]
        return [Phase(tier, marker_expression(tier, only=True), count)]
    if tier in ("cluster", "all"):
        targeted = tier == "cluster"
        phases = [
            Phase("unit..services", marker_expression("services"), count, target_cluster=targeted),
            Phase("cluster", "cluster", 0, target_cluster=True),
        ]
        return [*phases, compose] if tier == "all" else phases
    return [Phase(tier, marker_expression(tier), count)]


def pytest_argv(
    phase: Phase,
    junit_path: Path,
    extra_args: Sequence[str] = (),
    *,
    keep_cluster: bool = False,
    running: bool = False,
    python: str = sys.executable,
) -> list[str]:
    """The phase's pytest command. The cluster tier gets a throwaway cluster unless `running` names the user's
    (`--cluster-source env`): an explicit choice, never made because a `.env` names a cluster that answers."""
    argv = [python, "-m", "pytest", "-o", "junit_family=xunit1", f"--junitxml={junit_path}"]
    if phase.marker:
        argv += ["-m", phase.marker]
    if phase.workers:
        argv += ["-p", "xdist", "-n", str(phase.workers)]
    if phase.target_cluster:
        argv.append("--target-cluster")
    argv += ["--cluster-source", phase.cluster_source or ("env" if running else "start")]
    if keep_cluster:
        argv.append("--keep-cluster")
    return [*argv, *extra_args]


def run_phases(
    root: Path,
    phases: Sequence[Phase],
    report_dir: Path,
    extra_args: Sequence[str] = (),
    *,
    keep_cluster: bool = False,
    running: bool = False,
    on_phase: Callable[[Phase, list[str]], None] = lambda phase, argv: None,
    on_skip: Callable[[Phase], None] = lambda phase: None,
    runner: Runner | None = None,
) -> list[PhaseResult]:
    """Run each phase's pytest in `root` with `runner` (default: its output straight to this process's terminal);
    a pytest killed by signal N exits 128 + N, as a shell reports it. When pytest arguments chose the tests, a
    phase with xdist workers in a plan of several is collected alone first, and skipped when it holds none of them
    (`on_skip`), as its run would collect nothing after starting its workers."""
    from tasker_cluster.testing.progress import run_pytest
    from tasker_cluster.testing.selection import collects_nothing

    report_dir.mkdir(parents=True, exist_ok=True)
    results: list[PhaseResult] = []
    for number, phase in enumerate(phases, start=1):
        junit = report_dir / f"phase-{number}-{phase.label.replace('.', '_')}.xml"
        junit.unlink(missing_ok=True)
        argv = pytest_argv(phase, junit, extra_args, keep_cluster=keep_cluster, running=running)
        started = time.monotonic()
        if extra_args and phase.workers and len(phases) > 1:
            plain = pytest_argv(replace(phase, workers=0), junit, extra_args, running=running)
            if collects_nothing([arg for arg in plain if not arg.startswith("--junitxml")], root):
                on_skip(phase)
                elapsed = time.monotonic() - started
                results.append(PhaseResult(phase, argv, NO_TESTS_COLLECTED, elapsed, narrowed=True, skipped=True))
                continue
        on_phase(phase, argv)
        code = runner(phase, argv, root) if runner is not None else run_pytest(argv, root)
        tiers, figures, problem, session = read_report(junit, code)
        elapsed = time.monotonic() - started
        narrowed = bool(extra_args)
        results.append(PhaseResult(phase, argv, code, elapsed, tiers, figures, problem, narrowed, False, session))
        if code in _STOP_EARLY_CODES:
            break
    return results


def read_report(
    junit: Path, exit_code: int
) -> tuple[list[TierCounts], list[tuple[str, str]], str | None, float | None]:
    """`read_junit`'s counts, figures and session time, or none and the reason why (a missing or truncated
    report)."""
    ended = f"pytest was killed by signal {exit_code - 128}" if exit_code > 128 else f"pytest exited {exit_code}"
    try:
        counts, figures, session = read_junit(junit)
    except FileNotFoundError:
        return [], [], f"{ended} before writing its JUnit report", None
    except ElementTree.ParseError as error:
        return [], [], f"its JUnit report {junit.name} is cut short or malformed ({error}); {ended}", None
    return counts, figures, None, session


def read_junit(path: Path) -> tuple[list[TierCounts], list[tuple[str, str]], float | None]:
    """Counts per tier (in tier order), the scenario figures ("figures" properties) and pytest's session time in
    seconds (its testsuite's `time`; None without one) from a JUnit XML report.

    FileNotFoundError when there is none, ElementTree.ParseError when it is not complete XML.
    """
    counts: dict[str, TierCounts] = {}
    figures: list[tuple[str, str]] = []
    root = ElementTree.parse(path).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    session = float(suite.get("time", "0") or 0) if suite is not None else None
    for case in root.iter("testcase"):
        # An interrupted pytest (Ctrl-C) closes its report with a nameless, empty testcase: no test at all.
        if case.get("name") is None and len(case) == 0:
            continue
        properties = {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
        tier = properties.get(TIER_PROPERTY, "collection")
        entry = counts.setdefault(tier, TierCounts(tier))
        entry.duration += float(case.get("time", "0") or 0)
        outcome = _outcome(case)
        setattr(entry, outcome, getattr(entry, outcome) + 1)
        if "figures" in properties:
            figures.append((case.get("name", ""), properties["figures"]))
    order = {tier: index for index, tier in enumerate(TIERS)}
    return sorted(counts.values(), key=lambda entry: order.get(entry.tier, len(order))), figures, session


def _outcome(case: ElementTree.Element) -> str:
    if case.find("failure") is not None:
        return "failed"
    if case.find("error") is not None:
        return "errors"
    if case.find("skipped") is not None:
        return "skipped"
    return "passed"


def total_line(results: Sequence[PhaseResult]) -> str:
    """The run's last line, in the shape CI log readers recognise (`N passed, N failed, N skipped`), saying so
    when cluster scenarios were skipped: such a run did not prove what they check."""
    counts = [counts for result in results for counts in result.tiers]
    failed = sum(c.failed + c.errors for c in counts)
    line = f"total: {sum(c.passed for c in counts)} passed, {failed} failed, {sum(c.skipped for c in counts)} skipped"
    scenarios = sum(c.skipped for c in counts if c.tier == "cluster")
    if scenarios:
        line += f"; {counted(scenarios, 'cluster scenario')} skipped: this run did not prove what they check"
    return line


def overall_exit_code(results: Sequence[PhaseResult]) -> int:
    """The first failing phase's pytest code, 0 when every phase passed. A phase that collected nothing fails the
    run, unless pytest arguments chose the tests and another phase collected some (`-- tests/cluster` selects no
    test of the phase below the cluster tier)."""
    if results and all(result.empty for result in results):
        return NO_TESTS_COLLECTED
    return next((result.exit_code for result in results if not result.ok), 0)
