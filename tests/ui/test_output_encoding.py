"""Output in an encoding that lacks some characters (PYTHONIOENCODING=ascii or latin-1): "?" for each, never a crash."""

from __future__ import annotations

import os
import subprocess

import pytest

from support.sandbox import CLUSTER, STEERING, Sandbox

ENCODINGS = ["ascii", "latin-1"]


def _run(sandbox: Sandbox, *args: str, encoding: str) -> subprocess.CompletedProcess[str]:
    """The CLI with its output in `encoding` (and a C locale), read back in that encoding."""
    env = {key: value for key, value in os.environ.items() if key not in STEERING}
    env.update(PYTHONIOENCODING=encoding, LANG="C", LC_ALL="C")
    done = subprocess.run(
        [CLUSTER, "--project-dir", str(sandbox.root), *args], capture_output=True, env=env, timeout=60, check=False
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(encoding), done.stderr.decode(encoding)
    )


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_logs_with_characters_the_output_cannot_encode_print_a_replacement(sandbox: Sandbox, encoding: str) -> None:
    sandbox.write_cluster(1, 1)
    sandbox.project.logs_dir.mkdir()
    sandbox.project.log_file("worker-1").write_text("caf\xe9 \u2192 \u65e5\u672c\n", encoding="utf-8")

    result = _run(sandbox, "logs", "worker-1", encoding=encoding)

    assert (result.returncode, result.stderr) == (0, "")
    expected = "caf\xe9 ? ??" if encoding == "latin-1" else "caf? ? ??"
    assert result.stdout == f"worker-1 | {expected}\n"


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_every_kind_of_output_survives_an_encoding_without_the_characters_it_uses(
    sandbox: Sandbox, encoding: str
) -> None:
    sandbox.write_cluster(1, 1)

    # A table with an em dash, an error naming what was typed, the help, and a status table.
    database = _run(sandbox, "db", "status", encoding=encoding)
    unknown = _run(sandbox, "logs", "w\xf6rker-\u2460", encoding=encoding)
    helped = _run(sandbox, "logs", "--help", encoding=encoding)
    quick = _run(sandbox, "status-quick", encoding=encoding)

    for result in (database, unknown, helped, quick):
        assert "UnicodeEncodeError" not in result.stdout + result.stderr
        assert "Traceback" not in result.stderr
    # The sandbox configures no database: `db status` says so and exits 1 (nothing answers).
    assert database.returncode == 1 and "database" in database.stdout
    assert unknown.returncode == 2 and "unknown instance w" in unknown.stderr
    assert helped.returncode == 0 and "--since" in helped.stdout
    assert quick.returncode == 1 and "worker-1" in quick.stdout
