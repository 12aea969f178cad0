"""A throwaway project with its own topology, log files the tests write themselves, and the real `cluster` CLI."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tasker_cluster.proc.ports import find_free_port_block
from tasker_cluster.project import Project

CLUSTER = str(Path(sys.executable).with_name("cluster"))
_STEERING = ("TASKER_ORCHESTRATION_INSTANCES", "TASKER_WORKER_INSTANCES", "TASKER_PROJECT_DIR", "NO_COLOR")
# A deadline for output that should come within a poll interval; generous because the machine is shared.
OUTPUT_DEADLINE = 20.0


def write_topology(project: Project) -> None:
    """orchestration-1..2, worker-a-1..2, worker-b-1: names of different lengths to check the alignment."""
    base = find_free_port_block(21)
    project.config_file.parent.mkdir(parents=True, exist_ok=True)
    command = 'command = ["{python}", "-c", "pass"]\n'
    project.config_file.write_text(
        '[database]\nmode = "none"\n\n'
        f'[services.orchestration]\nrole = "orchestration"\ncount = 2\nbase_port = {base}\n{command}\n'
        f'[services.worker-a]\nrole = "worker"\ncount = 2\nbase_port = {base + 10}\n{command}\n'
        f'[services.worker-b]\nrole = "worker"\ncount = 1\nbase_port = {base + 20}\n{command}'
    )


@pytest.fixture
def project(tmp_path: Path) -> Project:
    created = Project(tmp_path)
    write_topology(created)
    created.logs_dir.mkdir()
    return created


def append(project: Project, instance: str, text: str) -> None:
    with project.log_file(instance).open("a", encoding="utf-8") as file:
        file.write(text)


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    clean = {key: value for key, value in os.environ.items() if key not in _STEERING}
    return {**clean, **(extra or {})}


RunCli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run_cli(project: Project) -> RunCli:
    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CLUSTER, "--project-dir", str(project.root), *args],
            env=cli_env(env),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return run


class FollowedLogs:
    """A running `cluster logs -f`, its stdout read line by line on a thread so the test can wait for a line."""

    def __init__(self, project: Project, *args: str) -> None:
        self.process = subprocess.Popen(
            [CLUSTER, "--project-dir", str(project.root), "logs", "-f", *args],
            env=cli_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, expected: str) -> list[str]:
        """Every line up to and including `expected`; fails if it does not come before the deadline."""
        start = len(self.seen)
        while expected not in self.seen[start:]:
            try:
                self.seen.append(self.lines.get(timeout=OUTPUT_DEADLINE))
            except queue.Empty:
                pytest.fail(f"no line {expected!r} from cluster logs -f; got {self.seen!r}")
        return self.seen[start:]

    def interrupt(self) -> tuple[int, str]:
        """Ctrl-C, as a terminal sends it: SIGINT. Returns the exit code and stderr."""
        assert self.process.stderr is not None
        self.process.send_signal(signal.SIGINT)
        returncode = self.process.wait(timeout=OUTPUT_DEADLINE)
        return returncode, self.process.stderr.read()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def follow_logs(project: Project) -> Iterator[Callable[..., FollowedLogs]]:
    started: list[FollowedLogs] = []

    def start(*args: str) -> FollowedLogs:
        followed = FollowedLogs(project, *args)
        started.append(followed)
        return followed

    yield start
    for followed in started:
        followed.close()


TALKER = Path(__file__).with_name("talker.py")


class Talker:
    """One real instance (`talker-1`, tests/logs/talker.py) started by `cluster start-all` in its own project, whose
    output the test dictates over HTTP; `logs` is the project's `[logs]` table."""

    def __init__(self, root: Path, logs: dict[str, object]) -> None:
        self.project = Project(root)
        port = find_free_port_block(1)
        self.url = f"http://127.0.0.1:{port}"
        self.project.config_file.parent.mkdir(parents=True, exist_ok=True)
        table = "".join(f"{key} = {value!r}\n".replace("'", '"') for key, value in logs.items())
        self.project.config_file.write_text(
            '[database]\nmode = "none"\n\n'
            + (f"[logs]\n{table}\n" if logs else "")
            + '[services.talker]\nrole = "worker"\ncount = 1\n'
            + f'base_port = {port}\ncommand = ["{{python}}", "{TALKER}", "--port", "{{port}}"]\n'
            + 'ready_path = "/health"\nstop_grace = 5\n'
        )
        self.log = self.project.log_file("talker-1")
        self._followed: list[FollowedLogs] = []

    def cli(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CLUSTER, "--project-dir", str(self.project.root), *args],
            env=cli_env(env),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def start(self) -> None:
        started = self.cli("start-all")
        assert started.returncode == 0, started.stdout + started.stderr

    def write(self, data: bytes) -> None:
        import httpx

        httpx.post(f"{self.url}/write", content=data, timeout=30).raise_for_status()

    def burst(self, lines: int, width: int) -> None:
        import httpx

        httpx.post(f"{self.url}/burst", params={"lines": lines, "width": width}, timeout=60).raise_for_status()

    def follow(self, *args: str) -> FollowedLogs:
        followed = FollowedLogs(self.project, *args)
        self._followed.append(followed)
        return followed

    def close(self) -> None:
        for followed in self._followed:
            followed.close()
        self.cli("stop")


@pytest.fixture
def talker(tmp_path: Path) -> Iterator[Callable[..., Talker]]:
    """`talker(**logs)`: a started talker whose project has the `[logs]` table `logs`."""
    started: list[Talker] = []

    def start(**logs: object) -> Talker:
        created = Talker(tmp_path / f"talker-project-{len(started)}", logs)
        started.append(created)
        created.start()
        return created

    yield start
    for created in started:
        created.close()
