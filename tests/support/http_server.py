"""A tiny real HTTP server used as the instance command in lifecycle tests (stdlib only, starts fast).

GET /health answers --health-status (200); GET /health/ready answers 503 until --ready-after seconds have passed,
then 200. Options make it misbehave the ways real services do: slow to listen, slow to answer, hung, deaf to
SIGTERM, with a child deaf to SIGTERM, dying at start-up with a message on stderr, busy on a core, or with a child
holding memory or sharing it. With --echo-env NAME, GET /env answers the named variables of its environment as
JSON, so a test can see what its start handed it. Others behave as real programs do that are hard on a process
manager: a new process title (setproctitle), serving from a forked child after the parent exits (backgrounding),
serving from a double-forked daemon in a session of its own, a helper that does so while the server stays,
listening on [::1] only, a ready path that redirects.
"""

from __future__ import annotations

import argparse
import json
import mmap
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_CHILD_CODE = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
with open(sys.argv[1] + ".tmp", "w") as file:
    file.write(str(os.getpid()))
os.replace(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    time.sleep(60)
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("TASKER_INSTANCE_PORT", "0")))
    parser.add_argument("--name", default=os.environ.get("TASKER_INSTANCE_ID", "test-server"))
    parser.add_argument("--ready-after", type=float, default=0.0, help="seconds of 503 on the ready path")
    parser.add_argument("--listen-after", type=float, default=0.0, help="seconds before binding the port")
    parser.add_argument("--health-status", type=int, default=200)
    parser.add_argument("--hang", action="store_true", help="accept connections but never answer")
    parser.add_argument("--answer-after", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--ignore-term", action="store_true", help="ignore SIGTERM")
    parser.add_argument("--child-ignoring-term", type=Path, help="spawn a child deaf to SIGTERM, its pid in this file")
    parser.add_argument("--exit-early", metavar="MESSAGE", help="print MESSAGE on stderr and exit 3 before listening")
    parser.add_argument("--echo-env", metavar="NAME", action="append", default=[], help="variables GET /env answers")
    parser.add_argument("--retitle", metavar="TITLE", help="set the process title (setproctitle) once listening")
    parser.add_argument("--background", action="store_true", help="fork; the parent exits 0, the child serves")
    parser.add_argument("--daemonize", action="store_true", help="double fork and setsid; the grandchild serves")
    parser.add_argument(
        "--escaping-helper",
        type=Path,
        help="a double-forked helper deaf to SIGTERM in its own session, pid in this file",
    )
    parser.add_argument("--ipv6-only", action="store_true", help="listen on [::1] instead of 127.0.0.1")
    parser.add_argument(
        "--ready-redirect", metavar="PATH", help="the ready path answers 307 to PATH, which answers 200"
    )
    parser.add_argument("--burn", action="store_true", help="keep one core busy in a thread")
    parser.add_argument("--child-holding-mib", type=int, metavar="N", help="spawn a child that holds N MiB resident")
    parser.add_argument("--sharing-mib", type=int, metavar="N", help="share N MiB of resident memory with a child")
    return parser.parse_args()


def handler_class(args: argparse.Namespace, started: float) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if args.hang:
                threading.Event().wait()
            time.sleep(args.answer_after)
            if self.path == "/health":
                self._answer(args.health_status)
            elif self.path == "/health/ready" and args.ready_redirect:
                self.send_response(307)
                self.send_header("Location", args.ready_redirect)
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif self.path == "/health/ready" or self.path == args.ready_redirect:
                self._answer(200 if time.monotonic() - started >= args.ready_after else 503)
            elif self.path == "/env" and args.echo_env:
                self._answer(200, json.dumps({name: os.environ.get(name) for name in args.echo_env}))
            else:
                self._answer(404)

        def _answer(self, code: int, text: str | None = None) -> None:
            body = (text or f'{{"name": "{args.name}", "code": {code}}}').encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *values: object) -> None:
            return

    return Handler


def spawn_memory_child(mib: int) -> None:
    """A child in our session holding `mib` MiB, every page touched; we are ready only once it holds them."""
    reader, writer = os.pipe()
    # Filled, not zeroed: zeroed pages would not be resident until written.
    code = (
        "import os, sys, time\n"
        "block = b'x' * (int(sys.argv[1]) << 20)\n"
        "os.write(int(sys.argv[2]), b'x')\n"
        "time.sleep(3600)"
    )
    subprocess.Popen([sys.executable, "-c", code, str(mib), str(writer)], pass_fds=(writer,))
    os.close(writer)
    os.read(reader, 1)
    os.close(reader)


def fork_sharing(mib: int) -> None:
    """N MiB of shared memory, resident in us and in a forked child (PostgreSQL's shared buffers in small)."""
    block = mmap.mmap(-1, mib << 20)  # anonymous and shared
    block.write(b"x" * (mib << 20))
    reader, writer = os.pipe()
    if os.fork() == 0:
        sum(block[offset] for offset in range(0, mib << 20, mmap.PAGESIZE))
        os.write(writer, b"x")
        time.sleep(3600)
        os._exit(0)
    os.read(reader, 1)
    _kept.append(block)


_kept: list[mmap.mmap] = []


def burn() -> None:
    while True:
        pass


def spawn_deaf_child(pid_file: Path) -> None:
    subprocess.Popen([sys.executable, "-c", _CHILD_CODE, str(pid_file)])
    # Become ready only once the child ignores SIGTERM, so a test that stops us really needs SIGKILL.
    while not pid_file.exists():
        time.sleep(0.005)


def double_fork() -> bool:
    """Daemonize the classic way: True in the grandchild, in a session of its own; the middle child exits."""
    if os.fork() > 0:
        return False
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    return True


def start_escaping_helper(pid_file: Path) -> None:
    """A helper deaf to SIGTERM that is no longer our descendant nor in our session or group."""
    if os.fork() == 0:
        if double_fork():
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            pid_file.with_suffix(".tmp").write_text(str(os.getpid()))
            os.replace(pid_file.with_suffix(".tmp"), pid_file)
            while True:
                time.sleep(60)
        os._exit(0)
    os.wait()
    while not pid_file.exists():
        time.sleep(0.005)


class IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def main() -> None:
    args = parse_args()
    if args.exit_early:
        sys.stderr.write(args.exit_early + "\n")
        sys.exit(3)
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if args.child_ignoring_term:
        spawn_deaf_child(args.child_ignoring_term)
    if args.escaping_helper:
        start_escaping_helper(args.escaping_helper)
    if args.background and os.fork() > 0:
        os._exit(0)
    if args.daemonize and not double_fork():
        os._exit(0)
    if args.child_holding_mib:
        spawn_memory_child(args.child_holding_mib)
    if args.sharing_mib:
        fork_sharing(args.sharing_mib)
    if args.burn:
        threading.Thread(target=burn, daemon=True).start()
    started = time.monotonic()
    time.sleep(args.listen_after)
    host = "::1" if args.ipv6_only else "127.0.0.1"
    server_class = IPv6Server if args.ipv6_only else ThreadingHTTPServer
    server = server_class((host, args.port), handler_class(args, started))
    server.daemon_threads = True
    print(f"{args.name} listening on {host}:{args.port} pid {os.getpid()}", flush=True)
    if args.retitle:
        from setproctitle import setproctitle

        setproctitle(args.retitle)
    server.serve_forever()


if __name__ == "__main__":
    main()
