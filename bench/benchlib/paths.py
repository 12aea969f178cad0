"""Where the programs under measurement live: the venv's own interpreter and console scripts, never a shim."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"
RESULTS = BENCH / "results"
PROGRAMS = BENCH / "programs"
INSTANCE = PROGRAMS / "instance.py"
FLOOR = BENCH / "benchlib" / "floor.py"

PYTHON = sys.executable
_BIN = Path(PYTHON).parent
CLUSTER = str(_BIN / "cluster")
SUPERVISORD = str(_BIN / "supervisord")
SUPERVISORCTL = str(_BIN / "supervisorctl")
HONCHO = str(_BIN / "honcho")


def hyperfine() -> str | None:
    return shutil.which("hyperfine")


def peers_installed() -> list[str]:
    """The peer programs missing from the venv (install with `pip install -e '.[bench]'`)."""
    return [name for name in (SUPERVISORD, SUPERVISORCTL, HONCHO) if not Path(name).exists()]


def peers_skip_reason() -> str | None:
    """Why a bench that needs the peers must skip, or None when they are all installed."""
    missing = peers_installed()
    return f"peers missing: {', '.join(missing)}; run `pip install -e '.[bench]'`" if missing else None
