"""The compose harness waits for each instance by its service's probe kind, with the readiness watch start-all
uses: real servers and a real check on loopback stand in for the containers; only the engine is scripted (its
`podman exec` runs the check on the host, and the containers' states are given)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.sandbox import REPO, SERVER, wait_listening
from tasker_cluster.config.model import Instance
from tasker_cluster.containers.compose import ComposeProject, Container
from tasker_cluster.proc.ports import find_free_port_block
from tasker_cluster.testing.compose_faults import ComposeFaults
from tasker_cluster.testing.errors import HarnessError

SUPPORT = REPO / "tests" / "support"


class ScriptedEngine:
    """podman as the harness sees it: `exec` runs the command here and notes the container it was meant for."""

    def __init__(self) -> None:
        self.env = dict(os.environ)
        self.exec_in: list[str] = []
        self.commands: list[list[str]] = []

    def exec_argv(self, container: str, argv: Sequence[str]) -> list[str]:
        self.exec_in.append(container)
        return list(argv)

    def run(self, args: Sequence[str], *, what: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        self.commands.append(list(args))
        return subprocess.CompletedProcess(list(args), 0, "", "")


class ScriptedDeployment:
    """A compose project whose file is real and whose containers are in the given states."""

    def __init__(self, file: Path, states: dict[str, str]) -> None:
        self.project = ComposeProject("tasker-e2e-test", file)
        self.name, self.file = self.project.name, file
        self.states = states

    def containers(self, podman: object) -> dict[str, Container]:
        return {name: Container(name, f"{self.name}_{name}_1", state, 1, 0) for name, state in self.states.items()}

    def healthcheck_tests(self) -> dict[str, list[str]]:
        return self.project.healthcheck_tests()

    def logs(self, podman: object, container: str, lines: int) -> list[str]:
        return []


def _instance(name: str, port: int, probe: str) -> Instance:
    url = f"http://127.0.0.1:{port}"
    return Instance(name, name[:-2], "worker", 1, port, url, [], {}, "/health", "/health/ready", 30.0, 1.0, probe)


@pytest.fixture
def ports() -> Iterator[int]:
    yield find_free_port_block(2)


def _serve(argv: list[str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, *argv, "--port", str(port)])
    wait_listening(port)
    return process


def _driver(tmp_path: Path, base: int, states: dict[str, str]) -> tuple[ComposeFaults, ScriptedEngine]:
    marker = tmp_path / "job-1.ready"
    # The exec service's healthcheck in the file: the harness runs its test.
    check = [sys.executable, str(SUPPORT / "check_ready.py"), str(marker)]
    services: dict[str, Any] = {"job-1": {"healthcheck": {"test": ["CMD", *check]}}, "web-1": {}, "raw-1": {}}
    file = tmp_path / "compose.yaml"
    file.write_text(yaml.safe_dump({"services": services}))
    instances = [
        _instance("web-1", base, "http"),
        _instance("raw-1", base + 1, "tcp"),
        _instance("job-1", base + 5, "exec"),
        _instance("quiet-1", base + 6, "none"),
    ]
    engine = ScriptedEngine()
    deployment = ScriptedDeployment(file, states)
    return ComposeFaults(engine, deployment, instances, lambda: None, 30.0), engine  # type: ignore[arg-type]


def test_each_kind_is_ready_by_its_own_probe_and_the_check_runs_in_its_container(tmp_path: Path, ports: int) -> None:
    (tmp_path / "job-1.ready").touch()
    web = _serve([str(SERVER), "--ready-after", "0.3"], ports)
    raw = _serve([str(SUPPORT / "tcp_server.py")], ports + 1)
    running = {name: "running" for name in ("web-1", "raw-1", "job-1", "quiet-1")}
    faults, engine = _driver(tmp_path, ports, running)
    try:
        faults.start_all(faults.instances(), 20.0)
    finally:
        web.terminate()
        raw.terminate()
        web.wait()
        raw.wait()

    assert engine.exec_in and set(engine.exec_in) == {"tasker-e2e-test_job-1_1"}
    # Nothing needed starting: every container was running.
    assert engine.commands == []


def test_an_instance_not_ready_by_its_kind_is_named_with_what_its_probe_last_said(tmp_path: Path, ports: int) -> None:
    web = _serve([str(SERVER)], ports)
    states = {"web-1": "running", "raw-1": "running", "job-1": "running", "quiet-1": "exited"}
    faults, engine = _driver(tmp_path, ports, states)
    try:
        with pytest.raises(HarnessError) as raised:
            faults.start_all(faults.instances(), 1.5)
    finally:
        web.terminate()
        web.wait()

    message = raised.value.message
    assert message.startswith("3 instances of the compose deployment are not ready:"), message
    assert "raw-1: timeout after" in message and "web-1" not in message
    assert "job-1: timeout after" in message and "last answer exec exit 3: not ready: job-1.ready is missing" in message
    assert "quiet-1: timeout after" in message and "its container does not run" in message
    # The stopped container was started again before it was waited for.
    assert ["start", "tasker-e2e-test_quiet-1_1"] in engine.commands
