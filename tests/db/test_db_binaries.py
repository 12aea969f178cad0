"""Finding the server binaries: newest version first, and one clear error when there are none."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tasker_cluster.db.binaries import REQUIRED, SEARCH_ENV, find_bindir
from tasker_cluster.db.location import existing_data_dir
from tasker_cluster.errors import ClusterError
from tasker_cluster.project import Project

from .conftest import run_cli


def _fake_bindir(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name in REQUIRED:
        program = folder / name
        program.write_text("#!/bin/sh\nexit 0\n")
        program.chmod(0o755)
    return folder


def test_the_newest_versioned_folder_wins_numerically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for version in ("9.6", "15", "12"):
        _fake_bindir(tmp_path / version / "bin")
    (tmp_path / "16" / "bin").mkdir(parents=True)  # a folder without a server is skipped
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv(SEARCH_ENV, str(tmp_path / "*" / "bin"))
    monkeypatch.setenv("PATH", str(empty))  # hides pg_config and any initdb on the real PATH
    assert find_bindir() == tmp_path / "15" / "bin"


def test_hidden_binaries_raise_an_error_naming_every_place_searched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SEARCH_ENV, str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ClusterError) as caught:
        find_bindir()
    assert str(tmp_path) in caught.value.message and "PATH" in caught.value.message
    assert "postgresql" in caught.value.fix and "DATABASE_URL" in caught.value.fix


def test_db_up_without_binaries_fails_cleanly_and_creates_nothing(db_project: Project, tmp_path: Path) -> None:
    empty = tmp_path / "no-binaries"
    empty.mkdir()
    result = run_cli(db_project, "db", "up", env={SEARCH_ENV: str(empty), "PATH": str(empty)})
    assert result.returncode == 1
    assert result.stderr.startswith("error: no PostgreSQL server binaries")
    assert "install the distribution's `postgresql` package" in result.stderr
    assert "set DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr
    assert existing_data_dir(db_project) is None
    assert not db_project.env_file.exists()


@pytest.mark.db
def test_the_real_binaries_are_found_on_this_machine() -> None:
    bindir = find_bindir()
    assert all(os.access(bindir / name, os.X_OK) for name in REQUIRED)
