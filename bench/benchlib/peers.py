"""The peers, run from the bench extra: supervisord (+ supervisorctl) with a generated config, honcho with a Procfile.

Both get the same members as every other contender. We start them as our own children, so stopping them means
signalling only what we started.
"""

from __future__ import annotations

import contextlib
import shlex
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import psutil

from benchlib.fleet import Member, clean_env
from benchlib.paths import HONCHO, SUPERVISORCTL, SUPERVISORD

_EXIT_WAIT = 15.0


class Supervisord:
    """supervisord in the foreground (-n) with one [program] per member, process groups signalled as a whole."""

    def __init__(self, folder: Path, members: Sequence[Member], stop_wait: float = 10.0) -> None:
        self.folder = folder
        self.members = list(members)
        self.config = folder / "supervisord.conf"
        self.process: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)
        self.config.write_text(self._config(stop_wait))

    def _config(self, stop_wait: float) -> str:
        folder = self.folder
        lines = [
            "[unix_http_server]",
            f"file={folder}/supervisor.sock",
            "[supervisord]",
            f"logfile={folder}/supervisord.log",
            f"pidfile={folder}/supervisord.pid",
            f"childlogdir={folder}",
            "loglevel=warn",
            "[rpcinterface:supervisor]",
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
            "[supervisorctl]",
            f"serverurl=unix://{folder}/supervisor.sock",
        ]
        for member in self.members:
            lines += [
                f"[program:{member.name}]",
                f"command={shlex.join(member.argv)}",
                "autostart=true",
                "autorestart=false",
                "stopasgroup=true",
                "killasgroup=true",
                f"stopwaitsecs={max(1, round(stop_wait))}",
                f"stdout_logfile={folder}/{member.name}.log",
                "redirect_stderr=true",
            ]
        return "\n".join(lines) + "\n"

    def argv(self) -> list[str]:
        return [SUPERVISORD, "-n", "-c", str(self.config)]

    def ctl(self, *args: str) -> list[str]:
        return [SUPERVISORCTL, "-c", str(self.config), *args]

    def start(self) -> subprocess.Popen[bytes]:
        self.process = _spawn(self.argv())
        return self.process

    def wait_all_running(self, timeout: float = 30.0) -> None:
        """Until `supervisorctl status` exits 0: every program RUNNING (after its startsecs)."""
        deadline = time.monotonic() + timeout
        while subprocess.run(self.ctl("status"), capture_output=True, check=False).returncode != 0:
            if time.monotonic() > deadline:
                raise TimeoutError("supervisord programs not RUNNING in time")
            time.sleep(0.1)

    def shutdown(self) -> None:
        if self.process is not None:
            stop_manager(self.process)
            self.process = None


class Honcho:
    """`honcho start` over a generated Procfile, one line per member."""

    def __init__(self, folder: Path, members: Sequence[Member]) -> None:
        self.folder = folder
        self.members = list(members)
        self.procfile = folder / "Procfile"
        self.process: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)
        self.procfile.write_text("".join(f"{m.name}: {shlex.join(m.argv)}\n" for m in self.members))

    def argv(self) -> list[str]:
        return [HONCHO, "-f", str(self.procfile), "-d", str(self.folder), "start"]

    def start(self) -> subprocess.Popen[bytes]:
        self.process = _spawn(self.argv())
        return self.process

    def shutdown(self) -> None:
        if self.process is not None:
            stop_manager(self.process)
            self.process = None


def _spawn(argv: list[str]) -> subprocess.Popen[bytes]:
    """A peer manager as our own child in its own session, output discarded, with the clean fleet environment."""
    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=clean_env(),
    )


def stop_manager(process: subprocess.Popen[bytes]) -> None:
    """Stop a peer manager we started, then any of its programs that outlived it: supervisord's own shutdown
    was seen leaving programs running, and the bench must leave no process behind."""
    programs = descendants(process.pid)
    stop_child(process)
    for program in programs:
        with contextlib.suppress(psutil.NoSuchProcess):
            if program.is_running() and program.status() != psutil.STATUS_ZOMBIE:
                program.kill()


def stop_child(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM a manager we started and reap it; SIGKILL it if it will not go."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(_EXIT_WAIT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
