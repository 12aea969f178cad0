"""A tiny real queue-worker stand-in that opens no port: it runs until SIGTERM. With --ready-file it writes that
file after --ready-after seconds (what check_ready.py, an exec probe, looks for); with --exit-after it exits 4
after that many seconds."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ready-file", type=Path)
    parser.add_argument("--ready-after", type=float, default=0.0)
    parser.add_argument("--exit-after", type=float)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    started = time.monotonic()
    if args.ready_file is not None:
        time.sleep(args.ready_after)
        args.ready_file.write_text("ready\n")
    while args.exit_after is None or time.monotonic() - started < args.exit_after:
        time.sleep(0.05)
    sys.exit(4)


if __name__ == "__main__":
    main()
