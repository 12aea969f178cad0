"""Question 5: how many `examples/linear` tasks per second does the reference cluster complete, and how fast?

The reference services (default topology: 2 orchestration, 4 workers) run with their own PostgreSQL. Each run
creates tasks round-robin over the orchestration instances, as fast as they are accepted (saturated) or at a steady
200 tasks/s (paced), then reads from the database when each finished: completed tasks/s, steps/s, and each task's
latency from its request's scheduled send. The clients are outside ones: 32 threads with keep-alive connections,
or a new connection per request (as `curl`, or `requests` without a session, do), both on the default topology.
Runs of every configuration (1/2/4 orchestration x 2/4/8 workers in full mode, with a PNG plot) and the paced run
are interleaved, their order rotated each round after one warm-up run, and every run starts on an emptied database;
figures are medians with min-max. pgbench's tpcb-like TPS on the same server, once per round, is the database's own
limit.
"""

from __future__ import annotations

import argparse
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from benchlib import cpu, pgbench
from benchlib.load import Outcome, run_load
from benchlib.paths import RESULTS
from benchlib.refcluster import ReferenceCluster
from benchlib.report import Result, publish
from benchlib.stats import summarize
from tasker_cluster.project import Project

DEFAULT = (2, 4)
RATE = 200.0
TASKS_PER_SECOND_BAR = 200.0
P99_BAR = 1.0
PGBENCH_SHARE = 0.15
CPU_GROUPS = ("orchestration", "worker", "postgres", "load generator", cpu.MACHINE)


@dataclass(frozen=True)
class Run:
    """One kind of run: a topology, saturated (rate None) or paced, over keep-alive connections or one per request."""

    orchestration: int
    workers: int
    rate: float | None = None
    keep_alive: bool = True

    @property
    def label(self) -> str:
        paced = f" @ {self.rate:.0f}/s" if self.rate else ""
        client = "" if self.keep_alive else ", a connection per request"
        return f"{self.orchestration} x {self.workers}{paced}{client}"


SATURATED_DEFAULT = Run(*DEFAULT)
PER_REQUEST_DEFAULT = Run(*DEFAULT, keep_alive=False)
PACED_DEFAULT = Run(*DEFAULT, rate=RATE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer tasks, configurations and rounds")
    args = parser.parse_args()
    result = Result("throughput", (__doc__ or "").splitlines()[0], args.quick)
    if not pgbench.available():
        result.notes.append("pgbench not found: no database limit to compare with (apt-get install postgresql-client)")
    topologies = [(1, 2), DEFAULT, (4, 8)] if args.quick else [(o, w) for o in (1, 2, 4) for w in (2, 4, 8)]
    runs = [Run(o, w) for o, w in topologies] + [PER_REQUEST_DEFAULT, PACED_DEFAULT]
    tasks, seconds, rounds = (300, 5, 2) if args.quick else (2000, 10, 3)
    with tempfile.TemporaryDirectory(prefix="bench-throughput-") as folder:
        measure(Path(folder) / "project", runs, tasks, seconds, rounds, result)
    publish(result)


def measure(folder: Path, runs: list[Run], tasks: int, seconds: int, rounds: int, result: Result) -> None:
    cluster = ReferenceCluster(folder)
    project = Project(folder)
    outcomes: dict[Run, list[Outcome]] = defaultdict(list)
    spent: dict[Run, list[dict[str, float]]] = defaultdict(list)
    # Per round: pgbench's TPS, and the steps/s of each saturated default run, paired.
    rounds_tps: dict[Run, list[tuple[float, float]]] = defaultdict(list)
    try:
        database = cluster.database_up()
        target = pgbench.prepare(database) if pgbench.available() else None
        # Warm-up, not measured: the first start after the database's initdb pays for cold caches.
        one_run(cluster, project, database, SATURATED_DEFAULT, tasks)
        for number in range(rounds):
            tps = pgbench.tps(target, seconds) if target else None
            shift = number % len(runs)
            for kind in [*runs[shift:], *runs[:shift]]:
                run, used = one_run(cluster, project, database, kind, tasks)
                outcomes[kind].append(run)
                spent[kind].append(used)
            if tps is not None:
                for kind in (SATURATED_DEFAULT, PER_REQUEST_DEFAULT):
                    rounds_tps[kind].append((outcomes[kind][-1].steps_per_second, tps))
        if target:
            pgbench.drop(database)
    finally:
        cluster.shut_down()
    report(result, outcomes, rounds_tps, tasks, rounds)
    split = result.section(
        "CPU seconds during each run, median (2 cores: at most 2 s per second)",
        ["orch x workers", "wall s", *CPU_GROUPS],
    )
    for kind, samples in spent.items():
        wall = summarize([run.span for run in outcomes[kind]]).median
        medians = [summarize([sample.get(group, 0.0) for sample in samples]).median for group in CPU_GROUPS]
        split.rows.append([kind.label, f"{wall:.2f}", *(f"{value:.2f}" for value in medians)])
    result.raw["cpu_seconds"] = {kind.label: samples for kind, samples in spent.items()}


def one_run(
    cluster: ReferenceCluster, project: Project, database: str, kind: Run, tasks: int
) -> tuple[Outcome, dict[str, float]]:
    cluster.start(kind.orchestration, kind.workers)
    try:
        before = cpu.snapshot(project, cluster.database_port)
        run = run_load(cluster.orchestration_urls(), database, tasks, rate=kind.rate, keep_alive=kind.keep_alive)
        used = cpu.used(before, cpu.snapshot(project, cluster.database_port))
        used["load generator"] = run.client_cpu
    finally:
        cluster.stop()
    cluster.empty_database(database)
    return run, used


def report(
    result: Result,
    outcomes: dict[Run, list[Outcome]],
    rounds_tps: dict[Run, list[tuple[float, float]]],
    tasks: int,
    rounds: int,
) -> None:
    table = result.section(
        f"{tasks} linear tasks (4 steps each) per run, {rounds} rotated rounds after a warm-up, each run on an emptied "
        "database; median (min-max); latency from each request's scheduled send",
        [
            "orch x workers",
            "tasks/s",
            "steps/s",
            "p50",
            "p99",
            "max",
            "failed",
            "lost",
            "extra",
            "wrong",
            "retried steps",
        ],
    )
    for kind, runs in outcomes.items():
        table.rows.append(row(kind.label, runs))
    for kind, clients in ((SATURATED_DEFAULT, "keep-alive clients"), (PER_REQUEST_DEFAULT, "a connection per request")):
        saturated = outcomes[kind]
        throughput = summarize([run.tasks_per_second for run in saturated])
        created = summarize([run.accepted / run.create_seconds for run in saturated])
        failed = sum(run.failed for run in saturated)
        result.target(
            f"reference cluster, completed linear tasks/s (2 x 4, saturated, {clients})",
            f">= {TASKS_PER_SECOND_BAR:.0f}, no failed creation",
            f"{throughput.median:.0f} ({throughput.low:.0f}-{throughput.high:.0f}), created at {created.median:.0f}/s, "
            f"{failed} failed",
            throughput.median >= TASKS_PER_SECOND_BAR and failed == 0,
        )
    paced = outcomes.get(PACED_DEFAULT, [])
    if paced:
        p99 = summarize([run.p99 for run in paced])
        p50 = summarize([run.p50 for run in paced])
        created = min(run.accepted / run.create_seconds for run in paced)
        failed = sum(run.failed for run in paced)
        result.target(
            f"p99 task latency at {RATE:.0f} tasks/s, from each request's scheduled send",
            f"<= {P99_BAR:.1f} s, no failed creation",
            f"{p99.seconds()} (p50 {p50.median:.3f} s; slowest creation rate {created:.0f}/s; {failed} failed)",
            p99.median <= P99_BAR and created >= 0.95 * RATE and failed == 0,
        )
    for kind, pairs in rounds_tps.items():
        ratios = summarize([steps / tps for steps, tps in pairs])
        steps = summarize([steps for steps, _ in pairs])
        tps = summarize([tps for _, tps in pairs])
        clients = "keep-alive clients" if kind.keep_alive else "a connection per request"
        result.target(
            f"steps/s vs pgbench tpcb-like TPS (paired per round, {clients})",
            f">= {PGBENCH_SHARE}",
            f"{ratios.times()} ({steps.median:.0f} steps/s / {tps.median:.0f} TPS)",
            ratios.median >= PGBENCH_SHARE,
        )
    if rounds_tps:
        result.notes.append(
            f"pgbench tpcb-like, scale {pgbench.SCALE}, {pgbench.CLIENTS} clients, once per round before its runs: "
            + ", ".join(f"{value:.0f}" for _, value in rounds_tps[SATURATED_DEFAULT])
            + " TPS"
        )
    every = [run for runs in outcomes.values() for run in runs]
    counts = {name: sum(getattr(run, name) for run in every) for name in ("failed", "lost", "extra", "wrong_results")}
    result.target(
        "every request accepted, no task lost or duplicated, every result right",
        "0 failed, 0 lost, 0 extra, 0 wrong",
        f"{counts['failed']} failed, {counts['lost']} lost, {counts['extra']} extra, {counts['wrong_results']} wrong "
        f"over {sum(run.requested for run in every)} requests",
        all(run.clean for run in every),
    )
    result.raw = {
        "runs": {kind.label: [run.__dict__ for run in runs] for kind, runs in outcomes.items()},
        "pgbench_tps": [tps for _, tps in rounds_tps.get(SATURATED_DEFAULT, [])],
    }
    plot(
        {
            (kind.orchestration, kind.workers): runs
            for kind, runs in outcomes.items()
            if kind.rate is None and kind.keep_alive
        }
    )


def row(label: str, runs: list[Outcome]) -> list[str]:
    def spread(values: list[float], unit: str = "", digits: int = 0) -> str:
        summary = summarize(values)
        return f"{summary.median:.{digits}f}{unit} ({summary.low:.{digits}f}-{summary.high:.{digits}f})"

    return [
        label,
        spread([run.tasks_per_second for run in runs]),
        spread([run.steps_per_second for run in runs]),
        spread([run.p50 for run in runs], " s", 3),
        spread([run.p99 for run in runs], " s", 3),
        spread([run.worst for run in runs], " s", 3),
        str(sum(run.failed for run in runs)),
        str(sum(run.lost for run in runs)),
        str(sum(run.extra for run in runs)),
        str(sum(run.wrong_results for run in runs)),
        str(sum(run.steps_retried for run in runs)),
    ]


def plot(outcomes: dict[tuple[int, int], list[Outcome]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(6, 4))
    for orchestration in sorted({o for o, _ in outcomes}):
        points = sorted(
            (w, summarize([run.tasks_per_second for run in runs]))
            for (o, w), runs in outcomes.items()
            if o == orchestration
        )
        axes.errorbar(
            [w for w, _ in points],
            [s.median for _, s in points],
            yerr=[[s.median - s.low for _, s in points], [s.high - s.median for _, s in points]],
            marker="o",
            capsize=3,
            label=f"{orchestration} orchestration",
        )
    axes.axhline(TASKS_PER_SECOND_BAR, color="grey", linestyle="--", label="target")
    axes.set_xlabel("workers")
    axes.set_ylabel("completed linear tasks/s (median, min-max)")
    axes.set_title("reference cluster throughput (2 cores)")
    axes.legend()
    RESULTS.mkdir(parents=True, exist_ok=True)
    figure.savefig(RESULTS / "throughput_scaling.png", dpi=100, bbox_inches="tight")
    pyplot.close(figure)


if __name__ == "__main__":
    main()
