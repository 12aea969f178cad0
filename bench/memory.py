"""Question 6: how much memory does the default reference cluster take, per instance type and in total?

The default topology (2 orchestration, 2+2 workers) runs with its own PostgreSQL; memory is read right after
start-all and again after a burst of `examples/linear` tasks. RSS counts shared library pages in every process;
PSS shares them out fairly, so the PSS total is what the cluster really adds to the machine.
"""

from __future__ import annotations

import argparse
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import psutil

from benchlib.load import run_load
from benchlib.refcluster import ReferenceCluster
from benchlib.report import Result, publish
from tasker_cluster.proc.records import read_records
from tasker_cluster.project import Project

MIB = 1024 * 1024
TOTAL_BAR_MIB = 400


@dataclass(frozen=True)
class Footprint:
    """Memory of one instance: its process and every descendant."""

    name: str
    service: str
    processes: int
    rss: int
    pss: int


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smaller burst of tasks")
    args = parser.parse_args()
    result = Result("memory", (__doc__ or "").splitlines()[0], args.quick)
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as folder:
        measure(Path(folder) / "project", 300 if args.quick else 2000, result)
    publish(result)


def measure(folder: Path, tasks: int, result: Result) -> None:
    cluster = ReferenceCluster(folder)
    try:
        database = cluster.database_up()
        cluster.start(*cluster.default_counts())
        idle = footprints(Project(folder))
        idle_server = server_footprint(cluster.database_port)
        run_load(cluster.orchestration_urls(), database, tasks)
        loaded = footprints(Project(folder))
        loaded_server = server_footprint(cluster.database_port)
    finally:
        cluster.shut_down()
    phases = (("right after start-all", idle, idle_server), (f"after {tasks} linear tasks", loaded, loaded_server))
    for title, prints, postgres in phases:
        table = result.section(f"per instance type, {title}", ["service", "instances", "RSS MiB each", "PSS MiB each"])
        for service, members in by_service(prints).items():
            rss = [member.rss / MIB for member in members]
            pss = [member.pss / MIB for member in members]
            table.rows.append([service, str(len(members)), spread(rss), spread(pss)])
        table.rows.append(
            [
                "all instances",
                str(len(prints)),
                f"{total(prints, 'rss'):.0f} total",
                f"{total(prints, 'pss'):.0f} total",
            ]
        )
        if postgres is not None:
            table.rows.append(
                [
                    "PostgreSQL (all its processes)",
                    str(postgres.processes),
                    f"{postgres.rss / MIB:.0f} total",
                    f"{postgres.pss / MIB:.0f} total",
                ]
            )
    worst = max(total(idle, "rss"), total(loaded, "rss"))
    result.target(
        "default cluster RSS, all instances (without PostgreSQL)",
        f"<= {TOTAL_BAR_MIB} MiB",
        f"{worst:.0f} MiB (PSS {max(total(idle, 'pss'), total(loaded, 'pss')):.0f} MiB)",
        worst <= TOTAL_BAR_MIB,
    )
    result.raw = {
        "idle": [footprint.__dict__ for footprint in idle],
        "loaded": [footprint.__dict__ for footprint in loaded],
        "postgres": [server.__dict__ if server else None for server in (idle_server, loaded_server)],
    }


def footprints(project: Project) -> list[Footprint]:
    return [footprint_of(name, record.service, record.pid) for name, record in read_records(project).valid.items()]


def footprint_of(name: str, service: str, pid: int) -> Footprint:
    leader = psutil.Process(pid)
    processes = [leader, *leader.children(recursive=True)]
    infos = [process.memory_full_info() for process in processes]
    return Footprint(name, service, len(processes), sum(i.rss for i in infos), sum(i.pss for i in infos))


def server_footprint(database_port: int) -> Footprint | None:
    """The postmaster listening on the project's database port, with its backends."""
    for connection in psutil.net_connections(kind="tcp"):
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == database_port and connection.pid:
            return footprint_of("postgres", "postgres", connection.pid)
    return None


def by_service(prints: list[Footprint]) -> dict[str, list[Footprint]]:
    grouped: dict[str, list[Footprint]] = defaultdict(list)
    for footprint in prints:
        grouped[footprint.service].append(footprint)
    return dict(grouped)


def total(prints: list[Footprint], field: str) -> float:
    return sum(getattr(footprint, field) for footprint in prints) / MIB


def spread(values: list[float]) -> str:
    ordered = sorted(values)
    return f"{ordered[len(ordered) // 2]:.0f} ({ordered[0]:.0f}-{ordered[-1]:.0f})"


if __name__ == "__main__":
    main()
