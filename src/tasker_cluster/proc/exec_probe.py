"""Exec probes: a service's check command, run as Kubernetes' exec probe or process-compose's is: exit 0 = ready.

The command is an argv list, never a shell string. It runs as the leader of a session of its own, so a probe that
hangs past its timeout is killed whole (its children too), and no process of it is taken for one of the instance's
(it carries no instance token). Its output is kept for the last line only: what a failing check says is why.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from tasker_cluster.proc.probes import ProbeResult

# What a killed probe still gets to flush before its pipes are dropped: a grandchild that left its session could
# hold them open for ever.
_DRAIN_TIMEOUT = 0.5
# The HEALTH column and the timeout message quote one line, not a traceback.
_OUTPUT_CHARS = 160
# What starting a command fails with when it is missing or not a program: trying again cannot help. Other errors
# (no memory, too many processes) may pass.
_NEVER_RUNS = (FileNotFoundError, PermissionError, NotADirectoryError, IsADirectoryError)


def probe_env(project_root: Path, name: str, port: int) -> dict[str, str]:
    """The probe's environment: ours, and the instance's identity and address as the instance itself gets them
    (`cluster/start.instance_env`), so a check can find its instance without placeholders."""
    return {
        **os.environ,
        "TASKER_INSTANCE_ID": name,
        "TASKER_INSTANCE_PORT": str(port),
        "TASKER_BIND_ADDRESS": "127.0.0.1",
        "TASKER_PROJECT_DIR": str(project_root),
    }


def run_probe_command(argv: Sequence[str], timeout: float, cwd: str, env: dict[str, str]) -> ProbeResult:
    """Run `argv` in `cwd` with `env` until it exits or `timeout` seconds pass (then its process group is killed).

    Never raises for what the command does: `exit_code` is its exit status (-N for a signal), `output` the last
    non-empty line of its stderr, else of its stdout; `error` is "timeout", or the OS error that kept it from
    starting ("FileNotFoundError: check.py"), with `exit_code` None and `cannot_run` when no later run can start.
    """
    started = time.perf_counter()
    try:
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as error:
        never = isinstance(error, _NEVER_RUNS) or error.errno == errno.ENOEXEC
        return ProbeResult(None, None, f"{type(error).__name__}: {argv[0]}", kind="exec", cannot_run=never)
    try:
        out, err = process.communicate(timeout=max(timeout, 0.0))
    except subprocess.TimeoutExpired:
        _kill_group(process)
        return ProbeResult(None, (time.perf_counter() - started) * 1000, "timeout", kind="exec")
    latency = (time.perf_counter() - started) * 1000
    return ProbeResult(None, latency, None, kind="exec", exit_code=process.returncode, output=_last_line(err, out))


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL to the probe's whole group (it leads it: we started it so), then reap it."""
    # Not reaped yet, the leader's pid (the group's id) cannot have been given to another process.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    try:
        process.communicate(timeout=_DRAIN_TIMEOUT)
    except subprocess.TimeoutExpired:
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
        process.wait()


def _last_line(*outputs: bytes) -> str:
    for output in outputs:
        lines = [line.strip() for line in output.decode("utf-8", errors="replace").splitlines() if line.strip()]
        if lines:
            return lines[-1][:_OUTPUT_CHARS]
    return ""
