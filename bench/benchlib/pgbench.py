"""The database's own limit on this machine: pgbench's built-in tpcb-like script against the same server."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from tasker_cluster.db.urls import without_password

DATABASE = "bench_pgbench"
SCALE = 10
CLIENTS = 8
THREADS = 2
_TPS = re.compile(r"^tps = ([0-9.]+) \(without initial connection time\)", re.MULTILINE)


def available() -> bool:
    return shutil.which("pgbench") is not None


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def prepare(url: str) -> str:
    """A fresh pgbench database (scale 10) on the server of `url`; returns its URL."""
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(DATABASE)))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
    target = with_database(url, DATABASE)
    subprocess.run(
        ["pgbench", "-i", "-q", "-s", str(SCALE), without_password(target)],
        capture_output=True,
        check=True,
        text=True,
        env=_env(target),
    )
    return target


def _env(url: str) -> dict[str, str]:
    """pgbench gets the password through its environment, readable by its own user only: its command line (the URL
    without the password) can be read by every user of the machine (ps, /proc)."""
    password = conninfo_to_dict(url).get("password")
    return {**os.environ, "PGPASSWORD": str(password)} if password else dict(os.environ)


def tps(target: str, seconds: int) -> float:
    """tpcb-like transactions per second over `seconds`, CLIENTS clients on THREADS threads."""
    completed = subprocess.run(
        [
            "pgbench",
            "-b",
            "tpcb-like",
            "-c",
            str(CLIENTS),
            "-j",
            str(THREADS),
            "-T",
            str(seconds),
            without_password(target),
        ],
        capture_output=True,
        text=True,
        check=True,
        env=_env(target),
    )
    match = _TPS.search(completed.stdout)
    if match is None:
        raise RuntimeError(f"no tps line in pgbench output:\n{completed.stdout[-2000:]}")
    return float(match.group(1))


def drop(url: str) -> None:
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(DATABASE)))
