"""An exec probe for tests: exits 0 when the file it is given exists, else prints why on stderr and exits 3. With
--hang PIDFILE it starts a child (its pid written to PIDFILE) and both sleep until killed: a probe that never ends.
With --delay SECONDS it takes that long before it looks: a slow check.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("ready_file", type=Path)
    parser.add_argument("--hang", type=Path, metavar="PIDFILE")
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()
    time.sleep(args.delay)
    if args.hang is not None:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        args.hang.write_text(str(child.pid))
        time.sleep(600)
    if args.ready_file.exists():
        print("ok")
        return
    print("starting up", file=sys.stderr)
    print(f"not ready: {args.ready_file.name} is missing", file=sys.stderr)
    sys.exit(3)


if __name__ == "__main__":
    main()
