"""Question 1: how fast is `cluster status-quick` next to `supervisorctl status` and the import floor?

N instances run under `cluster start-all` and, on other ports, the same N under supervisord. The commands run
interleaved (one of each per round, order rotated) for wall and CPU time, then once more under hyperfine as a
cross-check; `-X importtime` shows what status-quick loads.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchlib.fleet import ClusterProject, members_of, split_roles
from benchlib.imports import import_profile, loaded, top_level
from benchlib.paths import CLUSTER, PYTHON, peers_skip_reason
from benchlib.peers import Supervisord
from benchlib.report import Result, publish
from benchlib.stats import paired_ratio, summarize
from benchlib.timing import Contender, hyperfine_medians, interleaved
from tasker_cluster.proc.ports import find_free_port_block

FORBIDDEN = (
    "httpx",
    "anyio",
    "pydantic",
    "tasker_cluster.services",
    "tasker_cluster.proc.probes",
    "fastapi",
    "psycopg",
)
IMPORT_FLOOR = "import typer, rich.console, rich.table, psutil"
REFERENCE = "supervisorctl status"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few repetitions")
    parser.add_argument("-n", "--instances", type=int, default=20)
    args = parser.parse_args()
    result = Result("status_quick", (__doc__ or "").splitlines()[0], args.quick)
    result.skipped = peers_skip_reason()
    if result.skipped is None:
        with tempfile.TemporaryDirectory(prefix="bench-status-quick-") as folder:
            measure(Path(folder), args.instances, 10 if args.quick else 40, result)
    publish(result)


def measure(folder: Path, count: int, runs: int, result: Result) -> None:
    base = find_free_port_block(40)
    project = ClusterProject(folder / "project", split_roles(count, base))
    supervisor = Supervisord(folder / "supervisor", members_of(split_roles(count, base + 20)))
    try:
        project.run("start-all")
        supervisor.start()
        supervisor.wait_all_running()
        contenders = [
            Contender("cluster status-quick", project.argv("status-quick")),
            Contender(REFERENCE, supervisor.ctl("status")),
            Contender("import floor", [PYTHON, "-c", IMPORT_FLOOR]),
            Contender("bare interpreter", [PYTHON, "-c", "pass"]),
        ]
        samples = interleaved(contenders, runs)
        cross_check = hyperfine_medians(contenders, max(5, runs // 2))
        costs = import_profile(CLUSTER, ["--project-dir", str(project.root), "status-quick"])
    finally:
        project.run("stop", check=False)
        supervisor.shutdown()
    table = result.section(
        f"N={count} running instances, {runs} interleaved runs each",
        [
            "command",
            "wall median (min-max)",
            "CPU median (min-max)",
            "wall / supervisorctl",
            "CPU / supervisorctl",
            "hyperfine median",
        ],
    )
    for label, walls in samples.wall.items():
        cpus = samples.cpu[label]
        table.rows.append(
            [
                label,
                summarize(walls).ms(),
                summarize(cpus).ms(),
                paired_ratio(walls, samples.wall[REFERENCE]).times(),
                paired_ratio(cpus, samples.cpu[REFERENCE]).times(),
                f"{cross_check[label] * 1000:.1f} ms" if cross_check else "(no hyperfine)",
            ]
        )
    wall_ratio = paired_ratio(samples.wall["cluster status-quick"], samples.wall[REFERENCE])
    cpu_ratio = paired_ratio(samples.cpu["cluster status-quick"], samples.cpu[REFERENCE])
    result.target("status-quick / supervisorctl status (wall)", "<= 1.0", wall_ratio.times(), wall_ratio.median <= 1.0)
    result.notes.append(f"the same ratio in CPU time: {cpu_ratio.times()}")
    heavy = loaded(costs, FORBIDDEN)
    result.target(
        "status-quick loads no httpx, pydantic or services", "none imported", ", ".join(heavy) or "none", not heavy
    )
    imports = result.section(
        "status-quick: costliest imports made by the program itself (-X importtime, one run)",
        ["module", "cumulative ms", "self ms"],
    )
    for cost in top_level(costs, 10):
        imports.rows.append([cost.module, f"{cost.cumulative_us / 1000:.1f}", f"{cost.self_us / 1000:.1f}"])
    total = sum(cost.self_us for cost in costs) / 1000
    result.notes.append(f"status-quick imported {len(costs)} modules for {total:.0f} ms in the -X importtime run")
    result.raw = {
        "instances": count,
        "wall": samples.wall,
        "cpu": samples.cpu,
        "hyperfine_median": cross_check,
        "imports": [cost.__dict__ for cost in costs],
    }


if __name__ == "__main__":
    main()
