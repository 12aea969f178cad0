"""The `cluster` command, run on a test project as a child process: how the harness starts and stops clusters.

A throwaway cluster and the faults injected into it go through the very command a user types, so instances start,
stop and restart exactly as `cluster start-all`, `cluster start NAME` and `cluster stop` do, and the child gets only
the environment it is handed (a throwaway cluster: `clean_environment()`).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from typing import NamedTuple

from tasker_cluster.project import Project
from tasker_cluster.testing.errors import HarnessError

_SHOWN_LINES = 40
_QUICK_TIMEOUT = 30.0


class ConfiguredInstance(NamedTuple):
    name: str
    role: str
    url: str


def configured_instances(project: Project, *, env: Mapping[str, str]) -> list[ConfiguredInstance]:
    """Every instance of the project's topology, running or not, in the topology's order, as `cluster` sees it
    with `env` (counts may come from the environment): `status-quick --json`, which exits 1 when some are down."""
    output = run_cluster(project, ["status-quick", "--json"], env=env, timeout=_QUICK_TIMEOUT, accept=(0, 1))
    return [ConfiguredInstance(row["name"], row["role"], row["url"]) for row in json.loads(output)["instances"]]


def run_cluster(
    project: Project,
    args: list[str],
    *,
    env: Mapping[str, str],
    timeout: float,
    fix: str | None = None,
    accept: tuple[int, ...] = (0,),
) -> str:
    """`cluster --project-dir PROJECT ARGS...`; its output when its exit code is one of `accept`.

    Raises HarnessError with the command's last output lines (a failed start shows the failing instances' log
    lines) when it exits otherwise or outlives `timeout` seconds; `fix` replaces the default advice.
    """
    fix = fix or f"read the instance logs under {project.logs_dir}"
    argv = [sys.executable, "-m", "tasker_cluster", "--project-dir", str(project.root), *args]
    shown = "cluster " + " ".join(args)
    try:
        # stdin closed: a command that asks for confirmation must fail, not wait for a keyboard.
        completed = subprocess.run(
            argv, env=dict(env), capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise HarnessError(
            f"`{shown}` did not finish in {timeout:g} s{_tail(_text(error.stdout) + _text(error.stderr))}",
            fix,
        ) from None
    if completed.returncode not in accept:
        raise HarnessError(
            f"`{shown}` exited {completed.returncode}{_tail(completed.stdout + completed.stderr)}",
            fix,
        )
    return completed.stdout


def _text(output: str | bytes | None) -> str:
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""


def _tail(output: str) -> str:
    lines = output.rstrip().splitlines()[-_SHOWN_LINES:]
    return "".join(f"\n  | {line}" for line in lines) if lines else ""
