"""A reader that goes away (`cluster start-all | head -3`) cuts the display short, never the work."""

from __future__ import annotations

import os
import subprocess

from support.sandbox import CLUSTER, STEERING, Sandbox
from tasker_cluster.proc.records import Liveness, liveness, read_records

NAMES = ["orchestration-1", "orchestration-2", "orchestration-3", "worker-1", "worker-2", "worker-3"]


def _run_into_closed_pipe(sandbox: Sandbox, *args: str, lines_read: int = 0) -> tuple[int, str]:
    """Run the CLI with stdout on a pipe whose reader reads `lines_read` lines and then closes it, as `head` does."""
    env = {key: value for key, value in os.environ.items() if key not in STEERING}
    process = subprocess.Popen(
        [CLUSTER, "--project-dir", str(sandbox.root), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None and process.stderr is not None
    for _ in range(lines_read):
        process.stdout.readline()
    process.stdout.close()
    stderr = process.stderr.read().decode()
    return process.wait(timeout=60), stderr


def _alive(sandbox: Sandbox) -> list[str]:
    records = read_records(sandbox.project).valid
    return [name for name, record in records.items() if liveness(record) is Liveness.ALIVE]


def test_start_all_piped_into_head_starts_every_instance_and_exits_quietly(sandbox: Sandbox) -> None:
    # Ready only after a second: the reader is gone long before start-all has anything but `spawned` lines to say.
    sandbox.write_cluster(3, 3, "--ready-after", "1")

    code, stderr = _run_into_closed_pipe(sandbox, "start-all", lines_read=3)

    assert sorted(_alive(sandbox)) == sorted(NAMES)
    assert (code, stderr) == (0, "")


def test_start_all_into_a_pipe_closed_from_the_start_still_starts_every_instance(sandbox: Sandbox) -> None:
    sandbox.write_cluster(3, 3)

    code, stderr = _run_into_closed_pipe(sandbox, "start-all")

    assert sorted(_alive(sandbox)) == sorted(NAMES)
    assert (code, stderr) == (0, "")


def test_stop_status_and_status_quick_into_a_closed_pipe_exit_quietly_with_their_own_code(sandbox: Sandbox) -> None:
    sandbox.write_cluster(3, 3)
    assert sandbox.start().ok

    status = _run_into_closed_pipe(sandbox, "status")
    quick = _run_into_closed_pipe(sandbox, "status-quick")
    stop = _run_into_closed_pipe(sandbox, "stop")

    assert [status, quick, stop] == [(0, ""), (0, ""), (0, "")]
    assert _alive(sandbox) == [] and read_records(sandbox.project).valid == {}
