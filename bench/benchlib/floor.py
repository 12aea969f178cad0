"""The floor: what starting and stopping the instances costs with nothing but the standard library.

Run as a command, it is the floor every target compares with: it pays for an interpreter start, as every lifecycle
tool does. The benches also call its functions in their own warm process (the in-process floor, for reference):

    floor.py start SPEC_JSON      spawn each {"argv": [...], "url": "..."} in its own session, poll every url
                                  until it answers 200, print the pids as JSON, exit
    floor.py stop PID...          SIGTERM each process group, wait until every leader is gone or a zombie
"""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import TYPE_CHECKING

# What only starting needs is imported inside the functions: the stop floor must not pay for an HTTP client.
if TYPE_CHECKING:
    import subprocess
    from collections.abc import Sequence
    from pathlib import Path

# Between polling rounds; small enough to add little lag, large enough not to starve the instances of CPU.
POLL_PAUSE = 0.002


def spawn(argvs: Sequence[Sequence[str]], logs: Sequence[Path] | None = None) -> list[subprocess.Popen[bytes]]:
    """Each argv in its own session; output to the matching log file (truncated), or discarded."""
    import subprocess

    processes = []
    for position, argv in enumerate(argvs):
        with open(logs[position], "wb") if logs else open(os.devnull, "wb") as output:
            processes.append(
                subprocess.Popen(
                    list(argv),
                    stdin=subprocess.DEVNULL,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
    return processes


def answers_ok(url: str, timeout: float = 1.0) -> bool:
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        connection.request("GET", parts.path or "/")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def wait_ready(urls: Sequence[str], timeout: float) -> dict[str, float]:
    """CLOCK_MONOTONIC time at which each url first answered 200; raises TimeoutError past `timeout`."""
    deadline = time.monotonic() + timeout
    seen: dict[str, float] = {}
    while len(seen) < len(urls):
        for url in urls:
            if url not in seen and answers_ok(url):
                seen[url] = time.monotonic()
        if len(seen) == len(urls):
            break
        if time.monotonic() > deadline:
            missing = [url for url in urls if url not in seen]
            raise TimeoutError(f"not ready after {timeout} s: {', '.join(missing)}")
        time.sleep(POLL_PAUSE)
    return seen


def signal_groups(pids: Sequence[int], signum: int = signal.SIGTERM) -> None:
    for pid in pids:
        try:
            os.killpg(pid, signum)
        except ProcessLookupError:
            continue


def gone(pid: int) -> bool:
    """Exited, or a zombie waiting for a lazy reaper: either way no longer running."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            stat = file.read()
    except FileNotFoundError:
        return True
    return stat[stat.rindex(b")") + 2 : stat.rindex(b")") + 3] in (b"Z", b"X")


def wait_gone(pids: Sequence[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = list(pids)
    while pending:
        pending = [pid for pid in pending if not gone(pid)]
        if pending and time.monotonic() > deadline:
            raise TimeoutError(f"still running after {timeout} s: {pending}")
        if pending:
            time.sleep(POLL_PAUSE)


def stop_reaping(processes: Sequence[subprocess.Popen[bytes]], timeout: float = 10.0) -> None:
    """killpg + reap: the parent's way, the cheapest stop there is."""
    signal_groups([process.pid for process in processes])
    for process in processes:
        process.wait(timeout)


def main(argv: Sequence[str]) -> int:
    if len(argv) >= 2 and argv[0] == "start":
        import json

        spec = json.loads(argv[1])
        processes = spawn([item["argv"] for item in spec])
        try:
            wait_ready([item["url"] for item in spec], timeout=60.0)
        except TimeoutError as error:
            signal_groups([process.pid for process in processes], signal.SIGKILL)
            for process in processes:
                process.wait()
            sys.stderr.write(f"{error}; exit codes {[process.returncode for process in processes]}\n")
            return 1
        print(json.dumps([process.pid for process in processes]))
        return 0
    if argv and argv[0] == "stop":
        pids = [int(pid) for pid in argv[1:]]
        signal_groups(pids)
        wait_gone(pids, timeout=10.0)
        return 0
    sys.stderr.write(__doc__ or "")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
