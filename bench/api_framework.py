"""What does the services' HTTP framework cost per request: Starlette with pydantic, or FastAPI?

The same four requests (GET /health, GET /v1/tasks/{uuid}, GET /v1/tasks?status=&limit=, POST /v1/tasks) against
the orchestration's HTTP surface built both ways (`programs/framework_app.py`, no database, so only the framework's
own work is counted), each served by uvicorn as the services configure it. Per round, each variant answers a block
of requests per endpoint over one keep-alive connection, in rotating order; the server's CPU time (every thread of
its process, from /proc schedstat) per request is the figure, client-side latency p50/p99 beside it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

from benchlib.paths import PROGRAMS, PYTHON
from benchlib.report import Result, publish
from benchlib.stats import paired_ratio, percentile, summarize
from tasker_cluster.proc.ports import find_free_port_block

FRAMEWORKS = ("starlette", "fastapi")
BODY = json.dumps({"namespace": "examples", "name": "linear", "context": {"even_number": 2, "ratio": 0.5},
                   "tags": ["bench"], "idempotency_key": "bench-key"})  # fmt: skip
ENDPOINTS = {
    "GET /health": ("GET", "/health", None),
    "GET /v1/tasks/{uuid}": ("GET", f"/v1/tasks/{uuid.uuid4()}", None),
    "GET /v1/tasks?status=&limit=": ("GET", "/v1/tasks?status=complete&limit=20", None),
    "POST /v1/tasks": ("POST", "/v1/tasks", BODY),
}
HEADERS = {"Content-Type": "application/json"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds and requests")
    args = parser.parse_args()
    rounds, block = (5, 400) if args.quick else (15, 1000)
    result = Result("api_framework", (__doc__ or "").splitlines()[0], args.quick)
    servers = {name: start(name) for name in FRAMEWORKS}
    try:
        cpu_us, latencies = measure(servers, rounds, block)
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(10)
    report(result, cpu_us, latencies, rounds, block)
    imports = result.section(
        f"import time of each variant's program (a service pays it at every start), ms: median (min-max) of {rounds}",
        ["variant", "import", "vs starlette (paired)"],
    )
    seconds = import_seconds(rounds)
    for name in FRAMEWORKS:
        ratio = paired_ratio(seconds[name], seconds["starlette"]).times()
        imports.rows.append([name, summarize(seconds[name]).ms(), ratio])
    result.raw["import_s"] = seconds
    publish(result)


def import_seconds(rounds: int) -> dict[str, list[float]]:
    """Wall time of `import` of each framework with the request model, in a fresh interpreter, interleaved."""
    modules = {"starlette": "starlette.applications", "fastapi": "fastapi"}
    seconds: dict[str, list[float]] = {name: [] for name in FRAMEWORKS}
    for _ in range(rounds):
        for name in FRAMEWORKS:
            code = f"import {modules[name]}, tasker_cluster.services.orchestration.task_request"
            started = time.perf_counter()
            subprocess.run([PYTHON, "-c", code], check=True)
            seconds[name].append(time.perf_counter() - started)
    return seconds


def start(framework: str) -> tuple[subprocess.Popen[bytes], str]:
    port = find_free_port_block(1)
    process = subprocess.Popen([PYTHON, str(PROGRAMS / "framework_app.py"), framework, str(port)])
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health").status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    sys.exit(f"{framework} variant did not answer within 20 s")


def cpu_ns(pid: int) -> int:
    """CPU time of every thread of a process in nanoseconds (schedstat: the tick-based utime/stime is 10 ms coarse)."""
    return sum(int(path.read_text().split()[0]) for path in Path(f"/proc/{pid}/task").glob("*/schedstat"))


def measure(
    servers: dict[str, tuple[subprocess.Popen[bytes], str]], rounds: int, block: int
) -> tuple[dict[str, dict[str, list[float]]], dict[str, dict[str, list[float]]]]:
    cpu_us = {name: {endpoint: [] for endpoint in ENDPOINTS} for name in FRAMEWORKS}
    latencies = {name: {endpoint: [] for endpoint in ENDPOINTS} for name in FRAMEWORKS}
    clients = {name: httpx.Client(base_url=url, headers=HEADERS) for name, (_, url) in servers.items()}
    try:
        for round_index in range(rounds):
            order = FRAMEWORKS[round_index % 2 :] + FRAMEWORKS[: round_index % 2]
            for endpoint, (method, path, body) in ENDPOINTS.items():
                for name in order:
                    pid = servers[name][0].pid
                    client = clients[name]
                    client.request(method, path, content=body)
                    before = cpu_ns(pid)
                    for _ in range(block):
                        started = time.perf_counter()
                        response = client.request(method, path, content=body)
                        latencies[name][endpoint].append(time.perf_counter() - started)
                        if response.status_code >= 300:
                            sys.exit(f"{name} {endpoint}: {response.status_code} {response.text}")
                    cpu_us[name][endpoint].append((cpu_ns(pid) - before) / block / 1000)
    finally:
        for client in clients.values():
            client.close()
    return cpu_us, latencies


def report(
    result: Result,
    cpu_us: dict[str, dict[str, list[float]]],
    latencies: dict[str, dict[str, list[float]]],
    rounds: int,
    block: int,
) -> None:
    table = result.section(
        f"server CPU per request, µs: median (min-max) of {rounds} rounds of {block} requests",
        ["request", *FRAMEWORKS, "fastapi / starlette (paired)", "p50 / p99 latency starlette", "fastapi"],
    )
    for endpoint in ENDPOINTS:
        cells = []
        for name in FRAMEWORKS:
            s = summarize(cpu_us[name][endpoint])
            cells.append(f"{s.median:.0f} ({s.low:.0f}-{s.high:.0f})")
        ratio = paired_ratio(cpu_us["fastapi"][endpoint], cpu_us["starlette"][endpoint])
        lat = [
            f"{percentile(seen, 0.5) * 1e6:.0f} / {percentile(seen, 0.99) * 1e6:.0f}"
            for seen in (latencies[name][endpoint] for name in FRAMEWORKS)
        ]
        table.rows.append([endpoint, *cells, ratio.times(), *lat])
    result.raw = {"cpu_us": cpu_us}


if __name__ == "__main__":
    main()
