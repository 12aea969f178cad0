"""The reference services as real processes on free ports, for the services tests.

A module of its own rather than conftest.py: several test folders have a conftest.py, and `from conftest import`
resolves to whichever of them pytest imported last (with `pytest tests/services tests/testing` it was the wrong one).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tasker_cluster.proc.ports import find_free_port_block

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "config" / "templates"
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0


@dataclass
class ServiceProcess:
    """One service instance we started; we alone signal it."""

    role: str
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    stopped_with: int | None = field(default=None)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    pytest.fail(f"{self.name} exited with {self.process.returncode} before ready:\n{self.log()}")
                try:
                    if client.get(f"{self.url}/health/ready").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        pytest.fail(f"{self.name} not ready after {timeout} s:\n{self.log()}")

    def terminate(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM, then the exit code (SIGKILL and a failure if it does not exit in time)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                pytest.fail(f"{self.name} ignored SIGTERM for {timeout} s:\n{self.log()}")
        self.stopped_with = self.process.returncode
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL: the crash the services must survive without losing work."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.stopped_with = self.process.returncode


def spawn_service(
    role: str,
    name: str,
    database_url: str | None,
    log_dir: Path,
    extra_args: Sequence[str] = (),
    port: int | None = None,
) -> ServiceProcess:
    port = port if port is not None else find_free_port_block(1)
    args = [sys.executable, "-m", f"tasker_cluster.services.{role}", "--port", str(port), "--name", name]
    if role == "orchestration":
        args += ["--templates", str(TEMPLATES)]
    args += ["--poll-interval", "0.2", *extra_args]
    env = {key: value for key, value in os.environ.items() if not key.startswith("TASKER_")}
    env.pop("DATABASE_URL", None)
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=log_dir)
    return ServiceProcess(role, name, port, process, log_path)


TERMINAL_STATUSES = frozenset({"complete", "error", "cancelled"})


def wait_for_tasks(client: httpx.Client, uuids: Sequence[str], timeout: float = 30.0) -> dict[str, dict]:
    """Poll every task until each is in a terminal status; a task still running at the deadline fails the test."""
    deadline = time.monotonic() + timeout
    finished: dict[str, dict] = {}
    while time.monotonic() < deadline:
        for task_uuid in [u for u in uuids if u not in finished]:
            task = client.get(f"/v1/tasks/{task_uuid}").json()
            if task["status"] in TERMINAL_STATUSES:
                finished[task_uuid] = task
        if len(finished) == len(uuids):
            return finished
        time.sleep(0.05)
    pending = {u: client.get(f"/v1/tasks/{u}").json() for u in uuids if u not in finished}
    pytest.fail(f"{len(pending)} tasks unfinished after {timeout} s: {pending}")


@dataclass
class ServicePair:
    orchestration: ServiceProcess
    worker: ServiceProcess
    database_url: str

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.orchestration.url, timeout=10.0)
