"""Question 5: how many `examples/linear` tasks per second does the reference cluster complete, and how fast?

The reference services (default topology: 2 orchestration, 4 workers) run with their own PostgreSQL. Tasks are
created round-robin over the orchestration instances as fast as they are accepted; the database's timestamps give
completed tasks/s, steps/s and the end-to-end latency of each task. Then the same load at a steady 200 tasks/s
for the latency at that rate, a scaling table over 1/2/4 orchestration x 2/4/8 workers (with a PNG plot), and
pgbench's tpcb-like TPS on the same server as the database's own limit.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchlib import cpu, pgbench
from benchlib.load import Outcome, run_load
from benchlib.paths import RESULTS
from benchlib.refcluster import ReferenceCluster
from benchlib.report import Result, publish
from tasker_cluster.project import Project

DEFAULT = (2, 4)
RATE = 200.0
TASKS_PER_SECOND_BAR = 200.0
P99_BAR = 1.0
PGBENCH_SHARE = 0.15
CPU_GROUPS = ("orchestration", "worker", "postgres", "load generator", cpu.MACHINE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer tasks and configurations")
    args = parser.parse_args()
    result = Result("throughput", (__doc__ or "").splitlines()[0], args.quick)
    if not pgbench.available():
        result.notes.append("pgbench not found: no database limit to compare with (apt-get install postgresql-client)")
    configs = [(1, 2), DEFAULT, (4, 8)] if args.quick else [(o, w) for o in (1, 2, 4) for w in (2, 4, 8)]
    configs.sort(key=lambda config: config != DEFAULT)
    tasks, paced, seconds = (300, 600, 5) if args.quick else (2000, 2000, 10)
    with tempfile.TemporaryDirectory(prefix="bench-throughput-") as folder:
        measure(Path(folder) / "project", configs, tasks, paced, seconds, result)
    publish(result)


def measure(folder: Path, configs: list[tuple[int, int]], tasks: int, paced: int, seconds: int, result: Result) -> None:
    cluster = ReferenceCluster(folder)
    project = Project(folder)
    spent: dict[tuple[int, int], dict[str, float]] = {}
    outcomes: dict[tuple[int, int], Outcome] = {}
    steady: Outcome | None = None
    tps: list[float] = []
    try:
        database = cluster.database_up()
        target = pgbench.prepare(database) if pgbench.available() else None
        if target:
            tps.append(pgbench.tps(target, seconds))
        for orchestration, workers in configs:
            cluster.start(orchestration, workers)
            urls = cluster.orchestration_urls()
            before = cpu.snapshot(project, cluster.database_port)
            outcomes[(orchestration, workers)] = run = run_load(urls, database, tasks)
            spent[(orchestration, workers)] = cpu.used(before, cpu.snapshot(project, cluster.database_port))
            spent[(orchestration, workers)]["load generator"] = run.client_cpu
            if (orchestration, workers) == DEFAULT:
                steady = run_load(urls, database, paced, rate=RATE)
            cluster.stop()
        if target:
            tps.append(pgbench.tps(target, seconds))
            pgbench.drop(database)
    finally:
        cluster.shut_down()
    report(result, outcomes, steady, tps, tasks)
    split = result.section(
        "CPU seconds during each saturated run (2 cores: at most 2 s per second)",
        ["orch x workers", "wall s", *CPU_GROUPS],
    )
    for (orchestration, workers), seconds in spent.items():
        wall = outcomes[(orchestration, workers)].span
        split.rows.append(
            [f"{orchestration} x {workers}", f"{wall:.2f}", *(f"{seconds.get(group, 0.0):.2f}" for group in CPU_GROUPS)]
        )
    result.raw["cpu_seconds"] = {f"{o}x{w}": seconds for (o, w), seconds in spent.items()}


def report(
    result: Result,
    outcomes: dict[tuple[int, int], Outcome],
    steady: Outcome | None,
    tps: list[float],
    tasks: int,
) -> None:
    table = result.section(
        f"{tasks} linear tasks (4 steps each) created as fast as accepted, per topology",
        ["orch x workers", "tasks/s", "steps/s", "p50", "p99", "max", "create s", "lost", "dup", "retried steps"],
    )
    for (orchestration, workers), run in outcomes.items():
        table.rows.append(row(f"{orchestration} x {workers}", run))
    if steady is not None:
        paced = result.section(f"default topology at a steady {RATE:.0f} tasks/s", table.columns)
        paced.rows.append(row(f"{DEFAULT[0]} x {DEFAULT[1]} @ {RATE:.0f}/s", steady))
    default = outcomes[DEFAULT]
    result.target(
        "reference cluster, completed linear tasks/s (2 x 4, saturated)",
        f">= {TASKS_PER_SECOND_BAR:.0f}",
        f"{default.tasks_per_second:.0f}",
        default.tasks_per_second >= TASKS_PER_SECOND_BAR,
    )
    if steady is not None:
        created = steady.accepted / steady.create_seconds
        result.target(
            f"p99 task latency at {RATE:.0f} tasks/s",
            f"<= {P99_BAR:.1f} s",
            f"{steady.p99:.3f} s (p50 {steady.p50:.3f} s; created at {created:.0f}/s)",
            steady.p99 <= P99_BAR and created >= 0.95 * RATE,
        )
    if tps:
        limit = sum(tps) / len(tps)
        share = default.steps_per_second / limit
        result.target(
            "steps/s vs pgbench tpcb-like TPS",
            f">= {PGBENCH_SHARE}",
            f"{share:.2f} ({default.steps_per_second:.0f} steps/s / {limit:.0f} TPS)",
            share >= PGBENCH_SHARE,
        )
        result.notes.append(
            f"pgbench tpcb-like, scale {pgbench.SCALE}, {pgbench.CLIENTS} clients: "
            + ", ".join(f"{value:.0f}" for value in tps)
            + " TPS (before and after the load runs)"
        )
    runs = [*outcomes.values(), *([steady] if steady else [])]
    lost = sum(run.lost for run in runs)
    duplicated = sum(run.duplicated for run in runs)
    wrong = sum(run.wrong_results for run in runs)
    result.target(
        "no task lost or duplicated, every result right",
        "0 lost, 0 duplicated, 0 wrong",
        f"{lost} lost, {duplicated} duplicated, {wrong} wrong over {sum(run.accepted for run in runs)} tasks",
        lost == duplicated == wrong == 0,
    )
    result.raw = {
        "runs": {f"{o}x{w}": run.__dict__ for (o, w), run in outcomes.items()},
        "steady": steady.__dict__ if steady else None,
        "pgbench_tps": tps,
    }
    plot(outcomes)


def row(label: str, run: Outcome) -> list[str]:
    return [
        label,
        f"{run.tasks_per_second:.0f}",
        f"{run.steps_per_second:.0f}",
        f"{run.p50:.3f} s",
        f"{run.p99:.3f} s",
        f"{run.worst:.3f} s",
        f"{run.create_seconds:.2f}",
        str(run.lost),
        str(run.duplicated),
        str(run.steps_retried),
    ]


def plot(outcomes: dict[tuple[int, int], Outcome]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(6, 4))
    for orchestration in sorted({o for o, _ in outcomes}):
        points = sorted((w, run.tasks_per_second) for (o, w), run in outcomes.items() if o == orchestration)
        axes.plot([w for w, _ in points], [t for _, t in points], marker="o", label=f"{orchestration} orchestration")
    axes.axhline(TASKS_PER_SECOND_BAR, color="grey", linestyle="--", label="target")
    axes.set_xlabel("workers")
    axes.set_ylabel("completed linear tasks/s")
    axes.set_title("reference cluster throughput (2 cores)")
    axes.legend()
    RESULTS.mkdir(parents=True, exist_ok=True)
    figure.savefig(RESULTS / "throughput_scaling.png", dpi=100, bbox_inches="tight")
    pyplot.close(figure)


if __name__ == "__main__":
    main()
