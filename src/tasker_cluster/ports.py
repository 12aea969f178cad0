"""Loopback ports: finding free blocks for test clusters and naming who holds a taken port."""

from __future__ import annotations

import random
import socket

LOOPBACK = "127.0.0.1"
# Below Linux's default ephemeral range (32768-60999), so an outgoing connection never grabs a port we chose.
_SEARCH_LOW, _SEARCH_HIGH = 20000, 32000


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
    rng = random.Random()
    for _ in range(attempts):
        base = rng.randrange(_SEARCH_LOW, _SEARCH_HIGH - count)
        if all(is_port_free(base + offset, host) for offset in range(count)):
            return base
    raise RuntimeError(f"no block of {count} free ports on {host} after {attempts} attempts")
