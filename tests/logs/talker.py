"""An instance for the log tests: a stdlib HTTP server on --port that writes to its output what a test asks it to.

    POST /write                      the request body, as it is, in one write (no newline added)
    POST /burst?lines=N&width=W      N numbered lines of W bytes each ("000001 xxx...\\n"), one write per line,
                                     as fast as it can, then "burst done N"
    GET  /anything                   200: it is healthy and ready as soon as it listens

Writes go straight to file descriptor 1 (no buffering), so a test decides exactly how a line arrives.
"""

from __future__ import annotations

import argparse
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def burst_line(number: int, width: int) -> bytes:
    head = b"%06d " % number
    return head + b"x" * (width - len(head) - 1) + b"\n"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if url.path == "/write":
            _write(body)
        elif url.path == "/burst":
            query = {key: int(values[0]) for key, values in parse_qs(url.query).items()}
            for number in range(1, query["lines"] + 1):
                _write(burst_line(number, query["width"]))
            _write(b"burst done %d\n" % query["lines"])
        self._answer()

    def _answer(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def _write(data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(1, view) :]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    _write(b"talker listening\n")
    server.serve_forever()


if __name__ == "__main__":
    main()
