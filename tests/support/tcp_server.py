"""A tiny real raw-TCP server (no HTTP) used as the instance command in probe tests: it accepts connections on
127.0.0.1:--port, writes a line and closes them; with --listen-after it binds only after that many seconds.
Anything sent as HTTP gets no HTTP answer, so an HTTP probe of it can never pass."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("TASKER_INSTANCE_PORT", "0")))
    parser.add_argument("--listen-after", type=float, default=0.0, help="seconds before binding the port")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    time.sleep(args.listen_after)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", args.port))
        server.listen(64)
        while True:
            connection, _ = server.accept()
            with connection:
                connection.sendall(b"hello\n")


if __name__ == "__main__":
    main()
