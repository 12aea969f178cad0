"""Loopback ports: finding free blocks for test clusters and naming who holds a taken port."""

from __future__ import annotations

import socket

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


def port_owner(port: int) -> str | None:
    """`pid N (command line)` of the process listening on `port`, or None when it cannot be seen."""
    # Imported here: only a taken port needs it, and `start-all` checks ports before it has spawned anything.
    import psutil

    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:
        return None
    for connection in connections:
        if connection.status == psutil.CONN_LISTEN and connection.laddr and connection.laddr.port == port:
            if connection.pid is None:
                return None
            return f"pid {connection.pid} ({_command_of(connection.pid)})"
    return None


def _command_of(pid: int) -> str:
    import psutil

    try:
        process = psutil.Process(pid)
        command = " ".join(" ".join(process.cmdline()).split()) or process.name()
    except psutil.Error:
        return "exited"
    return command if len(command) <= _COMMAND_WIDTH else command[: _COMMAND_WIDTH - 3] + "..."
