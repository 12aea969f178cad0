"""Question 6: how much memory does the default reference cluster take, per instance type and in total?

The default topology (2 orchestration, 2+2 workers) runs with its own PostgreSQL; memory is read right after
start-all and again after a burst of `examples/linear` tasks. After one warm-up start, the cluster is started afresh
for each repetition, on an emptied database; figures are medians with min-max. RSS counts shared library pages in
every process; PSS shares them out fairly, so the PSS total is what the cluster really adds to the machine.
"""

from __future__ import annotations

import argparse
import tempfile
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from benchlib.load import run_load
from benchlib.refcluster import ReferenceCluster
from benchlib.report import Result, publish
from benchlib.stats import summarize
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
    parser.add_argument("--quick", action="store_true", help="a smaller burst of tasks, fewer repetitions")
    args = parser.parse_args()
    result = Result("memory", (__doc__ or "").splitlines()[0], args.quick)
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as folder:
        measure(Path(folder) / "project", 300 if args.quick else 2000, 2 if args.quick else 5, result)
    publish(result)


@dataclass(frozen=True)
class Sample:
    """One repetition's footprints: each instance and PostgreSQL, idle and after the burst."""

    idle: list[Footprint]
    idle_server: Footprint | None
    loaded: list[Footprint]
    loaded_server: Footprint | None


def measure(folder: Path, tasks: int, repetitions: int, result: Result) -> None:
    cluster = ReferenceCluster(folder)
    samples: list[Sample] = []
    failed = 0
    try:
        database = cluster.database_up()
        for repetition in range(repetitions + 1):
            cluster.start(*cluster.default_counts())
            try:
                idle, idle_server = footprints(Project(folder)), server_footprint(cluster.database_port)
                run = run_load(cluster.orchestration_urls(), database, tasks)
                loaded, loaded_server = footprints(Project(folder)), server_footprint(cluster.database_port)
            finally:
                cluster.stop()
            cluster.empty_database(database)
            if repetition > 0:  # the first start only warms caches
                samples.append(Sample(idle, idle_server, loaded, loaded_server))
                failed += run.failed + run.lost
    finally:
        cluster.shut_down()
    for title, prints_of, server_of in (
        ("right after start-all", lambda s: s.idle, lambda s: s.idle_server),
        (f"after {tasks} linear tasks", lambda s: s.loaded, lambda s: s.loaded_server),
    ):
        table = result.section(
            f"per instance type, {title}; median (min-max) over {repetitions} starts",
            ["service", "instances", "RSS MiB each", "PSS MiB each"],
        )
        every = [footprint for sample in samples for footprint in prints_of(sample)]
        for service, members in by_service(every).items():
            rss = [member.rss / MIB for member in members]
            pss = [member.pss / MIB for member in members]
            count = len(members) // len(samples)
            table.rows.append([service, str(count), spread(rss), spread(pss)])
        table.rows.append(
            [
                "all instances",
                str(len(prints_of(samples[0]))),
                spread([total(prints_of(sample), "rss") for sample in samples]) + " total",
                spread([total(prints_of(sample), "pss") for sample in samples]) + " total",
            ]
        )
        servers = [server for sample in samples if (server := server_of(sample)) is not None]
        if servers:
            table.rows.append(
                [
                    "PostgreSQL (all its processes)",
                    spread([float(server.processes) for server in servers]),
                    spread([server.rss / MIB for server in servers]) + " total",
                    spread([server.pss / MIB for server in servers]) + " total",
                ]
            )
    worst_rss = summarize([max(total(s.idle, "rss"), total(s.loaded, "rss")) for s in samples])
    worst_pss = summarize([max(total(s.idle, "pss"), total(s.loaded, "pss")) for s in samples])
    result.target(
        "default cluster RSS, all instances (without PostgreSQL), the larger of idle and loaded",
        f"<= {TOTAL_BAR_MIB} MiB",
        f"{worst_rss.median:.0f} MiB ({worst_rss.low:.0f}-{worst_rss.high:.0f}; "
        f"PSS {worst_pss.median:.0f} MiB) over {repetitions} starts, {failed} failed or lost tasks",
        worst_rss.median <= TOTAL_BAR_MIB and failed == 0,
    )
    result.raw = {"samples": [asdict(sample) for sample in samples]}


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
