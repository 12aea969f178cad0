"""One PostgreSQL server in one data folder: initdb, start, stop. Knows nothing about projects or .env."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from tasker_cluster.db.authentication import METHOD, write_hba
from tasker_cluster.db.credentials import (
    APP_ROLE,
    SUPERUSER,
    Credentials,
    generate_credentials,
    password_file,
    read_credentials,
    write_credentials,
)
from tasker_cluster.db.postmaster import PID_FILE, PostmasterRecord, processes_in, running_postmaster
from tasker_cluster.db.server_user import as_server_user, give_to_server_user
from tasker_cluster.db.urls import server_url
from tasker_cluster.errors import ClusterError
from tasker_cluster.proc.ports import LOOPBACK, is_port_free, port_holder

SETTINGS_FILE = "tasker_cluster.conf"
LOG_FILE = "server.log"
# sun_path holds 108 bytes; a deep project folder would make the socket path too long to bind.
_MAX_SOCKET_PATH = 100
_START_TIMEOUT_S = 60
_ORPHAN_WAIT_S = 10


@dataclass
class LocalServer:
    """A server the CLI owns. `durable=False` trades crash safety for speed (throwaway test servers only)."""

    bindir: Path
    data_dir: Path
    port: int
    max_connections: int = 500
    durable: bool = True
    # The password file as read or written by this object, so that a command reads it once.
    _credentials: Credentials | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def log_file(self) -> Path:
        return self.data_dir / LOG_FILE

    @property
    def password_file(self) -> Path:
        return password_file(self.data_dir)

    def credentials(self) -> Credentials:
        """The passwords in the data folder, read once per LocalServer (a command makes one); ClusterError when they
        are missing from a folder that requires them."""
        if self._credentials is None:
            found = read_credentials(self.data_dir)
            if found is None:
                raise ClusterError(
                    f"the password file {self.password_file} of the local database is missing or unreadable, "
                    "so no role can log in",
                    f"restore that file (it holds the passwords of `{SUPERUSER}` and `{APP_ROLE}`), or remove "
                    f"{self.data_dir} (losing its data) and run `cluster db up` to create a new server",
                )
            self._credentials = found
        return self._credentials

    def superuser_url(self, database: str) -> str:
        return server_url(SUPERUSER, self.credentials().superuser_password, self.port, database)

    def app_url(self, database: str) -> str:
        """The URL of the application role, which the services, migrations, PGMQ and `cluster db url` use."""
        return server_url(APP_ROLE, self.credentials().app_password, self.port, database)

    def is_initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").is_file()

    def running(self) -> PostmasterRecord | None:
        return running_postmaster(self.data_dir)

    def _run(self, argv: list[str], what: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(as_server_user(argv), capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()[-5:]
            raise ClusterError(
                f"{what} failed (exit {result.returncode}): {' | '.join(detail)}",
                f"see the messages above; the server log is {self.log_file}",
            )
        return result

    def initialize(self) -> None:
        """initdb into an empty data folder owned by the server's account, mode 0700, with generated passwords for
        the superuser and the application role (whose role `roles.provision` creates once the server runs) in the
        password file, and a pg_hba.conf that asks every connection for a password."""
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        give_to_server_user(self.data_dir)
        credentials = generate_credentials()
        argv = [str(self.bindir / "initdb"), "--pgdata", str(self.data_dir), "--username", SUPERUSER]
        argv += ["--auth", METHOD, "--encoding", "UTF8", "--locale", "C"]
        if not self.durable:
            argv.append("--no-sync")
        with self._superuser_password_file(credentials.superuser_password) as pwfile:
            self._run([*argv, "--pwfile", str(pwfile)], "initdb")
        self.write_password_file(credentials)
        self.require_passwords()
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(f"\n# Written by tasker-cluster at every start.\ninclude_if_exists = '{SETTINGS_FILE}'\n")

    def write_password_file(self, credentials: Credentials) -> None:
        give_to_server_user(write_credentials(self.data_dir, credentials))
        self._credentials = credentials

    def require_passwords(self) -> None:
        """Write our pg_hba.conf; a running server reads it at its next start (`restart`)."""
        give_to_server_user(write_hba(self.data_dir))

    @contextmanager
    def _superuser_password_file(self, password: str) -> Iterator[Path]:
        """initdb reads the superuser's password from a file, as the server's account, before the data folder may
        hold anything: a private folder beside it, removed right after."""
        folder = Path(tempfile.mkdtemp(prefix=".initdb-", dir=self.data_dir.parent))
        try:
            give_to_server_user(folder)
            path = folder / "password"
            path.write_text(password + "\n", encoding="utf-8")
            give_to_server_user(path)
            yield path
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _socket_dir(self) -> str:
        socket_path = self.data_dir / f".s.PGSQL.{self.port}"
        return str(self.data_dir) if len(str(socket_path)) <= _MAX_SOCKET_PATH else ""

    def _write_settings(self) -> None:
        lines = [
            f"listen_addresses = '{LOOPBACK}'",
            f"port = {self.port}",
            f"unix_socket_directories = '{self._socket_dir()}'",
            f"max_connections = {self.max_connections}",
        ]
        if not self.durable:
            lines += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        path = self.data_dir / SETTINGS_FILE
        path.write_text("\n".join(lines) + "\n")
        give_to_server_user(path)

    def _prepare_log(self) -> None:
        self.log_file.touch()
        give_to_server_user(self.log_file)

    def _log_tail(self, lines: int = 8) -> str:
        try:
            return "\n    ".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _check_port(self) -> None:
        if is_port_free(self.port):
            return
        raise ClusterError(
            f"port {self.port} on {LOOPBACK} is already taken by {port_holder(self.port).text}, so the database "
            "cannot listen there",
            "stop what holds the port, or choose another `port` in the [database] table of config/cluster.toml",
        )

    def _clear_stale_lock_files(self) -> None:
        """After a kill -9 or a reboot, postmaster.pid and the socket lock name a pid that is a zombie (until init
        reaps it) or an unrelated process; postgres takes either as a live server and refuses to start. Once no
        process works in the folder any more, those files are provably stale."""
        pid_file = self.data_dir / PID_FILE
        if not pid_file.exists() or self.running() is not None:
            return
        # Backends orphaned by a killed postmaster exit on their own within moments; wait for them, never signal.
        _gone, alive = psutil.wait_procs(processes_in(self.data_dir), timeout=_ORPHAN_WAIT_S)
        if alive:
            pids = " ".join(str(process.pid) for process in alive)
            raise ClusterError(
                f"processes of a crashed PostgreSQL still work in {self.data_dir} (pids {pids})",
                f"wait for them to exit or stop them (kill {pids}), then run `cluster db up` again",
            )
        pid_file.unlink(missing_ok=True)
        for lock in self.data_dir.glob(".s.PGSQL.*.lock"):
            lock.unlink(missing_ok=True)

    def start(self) -> PostmasterRecord:
        """Start and wait until it accepts connections (pg_ctl -w polls the server's own ready flag: no sleeps)."""
        running = self.running()
        if running is not None:
            return running
        self._clear_stale_lock_files()
        self._check_port()
        self._write_settings()
        self._prepare_log()
        argv = [str(self.bindir / "pg_ctl"), "start", "--pgdata", str(self.data_dir), "--log", str(self.log_file)]
        argv += ["--wait", "--timeout", str(_START_TIMEOUT_S), "--silent"]
        result = subprocess.run(as_server_user(argv), capture_output=True, text=True, timeout=_START_TIMEOUT_S + 10)
        record = self.running()
        if result.returncode != 0 or record is None:
            raise ClusterError(
                f"PostgreSQL in {self.data_dir} failed to start; its log ends with:\n    {self._log_tail()}",
                f"fix what the log names (full log: {self.log_file}), then run `cluster db up` again",
            )
        return record

    def restart(self) -> PostmasterRecord:
        """Stop (fast) and start again: clients are disconnected, and the new start reads every file afresh."""
        self.stop()
        return self.start()

    def stop(self, grace_s: float = 10) -> bool:
        """Fast shutdown (disconnects clients, checkpoints); immediate after `grace_s`. True when it was running."""
        record = self.running()
        if record is None:
            return False
        pg_ctl = str(self.bindir / "pg_ctl")
        base = [pg_ctl, "stop", "--pgdata", str(self.data_dir), "--wait", "--silent"]
        fast = subprocess.run(
            as_server_user([*base, "--mode", "fast", "--timeout", str(max(1, int(grace_s)))]),
            capture_output=True,
            text=True,
            timeout=grace_s + 30,
        )
        if fast.returncode != 0 and self.running() is not None:
            self._run([*base, "--mode", "immediate", "--timeout", "30"], "pg_ctl stop --mode immediate", 60)
        return True
