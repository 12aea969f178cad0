"""Ports and probes that say what is true: TIME_WAIT is not a holder, a port's real holder (or why none can be
named) is said, an instance on the wrong loopback and a redirecting ready path fail fast with their fix."""

from __future__ import annotations

import errno
import socket

import pytest

from support.sandbox import Sandbox, service
from tasker_cluster.proc.ports import find_free_port_block, is_port_free, port_holder


def _leave_time_wait(port: int, *, reuse: bool) -> None:
    """A real server on `port` that accepts one connection and closes it first, so that TIME_WAIT stays on its side."""
    with socket.socket() as server:
        if reuse:
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen()
        with socket.create_connection(("127.0.0.1", port)) as client:
            connection, _ = server.accept()
            connection.close()
            client.recv(1)


def _states_on(port: int) -> set[str]:
    found = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(path) as table:
            for line in table.read().splitlines()[1:]:
                fields = line.split()
                if fields[1].endswith(f":{port:04X}"):
                    found.add(fields[3])
    return found


def test_a_port_held_only_by_time_wait_of_a_reusing_server_is_free_and_an_instance_starts_there(
    sandbox: Sandbox,
) -> None:
    sandbox.write_cluster(orchestration=1, workers=0)
    _leave_time_wait(sandbox.base, reuse=True)
    assert _states_on(sandbox.base) == {"06"}  # TIME_WAIT, nothing else

    result = sandbox.cli("start-all")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "orchestration-1    ready" in result.stdout


def _leave_blocking_time_wait() -> int:
    """A port on which a server without SO_REUSEADDR left TIME_WAIT. The sandbox's port will not do: an earlier test's
    reusing server may have left TIME_WAIT there, which a bind without SO_REUSEADDR refuses; another is tried then."""
    for _ in range(20):
        port = find_free_port_block(1)
        try:
            _leave_time_wait(port, reuse=False)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                continue
            raise
        return port
    raise RuntimeError("every port tried was in use for a bind without SO_REUSEADDR")


def test_time_wait_that_blocks_every_server_is_named_as_such_not_as_an_invisible_process(sandbox: Sandbox) -> None:
    # Left by a server that did not set SO_REUSEADDR: no server can bind the port until the kernel drops it.
    port = _leave_blocking_time_wait()
    sandbox.write_topology({"orchestration": service("orchestration", 1, port)})
    assert not is_port_free(port)

    result = sandbox.cli("start-all")

    assert result.returncode == 1
    assert (
        f"port {port} is taken by no process: only connections in TIME_WAIT hold it, left by a server that "
        "did not set SO_REUSEADDR; the kernel releases it within 60 s"
    ) in result.stderr
    assert "cannot see" not in result.stderr


def test_a_real_holder_is_named_with_its_pid_and_command(sandbox: Sandbox) -> None:
    with socket.socket(socket.AF_INET6) as holder:
        # A listener takes the port even so; without it, TIME_WAIT left there by an earlier test refuses the bind.
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("::", sandbox.base))  # the IPv6 wildcard takes the IPv4 loopback's port too
        holder.listen()

        found = port_holder(sandbox.base)

    assert found.pid is not None and found.text.startswith(f"pid {found.pid} (")


@pytest.mark.timeout(60)
def test_an_instance_listening_on_ipv6_loopback_only_fails_fast_naming_the_mismatch(sandbox: Sandbox) -> None:
    sandbox.write_topology({"orchestration": service("orchestration", 1, sandbox.base, "--ipv6-only")})

    started = sandbox.cli("start-all", "--timeout", "600")
    status = sandbox.cli("status")

    assert started.returncode == 1
    assert (
        f"orchestration-1: wrong-address: it listens on [::1]:{sandbox.base} only, while its URL is on 127.0.0.1: "
        "bind it to 127.0.0.1"
    ) in started.stderr
    assert "orchestration-1  unhealthy" in status.stdout
    assert f"listens on [::1]:{sandbox.base} only, probes go to 127.0.0.1" in status.stdout


@pytest.mark.timeout(60)
def test_a_ready_path_that_redirects_fails_fast_naming_the_final_path_to_set(sandbox: Sandbox) -> None:
    sandbox.write_topology(
        {"orchestration": service("orchestration", 1, sandbox.base, "--ready-redirect", "/health/ready/")}
    )

    started = sandbox.cli("start-all", "--timeout", "600")
    status = sandbox.cli("status")

    assert started.returncode == 1
    assert (
        "orchestration-1: redirect: its ready path /health/ready answers 307, a redirect to /health/ready/: set "
        'services.orchestration.ready_path = "/health/ready/"'
    ) in started.stderr
    assert "orchestration-1  unhealthy" in status.stdout
    assert "ready: 307 -> /health/ready/: set ready_path to the final path" in status.stdout
