"""Question 3: how long from launch until every instance is ready: `cluster start-all` vs the floor and the peers?

For N=6 and N=20 instances (database not involved), each contender starts the same instance program on its own
ports, in rotated order, repetition after repetition. The floor is a script that spawns the commands with Popen and
polls the ready urls, run as a command: launched like every tool is, it pays for an interpreter start too. The same
code run inside the bench's warm process (the in-process floor) is shown beside it for reference.

The detection lag (the issue's definition) is the time from an instance's ready endpoint first answering 200 to
start-all printing it ready. Shown beside it, stricter: the time from the moment the instance could first answer 200
(it listens) to start-all printing it, which adds the wait for a probe and the instance's own time to answer; the
in-process floor's poller (2 ms pauses) is measured the same way in the same run.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchlib.contestants import (
    ClusterCli,
    Contestant,
    FloorCommand,
    FloorInProcess,
    HonchoManager,
    SupervisordManager,
    attempt,
    instance_marks,
    shut_down_all,
)
from benchlib.fleet import split_roles
from benchlib.paths import peers_skip_reason
from benchlib.report import Result, publish
from benchlib.stats import paired_ratio, percentile, summarize
from tasker_cluster.proc.ports import find_free_port_block

SIZES = (6, 20)
PHASES = (
    "launch -> first `spawned` line (CLI start, topology, lock, port checks)",
    "first -> last `spawned` line",
    "last `spawned` -> last `ready` line",
    "last `ready` line -> exit (status table)",
    "CPU time of the start-all process itself",
    "for comparison: the in-process floor's spawn loop",
)
FLOOR_FACTOR = 1.1
LAG_BAR = 0.050


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few repetitions")
    args = parser.parse_args()
    result = Result("start_all", (__doc__ or "").splitlines()[0], args.quick)
    result.skipped = peers_skip_reason()
    if result.skipped is None:
        with tempfile.TemporaryDirectory(prefix="bench-start-") as folder:
            for count in SIZES:
                measure(Path(folder) / f"n{count}", count, 2 if args.quick else 10, result)
    publish(result)


def contestants_for(folder: Path, count: int) -> list[Contestant]:
    base = find_free_port_block(100)
    return [
        ClusterCli(folder / "cluster", split_roles(count, base)),
        FloorInProcess(folder / "floor", split_roles(count, base + 20)),
        FloorCommand(split_roles(count, base + 40)),
        HonchoManager(folder / "honcho", split_roles(count, base + 60)),
        SupervisordManager(folder / "supervisord", split_roles(count, base + 80)),
    ]


def measure(folder: Path, count: int, repetitions: int, result: Result) -> None:
    contestants = contestants_for(folder, count)
    cluster, floor = contestants[0], contestants[1]
    assert isinstance(cluster, ClusterCli) and isinstance(floor, FloorInProcess)
    times: dict[str, list[float]] = {contestant.label: [] for contestant in contestants}
    phases: dict[str, list[float]] = {phase: [] for phase in PHASES}
    lags: list[float] = []
    answer_lags: list[float] = []
    floor_lags: list[float] = []
    probe_gaps: list[float] = []
    late: list[float] = []
    try:
        for repetition in range(repetitions + 1):
            shift = repetition % len(contestants)
            for contestant in [*contestants[shift:], *contestants[:shift]]:
                elapsed = attempt(contestant, contestant.start, result)
                if repetition > 0:  # the first round only warms caches
                    times[contestant.label].append(elapsed)
                if contestant is cluster and repetition > 0:
                    marks = cluster.readiness_marks()
                    for phase, value in timeline(cluster, elapsed).items():
                        phases[phase].append(value)
                    lags += [cluster.noticed.at[name] - ready_at for name, (ready_at, _) in marks.items()]
                    answer_lags += [
                        cluster.noticed.at[name] - first for name, (_, first) in marks.items() if first is not None
                    ]
                    late += late_first_probes(cluster)
                    probe_gaps += [first - ready_at for ready_at, first in marks.values() if first is not None]
                if contestant is floor and repetition > 0:
                    floor_lags += floor.lags()
                    phases[PHASES[5]].append(floor.spawn_time)
                contestant.stop()
                contestant.wait_ports_free()
    finally:
        shut_down_all(contestants)
    report(
        result,
        count,
        repetitions,
        times,
        phases,
        {
            "cluster": lags,
            "cluster from first 200": answer_lags,
            "floor": floor_lags,
            "gaps": probe_gaps,
            "late first probes": late,
        },
    )


def late_first_probes(cluster: ClusterCli) -> list[float]:
    """Per instance: how long after it could answer 200 start-all's first probe reached it (0 if it came before)."""
    delays = []
    for member in cluster.members:
        marks = instance_marks(cluster.project.logs / f"{member.name}.log")
        if "first-probe" in marks:
            delays.append(max(0.0, marks["first-probe"] - marks["ready-at"]))
    return delays


def timeline(cluster: ClusterCli, elapsed: float) -> dict[str, float]:
    """Where one start-all run spent its time, from the moments its progress lines arrived."""
    noticed, launched = cluster.noticed, cluster.launched
    first_spawn, last_spawn = min(noticed.spawned.values()), max(noticed.spawned.values())
    last_ready = max(noticed.at.values())
    return {
        PHASES[0]: first_spawn - launched,
        PHASES[1]: last_spawn - first_spawn,
        PHASES[2]: last_ready - last_spawn,
        PHASES[3]: launched + elapsed - last_ready,
        PHASES[4]: cluster.cpu,
    }


def report(
    result: Result,
    count: int,
    repetitions: int,
    times: dict[str, list[float]],
    phases: dict[str, list[float]],
    lag_samples: dict[str, list[float]],
) -> None:
    reference = times["cluster"]
    table = result.section(
        f"N={count}: launch -> every instance ready, {repetitions} rotated repetitions",
        ["contender", "median (min-max)", "cluster / contender"],
    )
    for label, values in times.items():
        table.rows.append([label, summarize(values).seconds(), paired_ratio(reference, values).times()])
    breakdown = result.section(f"N={count}: where start-all spends its time", ["phase", "median (min-max)"])
    for phase, values in phases.items():
        breakdown.rows.append([phase, summarize(values).seconds()])
    floor_ratio = paired_ratio(reference, times["Popen floor"])
    in_process = paired_ratio(reference, times["in-process floor"])
    bar = f"<= {FLOOR_FACTOR}x"
    result.target(f"start-all N={count} / Popen floor", bar, floor_ratio.times(), floor_ratio.median <= FLOOR_FACTOR)
    result.target(
        f"start-all N={count} / in-process floor (reference: no interpreter start)",
        "none",
        in_process.times(),
        None,
    )
    for peer in ("honcho", "supervisord"):
        ratio = paired_ratio(reference, times[peer])
        result.target(f"start-all N={count} faster than {peer}", "< 1.0x", ratio.times(), ratio.median < 1.0)
    answer_lags = lag_samples["cluster from first 200"]
    p95 = percentile(answer_lags, 0.95)
    result.target(
        f"readiness detection lag N={count} (first 200 answered -> noticed)",
        f"p95 <= {LAG_BAR * 1000:.0f} ms",
        _lag_text(answer_lags),
        p95 <= LAG_BAR,
    )
    floor_lag = _lag_text(lag_samples["floor"])
    result.target(
        f"readiness lag N={count} from listening (reference: in-process floor's poller {floor_lag})",
        "none",
        _lag_text(lag_samples["cluster"]),
        None,
    )
    gaps = summarize(lag_samples["gaps"])
    result.notes.append(
        f"N={count}: of start-all's lag from listening, listening -> first 200 sent (waiting for its next probe and "
        f"for the instance to answer) is median {gaps.median * 1000:.1f} ms, max {gaps.high * 1000:.1f} ms; the rest "
        "is reading the answer and printing"
    )
    late = lag_samples["late first probes"]
    if late:
        waited = [delay for delay in late if delay > 0]
        result.notes.append(
            f"N={count}: {len(waited)} of {len(late)} instances were ready before start-all's first probe reached "
            f"them (median wait {summarize(late).median * 1000:.0f} ms, max {max(late) * 1000:.0f} ms); an instance "
            "here is ready the moment it listens, and start-all sends its first HTTP probe once the port accepts"
        )
    result.raw[f"n{count}"] = {"times": times, "phases": phases, "lags": lag_samples}


def _lag_text(lags: list[float]) -> str:
    lag = summarize(lags)
    return (
        f"p95 {percentile(lags, 0.95) * 1000:.1f} ms, median {lag.median * 1000:.1f} ms, max {lag.high * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
