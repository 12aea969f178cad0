"""The instance program every contender starts: a stdlib HTTP server that starts fast and can misbehave.

GET /health answers 200; GET /health/ready answers 503 until --ready-after seconds have passed, then 200. The
moment it could first answer 200 is printed as `ready-at <CLOCK_MONOTONIC seconds>` once it listens, and the first 200
it sends as `first-ready <seconds>`: the clock is system-wide on Linux, so the bench compares both with the moment a
lifecycle tool noticed readiness. The first request on the ready path, whatever its answer, prints `first-probe`.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", default="instance")
    parser.add_argument("--ready-after", type=float, default=0.0, help="seconds of 503 on the ready path")
    parser.add_argument("--hang", action="store_true", help="accept connections but never answer")
    parser.add_argument("--ignore-term", action="store_true", help="ignore SIGTERM")
    return parser.parse_args()


def handler_class(args: argparse.Namespace, started: float) -> type[BaseHTTPRequestHandler]:
    first_ready, first_probe = threading.Lock(), threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if args.hang:
                threading.Event().wait()
            if self.path == "/health":
                self._answer(200)
            elif self.path == "/health/ready":
                if first_probe.acquire(blocking=False):
                    print(f"first-probe {time.monotonic():.6f}", flush=True)
                ready = time.monotonic() - started >= args.ready_after
                self._answer(200 if ready else 503)
                if ready and first_ready.acquire(blocking=False):
                    print(f"first-ready {time.monotonic():.6f}", flush=True)
            else:
                self._answer(404)

        def _answer(self, code: int) -> None:
            body = b'{"ok": true}' if code == 200 else b'{"ok": false}'
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *values: object) -> None:
            return

    return Handler


def main() -> None:
    args = parse_args()
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    started = time.monotonic()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler_class(args, started))
    server.daemon_threads = True
    ready_at = max(time.monotonic(), started + args.ready_after)
    sys.stdout.write(f"{args.name} listening on 127.0.0.1:{args.port} pid {os.getpid()}\nready-at {ready_at:.6f}\n")
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
