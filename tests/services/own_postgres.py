"""A PostgreSQL server a test owns alone, so that it may `kill -9` it and start it again.

The shared per-worker server (`pg_server`) must stay up for every other test; outages need a server of their own.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from tasker_cluster.db.binaries import find_bindir
from tasker_cluster.db.postmaster import processes_in
from tasker_cluster.db.server import LocalServer
from tasker_cluster.proc.ports import find_free_port_block

_GONE_TIMEOUT_S = 30.0


@dataclass
class OwnPostgres:
    server: LocalServer
    root: Path

    def url(self, database: str) -> str:
        return self.server.superuser_url(database)

    def kill(self) -> float:
        """`kill -9` of the postmaster, as a crash would; returns when it is gone (time.monotonic() of the kill)."""
        record = self.server.running()
        assert record is not None, "the test's own PostgreSQL is not running"
        postmaster = psutil.Process(record.pid)
        killed_at = time.monotonic()
        os.kill(record.pid, signal.SIGKILL)
        # A zombie has exited: liveness by status, as PID 1 reaps orphans late.
        deadline = time.monotonic() + _GONE_TIMEOUT_S
        while postmaster.is_running() and postmaster.status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, f"postmaster {record.pid} survived SIGKILL"
            time.sleep(0.01)
        return killed_at

    def start(self) -> float:
        """Start it again (crash recovery included); returns time.monotonic() once it accepts connections."""
        self.server.start()
        return time.monotonic()

    def ensure_running(self) -> None:
        if self.server.running() is None:
            self.server.start()

    def remove(self) -> None:
        try:
            self.server.stop(grace_s=5)
            # Backends of a killed postmaster exit on their own; the folder goes once they did.
            psutil.wait_procs(processes_in(self.server.data_dir), timeout=_GONE_TIMEOUT_S)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_own_postgres() -> OwnPostgres:
    # /tmp rather than tmp_path: pytest's base folder is 0700 and the server runs as `postgres` when we are root.
    root = Path(tempfile.mkdtemp(prefix="tasker-test-own-pg-"))
    os.chmod(root, 0o755)
    # Durable: with synchronous_commit off, a crash loses the commits of its last moments, which these tests must
    # tell apart from work the services lost.
    server = LocalServer(find_bindir(), root / "postgres", find_free_port_block(1), max_connections=200)
    own = OwnPostgres(server, root)
    try:
        server.initialize()
        server.start()
    except BaseException:
        own.remove()
        raise
    return own
