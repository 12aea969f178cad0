"""One HTTP probe against real servers on loopback: how each kind of answer, or none, is reported."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from support.listeners import listening_socket
from tasker_cluster.proc.ports import find_free_port_block
from tasker_cluster.proc.probes import ProbeResult, probe

EXPECTED_PATHS = {"/health/ready?deep=1", "/sant%C3%A9", "/with%20space"}


class _PathChecker(BaseHTTPRequestHandler):
    """200 for the paths a probe should send, exactly as encoded; 404 for anything else."""

    def do_GET(self) -> None:
        self.send_response(200 if self.path in EXPECTED_PATHS else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *values: object) -> None:
        return


@pytest.fixture
def path_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", find_free_port_block(1)), _PathChecker)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("path", ["/health/ready?deep=1", "/santé", "/with space"])
def test_a_configured_path_reaches_the_server_with_its_query_and_encoded(path_server: str, path: str) -> None:
    result = probe(path_server + path, timeout=2.0)
    assert result.status_code == 200, result


def test_a_closed_port_is_refused() -> None:
    assert probe(f"http://127.0.0.1:{find_free_port_block(1)}/health", timeout=1.0).error == "refused"


def test_a_server_that_never_answers_is_not_answered_within_the_timeout() -> None:
    with listening_socket() as listener:
        result = probe(f"http://127.0.0.1:{listener.getsockname()[1]}/health", timeout=0.2)
    assert (result.status_code, result.error) == (None, "timeout")


def test_an_answer_that_is_not_http_is_an_error_named_for_what_went_wrong() -> None:
    with listening_socket() as listener:

        def answer_garbage() -> None:
            connection, _ = listener.accept()
            with connection:
                connection.recv(4096)
                connection.sendall(b"this is not HTTP\r\n\r\n")

        thread = threading.Thread(target=answer_garbage, daemon=True)
        thread.start()
        result = probe(f"http://127.0.0.1:{listener.getsockname()[1]}/health", timeout=2.0)
        thread.join(2.0)
    assert result.status_code is None
    assert result.error == "not HTTP"


def _one_answer(answer: bytes, *, chunks: int = 1) -> tuple[socket.socket, list[bytes]]:
    """A listener that answers its first connection with `answer` (sent in `chunks` pieces, apart), then closes it;
    the request it got lands in the returned list."""
    listener = listening_socket()
    requests: list[bytes] = []

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            request = b""
            while b"\r\n\r\n" not in request:
                data = connection.recv(4096)
                if not data:
                    return
                request += data
            requests.append(request)
            size = max(1, -(-len(answer) // chunks))
            for start in range(0, len(answer), size):
                try:
                    connection.sendall(answer[start : start + size])
                except OSError:
                    return  # the probe read enough and closed
                time.sleep(0.02)

    threading.Thread(target=serve, daemon=True).start()
    return listener, requests


def _probe_answer(answer: bytes, *, chunks: int = 1) -> ProbeResult:
    listener, _ = _one_answer(answer, chunks=chunks)
    with listener:
        return probe(f"http://127.0.0.1:{listener.getsockname()[1]}/health", timeout=2.0)


def test_the_request_names_the_host_and_port_and_asks_to_close() -> None:
    listener, requests = _one_answer(b"HTTP/1.1 204 No Content\r\n\r\n")
    port = listener.getsockname()[1]
    with listener:
        result = probe(f"http://127.0.0.1:{port}/health/ready?deep=1&name=a b", timeout=2.0)
    assert result.status_code == 204 and result.ok and result.latency_ms is not None
    lines = requests[0].decode().split("\r\n")
    assert lines[0] == "GET /health/ready?deep=1&name=a%20b HTTP/1.1"
    assert f"Host: 127.0.0.1:{port}" in lines and "Connection: close" in lines


def test_a_redirect_reports_where_it_leads() -> None:
    result = _probe_answer(b"HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n")
    assert (result.status_code, result.location, result.redirect) == (302, "/elsewhere", True)


def test_a_body_without_a_length_is_read_until_the_server_closes() -> None:
    result = _probe_answer(b"HTTP/1.0 503 Service Unavailable\r\n\r\n" + b"x" * 5000, chunks=3)
    assert (result.status_code, result.ok, result.error) == (503, False, None)


def test_a_chunked_answer_is_read_to_its_end() -> None:
    result = _probe_answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", chunks=2)
    assert (result.status_code, result.error) == (200, None)


def test_a_body_past_the_limit_is_not_read_to_its_end() -> None:
    # Its length says 10 MiB and it sends 200 KiB: a probe that read it all would wait for the rest until its timeout.
    result = _probe_answer(b"HTTP/1.1 200 OK\r\nContent-Length: 10485760\r\n\r\n" + b"x" * 200_000)
    assert (result.status_code, result.error) == (200, None)


def test_headers_that_never_end_are_not_an_answer() -> None:
    flood = b"HTTP/1.1 200 OK\r\n" + b"X-Padding: " + b"y" * 100_000
    assert _probe_answer(flood).error == "headers too long"


def test_an_interim_answer_is_skipped_for_the_final_one() -> None:
    result = _probe_answer(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", chunks=2
    )
    assert (result.status_code, result.error) == (503, None)


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
    ],
)
def test_a_switch_of_protocols_is_an_answer_not_an_error(answer: bytes) -> None:
    result = _probe_answer(answer)
    assert (result.status_code, result.ok, result.error) == (101, False, None)


def test_lines_ended_by_a_bare_newline_are_read_as_http() -> None:
    result = _probe_answer(b"HTTP/1.0 200 OK\nContent-Type: text/plain\n\nok")
    assert (result.status_code, result.error) == (200, None)


def test_a_server_that_closes_without_answering_is_named_so() -> None:
    assert _probe_answer(b"").error == "closed"


def test_half_an_answer_is_closed_not_an_answer() -> None:
    result = _probe_answer(b"HTTP/1.1 200 OK\r\nContent-Le")
    assert (result.status_code, result.error) == (None, "closed")


def test_the_ipv6_loopback_is_probed_with_a_bracketed_host() -> None:
    try:
        listener = listening_socket("::1")
    except OSError:
        pytest.skip("this machine has no IPv6 loopback")
    port = listener.getsockname()[1]
    requests: list[bytes] = []

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            requests.append(connection.recv(4096))
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    threading.Thread(target=serve, daemon=True).start()
    with listener:
        result = probe(f"http://[::1]:{port}/health", timeout=2.0)
    assert result.status_code == 200
    assert f"Host: [::1]:{port}".encode() in requests[0]
