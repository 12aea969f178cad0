"""Question 2: how long does `cluster status` take for 20 instances of which 5 accept connections and never answer?

Probes run concurrently and share one timeout, so the bar is the probe timeout + 0.3 s, whatever the number of
hung instances. The seed's sequential curl (--max-time 5 each) would need 5 x 5 s = 25 s for the same cluster.
"""

from __future__ import annotations

import argparse
import json
import socket
import tempfile
import time
from pathlib import Path

from benchlib.fleet import ClusterProject, Group
from benchlib.floor import wait_ready
from benchlib.report import Result, publish
from benchlib.stats import summarize
from benchlib.timing import Contender, interleaved
from tasker_cluster.proc.ports import find_free_port_block

HEALTHY, HUNG = 15, 5
SLACK = 0.3
TIMEOUTS = (0.5, 2.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few repetitions")
    args = parser.parse_args()
    result = Result("status_hung", (__doc__ or "").splitlines()[0], args.quick)
    with tempfile.TemporaryDirectory(prefix="bench-status-hung-") as folder:
        measure(Path(folder), 3 if args.quick else 10, result)
    publish(result)


def measure(folder: Path, runs: int, result: Result) -> None:
    base = find_free_port_block(30)
    groups = [
        Group("orchestration", "orchestration", 10, base),
        Group("worker", "worker", HEALTHY - 10, base + 10),
        Group("hung", "worker", HUNG, base + 20, ("--hang",)),
    ]
    project = ClusterProject(folder / "project", groups)
    healthy = [member for member in project.members if "--hang" not in member.options]
    hung = [member for member in project.members if "--hang" in member.options]
    try:
        # The hung instances never answer their ready path, so start-all cannot wait for them.
        project.run("start-all", "--no-wait")
        wait_ready([member.ready_url for member in healthy], timeout=30)
        wait_listening([member.port for member in hung])
        contenders = [
            Contender(f"status --timeout {timeout}", project.argv("status", "--timeout", str(timeout)), ok_codes=(1,))
            for timeout in TIMEOUTS
        ]
        samples = interleaved(contenders, runs)
        document = json.loads(project.run("status", "--json", "--timeout", "0.5", check=False).stdout)
    finally:
        project.run("stop", "--timeout", "1", check=False)
    not_healthy = sorted(row["name"] for row in document["instances"] if row["status"] != "healthy")
    table = result.section(
        f"{HEALTHY} healthy + {HUNG} hung instances, {runs} interleaved runs each",
        ["command", "wall median (min-max)", "CPU median (min-max)", "bar (timeout + 0.3 s)", "verdict"],
    )
    for timeout, contender in zip(TIMEOUTS, contenders, strict=True):
        wall = summarize(samples.wall[contender.label])
        passed = wall.median <= timeout + SLACK
        table.rows.append(
            [
                contender.label,
                wall.seconds(),
                summarize(samples.cpu[contender.label]).seconds(),
                f"{timeout + SLACK:.1f} s",
                "pass" if passed else "miss",
            ]
        )
        result.target(
            f"status, {HUNG} of 20 hung, --timeout {timeout}", f"<= {timeout + SLACK:.1f} s", wall.seconds(), passed
        )
    expected = sorted(member.name for member in hung)
    result.target(
        "status reports exactly the hung instances as not healthy",
        ", ".join(expected),
        ", ".join(not_healthy),
        not_healthy == expected,
    )
    result.raw = {"wall": samples.wall, "cpu": samples.cpu, "status_json": document}


def wait_listening(ports: list[int]) -> None:
    """A hung instance is up once its port accepts connections (it never answers, so a GET only times out)."""
    deadline = time.monotonic() + 30
    pending = list(ports)
    while pending:
        still = []
        for port in pending:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) != 0:
                    still.append(port)
        pending = still
        if pending and time.monotonic() > deadline:
            raise TimeoutError(f"ports never listened: {pending}")
        time.sleep(0.01)


if __name__ == "__main__":
    main()
