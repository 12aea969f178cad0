"""`cluster test TIER [--only] [-- PYTEST_ARGS...]`: run the tier's pytest phases (with a live progress line on a
terminal), then a per-tier summary."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from tasker_cluster.project import Project


def test(
    project: Project,
    *,
    tier: str,
    pytest_args: Sequence[str],
    workers: int | None,
    keep: bool,
    running: bool,
    report_dir: Path | None,
    only: bool,
    env_file: Path | None,
) -> int:
    """The first failing phase's pytest exit code, 0 when every phase passed."""
    from tasker_cluster.testing.config import read_env_file
    from tasker_cluster.testing.tiers import overall_exit_code, plan, run_phases
    from tasker_cluster.ui.test_progress import progress_runner
    from tasker_cluster.ui.test_summary import announce_phase, announce_skipped, print_summary

    phases = plan(tier, workers, only=only)
    if env_file is not None:
        # This process lives for the run alone: what its pytest phases inherit is the run's environment.
        os.environ.update(read_env_file(env_file))
    with tempfile.TemporaryDirectory(prefix="tasker-test-reports-") as scratch:
        results = run_phases(
            project.root,
            phases,
            report_dir or Path(scratch),
            pytest_args,
            keep_cluster=keep,
            running=running,
            on_phase=announce_phase,
            on_skip=announce_skipped,
            runner=progress_runner(),
        )
    print_summary(tier, results)
    return overall_exit_code(results)
