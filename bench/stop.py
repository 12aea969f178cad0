"""Question 4: how long does `cluster stop` take next to the killpg floor and the peers, and with a deaf instance?

For N=6 and N=20, each contender first starts the same instances (untimed), then stops them (timed), in rotated
order. The floor is a script that signals each process group and polls /proc until every leader is gone, run as a
command (it imports nothing it does not need to stop). For reference, the same inside the bench's warm process,
which reaps its own children: no interpreter start. Then one instance that ignores SIGTERM, stop grace 1 s:
`cluster stop` must escalate to SIGKILL within grace + 0.3 s; supervisord (stopwaitsecs=1) runs the same case.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchlib.contestants import ClusterCli, Contestant, FloorCommand, SupervisordManager, attempt, shut_down_all
from benchlib.exits import FirstExit
from benchlib.fleet import Group
from benchlib.paths import peers_skip_reason
from benchlib.report import Result, publish
from benchlib.stats import paired_ratio, summarize
from benchlib.timing import run_once
from start_all import contestants_for
from tasker_cluster.proc.ports import find_free_port_block

SIZES = (6, 20)
FLOOR_FACTOR = 1.1
GRACE = 1.0
SLACK = 0.3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few repetitions")
    args = parser.parse_args()
    result = Result("stop", (__doc__ or "").splitlines()[0], args.quick)
    result.skipped = peers_skip_reason()
    if result.skipped is None:
        repetitions = 2 if args.quick else 10
        with tempfile.TemporaryDirectory(prefix="bench-stop-") as folder:
            for count in SIZES:
                measure(Path(folder) / f"n{count}", count, repetitions, result)
            measure_deaf(Path(folder) / "deaf", repetitions, result)
    publish(result)


def measure(folder: Path, count: int, repetitions: int, result: Result) -> None:
    contestants: list[Contestant] = contestants_for(folder, count)
    times: dict[str, list[float]] = {contestant.label: [] for contestant in contestants}
    # (whole stop, launch -> first instance gone) per run, for the two commands whose instances' pids are known.
    first_gone: dict[str, list[tuple[float, float]]] = {"cluster": [], "Popen floor": []}
    try:
        for repetition in range(repetitions):
            shift = repetition % len(contestants)
            for contestant in [*contestants[shift:], *contestants[:shift]]:
                attempt(contestant, contestant.start, result)
                watched = isinstance(contestant, ClusterCli | FloorCommand)
                exits = FirstExit(contestant.leader_pids()) if watched else None
                started = time.monotonic()
                elapsed = contestant.stop()
                times[contestant.label].append(elapsed)
                first = exits.since(started) if exits is not None else None
                if first is not None:
                    first_gone[contestant.label].append((elapsed, first))
                contestant.wait_ports_free()
    finally:
        shut_down_all(contestants)
    reference = times["cluster"]
    table = result.section(
        f"N={count}: stop request -> every instance gone, {repetitions} rotated repetitions",
        ["contender", "median (min-max)", "cluster / contender"],
    )
    for label, values in times.items():
        table.rows.append([label, summarize(values).seconds(), paired_ratio(reference, values).times()])
    split = result.section(
        f"N={count}: where a stop command spends its time",
        ["contender", "launch -> first instance gone", "first gone -> command exits"],
    )
    for label, pairs in first_gone.items():
        if pairs:
            firsts, rests = [first for _, first in pairs], [total - first for total, first in pairs]
            split.rows.append([label, summarize(firsts).seconds(), summarize(rests).seconds()])
    ratio = paired_ratio(reference, times["Popen floor"])
    result.target(f"stop N={count} / killpg floor", f"<= {FLOOR_FACTOR}x", ratio.times(), ratio.median <= FLOOR_FACTOR)
    ratio = paired_ratio(reference, times["in-process floor"])
    reference_name = f"stop N={count} / in-process killpg floor (reference: no interpreter start)"
    result.target(reference_name, "none", ratio.times(), None)
    for peer in ("honcho", "supervisord"):
        ratio = paired_ratio(reference, times[peer])
        result.target(f"stop N={count} faster than {peer}", "< 1.0x", ratio.times(), ratio.median < 1.0)
    result.raw[f"n{count}"] = times


def measure_deaf(folder: Path, repetitions: int, result: Result) -> None:
    """One SIGTERM-ignoring instance, grace 1 s: cluster stop vs supervisorctl stop with stopwaitsecs=1."""
    base = find_free_port_block(20)
    deaf = ("--ignore-term",)
    cluster = ClusterCli(folder / "cluster", [Group("deaf", "worker", 1, base, deaf, stop_grace=GRACE)])
    supervisor = SupervisordManager(
        folder / "supervisord", [Group("deaf", "worker", 1, base + 10, deaf)], stop_wait=GRACE
    )
    walls: dict[str, list[float]] = {"cluster stop": [], "supervisorctl stop all": []}
    cpu: list[float] = []
    try:
        for _ in range(repetitions):
            attempt(cluster, cluster.start, result)
            run = run_once(cluster.project.argv("stop"))
            walls["cluster stop"].append(run.wall)
            cpu.append(run.cpu)
            cluster.wait_ports_free()
            attempt(supervisor, supervisor.start, result)
            walls["supervisorctl stop all"].append(supervisor.stop())
            supervisor.wait_ports_free()
    finally:
        shut_down_all([cluster, supervisor])
    table = result.section(
        f"one instance ignoring SIGTERM, grace {GRACE:.0f} s, {repetitions} repetitions",
        ["contender", "median (min-max)", f"bar (grace + {SLACK} s)"],
    )
    for label, values in walls.items():
        table.rows.append([label, summarize(values).seconds(), f"{GRACE + SLACK:.1f} s"])
    stopped = summarize(walls["cluster stop"])
    result.target(
        "stop of a SIGTERM-ignoring instance",
        f"<= grace + {SLACK} s = {GRACE + SLACK:.1f} s",
        stopped.seconds(),
        stopped.median <= GRACE + SLACK,
    )
    result.notes.append(f"cluster stop CPU time with the deaf instance: {summarize(cpu).seconds()}")
    result.raw["deaf"] = {"walls": walls, "cpu": cpu}


if __name__ == "__main__":
    main()
