"""Listening sockets on free loopback ports for tests, below the ephemeral range (32768-60999 here: a busy machine
leaves thousands of TIME_WAIT sockets there)."""

from __future__ import annotations

import errno
import socket

from tasker_cluster.proc.ports import find_free_port_block

_ATTEMPTS = 20


def listening_socket(host: str = "127.0.0.1") -> socket.socket:
    """A socket bound to a free port of `host` (an IPv4 or IPv6 loopback) and listening. Another test worker may take
    the port between the search and the bind: another is tried then. OSError when `host` cannot be bound at all
    (no IPv6 loopback), RuntimeError after _ATTEMPTS ports taken that way."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(_ATTEMPTS):
        sock = socket.socket(family, socket.SOCK_STREAM)
        # As servers do (and as `is_port_free` checks): a port whose earlier connections linger in TIME_WAIT is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            # Searched on the IPv4 loopback (as every test port is); a port the IPv6 one has taken is tried again.
            sock.bind((host, find_free_port_block(1)))
        except OSError as error:
            sock.close()
            if error.errno == errno.EADDRINUSE:
                continue
            raise
        sock.listen()
        return sock
    raise RuntimeError(f"no free port on {host} stayed free until bound, after {_ATTEMPTS} tries")
