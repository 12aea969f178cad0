"""Question 7: after PostgreSQL is killed (`kill -9`) and started again, how soon are the reference services ready and
serving, and does it depend on how long the database was down?

An orchestration and a worker instance run on a PostgreSQL of the bench's own. For each outage length, its postmaster
is killed, left down that long, then started (`pg_ctl -w`: it returns once the server accepts connections, crash
recovery done). Readiness and a POST are probed every 10 ms from then on. Beside them, the peer: psycopg_pool's
AsyncConnectionPool with its defaults (what the services used before), asked for a connection every 10 ms; its
reconnection backoff doubles after each failed attempt (1, 2, 4, ... s), so its recovery grows with the outage.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from benchlib.fleet import clean_env
from benchlib.paths import PROGRAMS, PYTHON, REPO
from benchlib.report import Result, publish
from tasker_cluster.db.binaries import find_bindir
from tasker_cluster.db.server import LocalServer
from tasker_cluster.proc.ports import find_free_port_block

OUTAGES_QUICK = (2.0, 10.0, 30.0)
OUTAGES_FULL = (2.0, 10.0, 30.0, 90.0)
READY_BAR_S = 2.0
UNREADY_BAR_S = 1.0
PROBE_S = 0.01
WAIT_S = 60.0
# The peer's next attempt after a 90 s outage may come a minute or more after the server is back.
PEER_WAIT_S = 300.0
BODY = json.dumps({"namespace": "examples", "name": "linear", "context": {"even_number": 2}}).encode()


@dataclass
class Instance:
    name: str
    port: int
    process: subprocess.Popen[bytes]

    def get(self, path: str) -> int:
        return _request(self.port, "GET", path)

    def post(self) -> int:
        return _request(self.port, "POST", "/v1/tasks", BODY)


@dataclass
class Peer:
    """The default pool's process and the `(up, monotonic time)` changes it printed."""

    process: subprocess.Popen[str]
    changes: list[tuple[bool, float]] = field(default_factory=list)

    def follow(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            state, at = line.split()
            self.changes.append((state == "up", float(at)))

    def up_after(self, since: float, timeout: float) -> float | None:
        """Seconds from `since` to the first `up` after it, or None if it did not come within `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for up, at in list(self.changes):
                if up and at >= since:
                    return at - since
            time.sleep(PROBE_S)
        return None


@dataclass(frozen=True)
class Outage:
    length_s: float
    unready_after_s: float
    refused_status: int
    refused_in_s: float
    ready_after_s: float
    serving_after_s: float
    peer_after_s: float | None


def _request(port: int, method: str, path: str, body: bytes | None = None) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        connection.request(method, path, body, headers)
        response = connection.getresponse()
        response.read()
        return response.status
    except OSError:
        return 0
    finally:
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter outages")
    args = parser.parse_args()
    result = Result("recovery", (__doc__ or "").splitlines()[0], args.quick)
    outages = OUTAGES_QUICK if args.quick else OUTAGES_FULL
    root = Path(tempfile.mkdtemp(prefix="bench-recovery-"))
    # As root the server runs as `postgres`, which must reach its data folder.
    os.chmod(root, 0o755)
    try:
        measured = measure(root, outages)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report(result, measured)
    publish(result)


def measure(root: Path, outages: tuple[float, ...]) -> list[Outage]:
    server = LocalServer(find_bindir(), root / "postgres", find_free_port_block(1), max_connections=100)
    server.initialize()
    server.start()
    url = server.superuser_url("postgres")
    ports = find_free_port_block(2)
    instances: list[Instance] = []
    peer: Peer | None = None
    try:
        for role, port in (("orchestration", ports), ("worker", ports + 1)):
            instances.append(spawn(role, port, url, root))
        wait_until(lambda: all(instance.get("/health/ready") == 200 for instance in instances), "instances ready")
        # Its stderr is the pool's own warnings about each failed attempt.
        argv = [PYTHON, str(PROGRAMS / "default_pool.py"), url]
        peer = Peer(subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True))
        threading.Thread(target=peer.follow, daemon=True).start()
        wait_until(lambda: any(up for up, _ in peer.changes), "the peer's pool connected")
        return [one_outage(server, instances, peer, length) for length in outages]
    finally:
        for process in [*(instance.process for instance in instances), *([peer.process] if peer else [])]:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
        server.stop(grace_s=5)


def spawn(role: str, port: int, url: str, root: Path) -> Instance:
    name = f"{role}-1"
    argv = [PYTHON, "-m", f"tasker_cluster.services.{role}", "--port", str(port), "--name", name]
    if role == "orchestration":
        argv += ["--templates", str(REPO / "config" / "templates")]
    env = {**clean_env(), "DATABASE_URL": url}
    with (root / f"{name}.log").open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root)
    return Instance(name, port, process)


def wait_until(condition: object, what: str, timeout: float = WAIT_S) -> float:
    """Poll every 10 ms; the time.monotonic() at which `condition()` first held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return time.monotonic()
        time.sleep(PROBE_S)
    raise TimeoutError(f"not {what} after {timeout:g} s")


def one_outage(server: LocalServer, instances: list[Instance], peer: Peer, length: float) -> Outage:
    record = server.running()
    assert record is not None
    postmaster = psutil.Process(record.pid)
    killed_at = time.monotonic()
    os.kill(record.pid, signal.SIGKILL)
    unready_at = wait_until(lambda: all(instance.get("/health/ready") == 503 for instance in instances), "unready")
    sent = time.monotonic()
    refused = instances[0].post()
    refused_in = time.monotonic() - sent
    psutil.wait_procs([postmaster], timeout=30)
    time.sleep(max(0.0, killed_at + length - time.monotonic()))
    server.start()
    up_at = time.monotonic()
    ready_at = wait_until(lambda: all(instance.get("/health/ready") == 200 for instance in instances), "ready again")
    serving_at = wait_until(lambda: instances[0].post() == 201, "serving again")
    return Outage(
        length_s=length,
        unready_after_s=unready_at - killed_at,
        refused_status=refused,
        refused_in_s=refused_in,
        ready_after_s=ready_at - up_at,
        serving_after_s=serving_at - up_at,
        peer_after_s=peer.up_after(up_at, PEER_WAIT_S),
    )


def report(result: Result, outages: list[Outage]) -> None:
    table = result.section(
        "after `kill -9` of PostgreSQL, down for the outage, then started again (times from the kill / from the "
        "database accepting connections)",
        [
            "outage",
            "unready after kill",
            "POST while down",
            "ready after db up",
            "first 201 after db up",
            "psycopg_pool defaults: first connection after db up",
        ],
    )
    for outage in outages:
        peer = f"{outage.peer_after_s:.2f} s" if outage.peer_after_s is not None else f"> {PEER_WAIT_S:.0f} s"
        table.rows.append(
            [
                f"{outage.length_s:.0f} s",
                f"{outage.unready_after_s:.3f} s",
                f"{outage.refused_status} in {outage.refused_in_s * 1000:.0f} ms",
                f"{outage.ready_after_s:.3f} s",
                f"{outage.serving_after_s:.3f} s",
                peer,
            ]
        )
    longest = max(outage.length_s for outage in outages)
    worst = max(max(outage.ready_after_s, outage.serving_after_s) for outage in outages)
    result.target(
        f"ready and serving after the database is back, outages of up to {longest:.0f} s",
        f"<= {READY_BAR_S:.0f} s",
        f"max {worst:.3f} s",
        worst <= READY_BAR_S,
    )
    slowest = max(outage.unready_after_s for outage in outages)
    result.target(
        "/health/ready 503 after the database is killed", f"<= {UNREADY_BAR_S:.0f} s", f"max {slowest:.3f} s",
        slowest <= UNREADY_BAR_S,
    )  # fmt: skip
    refused = all(outage.refused_status == 503 for outage in outages)
    result.target(
        "a POST while the database is down", "503 at once", ", ".join(
            f"{outage.refused_status} in {outage.refused_in_s * 1000:.0f} ms" for outage in outages
        ), refused,
    )  # fmt: skip
    result.raw = {"outages": [outage.__dict__ for outage in outages]}


if __name__ == "__main__":
    main()
