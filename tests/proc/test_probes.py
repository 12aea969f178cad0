"""One HTTP probe against real servers on loopback: how each kind of answer, or none, is reported."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tasker_cluster.proc.ports import find_free_port_block
from tasker_cluster.proc.probes import probe

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
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", find_free_port_block(1)))
        listener.listen()
        result = probe(f"http://127.0.0.1:{listener.getsockname()[1]}/health", timeout=0.2)
    assert (result.status_code, result.error) == (None, "timeout")


def test_an_answer_that_is_not_http_is_an_error_named_for_what_went_wrong() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", find_free_port_block(1)))
        listener.listen()

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
    assert result.error == "BadStatusLine"
