"""Loopback ports: finding free blocks for test clusters, and naming who holds a taken port or why none can be named.

A port is checked the way servers bind it (SO_REUSEADDR), so connections a server left in TIME_WAIT do not make it
look taken: only what would make the server's own bind fail does.
"""

from __future__ import annotations

import os
import socket
from typing import NamedTuple

LOOPBACK = "127.0.0.1"
# Below Linux's default ephemeral range (32768-60999), so an outgoing connection never grabs a port we chose.
_SEARCH_LOW, _SEARCH_HIGH = 20000, 32000
_COMMAND_WIDTH = 100


def is_port_free(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def find_free_port_block(count: int, host: str = LOOPBACK, attempts: int = 200) -> int:
    """First port of `count` consecutive free ports, chosen at random so parallel test workers rarely collide."""
    import random

    rng = random.Random()
    for _ in range(attempts):
        base = rng.randrange(_SEARCH_LOW, _SEARCH_HIGH - count)
        if all(is_port_free(base + offset, host) for offset in range(count)):
            return base
    raise RuntimeError(f"no block of {count} free ports on {host} after {attempts} attempts")


class PortHolder(NamedTuple):
    """What holds a taken port: the process (`pid`, None when none can be named) and a text that names it, or says
    why no process can be named."""

    pid: int | None
    text: str


# /proc/net/tcp's state codes (include/net/tcp_states.h).
_LISTEN, _TIME_WAIT = "0A", "06"


def port_holder(port: int) -> PortHolder:
    """Who holds `port` on this machine's loopback, for a port that `is_port_free` found taken."""
    # Imported here: only a taken port needs it, and `start-all` checks ports before it has spawned anything.
    import psutil

    try:
        connections = [c for c in psutil.net_connections(kind="tcp") if c.laddr and c.laddr.port == port]
    except psutil.AccessDenied:
        connections = []
    for connection in sorted(connections, key=lambda c: c.status != psutil.CONN_LISTEN):
        if connection.pid is not None:
            return PortHolder(connection.pid, f"pid {connection.pid} ({_command_of(connection.pid)})")
    return PortHolder(None, unseen_holder(_sockets_on(port), os.geteuid()))


def unseen_holder(sockets: list[tuple[str, int]], euid: int) -> str:
    """Why no process can be named, from the kernel's socket table: (state code, owner uid) of each socket on the
    port, as seen by a user of `euid`."""
    held = [uid for state, uid in sockets if state != _TIME_WAIT]
    if not sockets:
        return "no socket this network namespace can see (it may have been released since: try again)"
    if not held:
        return (
            "no process: only connections in TIME_WAIT hold it, left by a server that did not set SO_REUSEADDR; "
            "the kernel releases it within 60 s"
        )
    uid = held[0]
    user = _user_name(uid)
    if euid not in (0, uid):
        return f"a process of user {user} (uid {uid}), which this user cannot see: run as root or as {user} to name it"
    return (
        f"a socket of user {user} (uid {uid}) that no process here holds: a process in another PID namespace "
        "(a container sharing this network namespace)"
    )


def _sockets_on(port: int) -> list[tuple[str, int]]:
    """(state code, owner uid) of every TCP socket, IPv4 and IPv6, whose local port is `port`."""
    wanted = f":{port:04X}"
    found = []
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as table:
                lines = table.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[1].endswith(wanted):
                found.append((fields[3], int(fields[7])))
    return found


def _user_name(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _command_of(pid: int) -> str:
    import psutil

    try:
        process = psutil.Process(pid)
        command = " ".join(" ".join(process.cmdline()).split()) or process.name()
    except psutil.Error:
        return "exited"
    return command if len(command) <= _COMMAND_WIDTH else command[: _COMMAND_WIDTH - 3] + "..."
