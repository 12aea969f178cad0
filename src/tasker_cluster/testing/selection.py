"""Whether a phase's pytest selection holds any test at all, learnt by collecting without running.

A phase under pytest-xdist starts its workers before anything is collected, so a phase that the pytest arguments
leave empty (`cluster test cluster -- tests/cluster/...` has no test below the cluster tier) would pay for that
start-up to collect nothing. One plain collection, without workers, says so first.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from tasker_cluster.testing.tiers import NO_TESTS_COLLECTED


def collects_nothing(argv: Sequence[str], cwd: Path) -> bool:
    """True when `argv` (a pytest command without xdist) with `--collect-only` collects no test (pytest's exit 5).
    Any other outcome (tests found, a usage error) is False: the phase then runs and reports it itself."""
    collect = [*argv[:3], "--collect-only", "-q", *argv[3:]]
    done = subprocess.run(collect, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, check=False)
    return done.returncode == NO_TESTS_COLLECTED
