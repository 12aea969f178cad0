"""The [database] table and which DATABASE_URL counts as external."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from tasker_cluster.config.database import DATABASE_URL_KEY
from tasker_cluster.config.load import load_database_config
from tasker_cluster.db.urls import record_local_url, redact, server_url, without_password
from tasker_cluster.errors import ConfigError
from tasker_cluster.proc.ports import LOOPBACK
from tasker_cluster.project import Project

from .conftest import run_cli, write_config


def external_url(folder: Path, port: int, name: str) -> str | None:
    """The external server a project in `folder` with this [database] port and name would use."""
    project = Project(folder)
    project.config_file.parent.mkdir(exist_ok=True)
    project.config_file.write_text(f'[database]\nport = {port}\nname = "{name}"\n')
    return load_database_config(project).external_url


def test_a_missing_config_file_means_the_defaults(tmp_path: Path) -> None:
    settings = load_database_config(Project(tmp_path))
    assert (settings.mode, settings.port, settings.name, settings.max_connections) == ("local", 5433, "tasker", 500)


def test_an_invalid_database_table_names_the_key(tmp_path: Path) -> None:
    project = Project(tmp_path)
    project.config_file.parent.mkdir()
    project.config_file.write_text("[database]\nport = 80\n")
    with pytest.raises(ConfigError, match=r"database\.port: Input should be greater than or equal to 1024"):
        load_database_config(project)


def test_cli_reports_a_bad_database_table_with_exit_code_2(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "cluster.toml").write_text('[database]\nmode = "docker"\n')
    result = run_cli(Project(tmp_path), "db", "url")
    assert result.returncode == 2
    assert "database.mode: Input should be 'local' or 'none'" in result.stderr and "Traceback" not in result.stderr


def test_mode_none_makes_up_a_configuration_error(tmp_path: Path) -> None:
    write_config(tmp_path, 24001, mode="none")
    result = run_cli(Project(tmp_path), "db", "up")
    assert result.returncode == 2 and '"none"' in result.stderr


_LOCAL = server_url("tasker", "pw", 5433, "tasker")


def test_the_process_environment_wins_over_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("DATABASE_URL=postgresql://a@db.invalid/x\n")
    monkeypatch.setenv(DATABASE_URL_KEY, "postgresql://b@db.invalid/y")
    assert external_url(tmp_path, 5433, "tasker") == "postgresql://b@db.invalid/y"


def test_the_url_db_up_recorded_is_not_external_even_after_the_port_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(DATABASE_URL_KEY, raising=False)
    record_local_url(tmp_path / ".env", _LOCAL, {})
    assert external_url(tmp_path, 5433, "tasker") is None
    assert external_url(tmp_path, 6000, "tasker") is None


def test_a_hand_set_loopback_url_in_dotenv_is_external(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATABASE_URL_KEY, raising=False)
    (tmp_path / ".env").write_text("DATABASE_URL=postgresql://postgres@127.0.0.1:5432/tasker\n")
    assert external_url(tmp_path, 5433, "tasker") == "postgresql://postgres@127.0.0.1:5432/tasker"


def test_recording_the_url_keeps_other_lines_and_comments(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("# mine\nA=1\nDATABASE_URL=old\n")
    record_local_url(env_file, _LOCAL, {})
    lines = env_file.read_text().splitlines()
    assert lines[:2] == ["# mine", "A=1"]
    assert f"DATABASE_URL={_LOCAL}" in lines


def test_recording_the_url_makes_a_readable_dotenv_private(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("A=1\n")
    env_file.chmod(0o644)
    record_local_url(env_file, _LOCAL, {})
    assert env_file.stat().st_mode & 0o777 == 0o600


def test_redact_masks_only_the_password() -> None:
    assert redact("postgresql://app:s3cret@db:5432/x") == "postgresql://app:***@db:5432/x"
    assert redact("postgresql://app@db/x") == "postgresql://app@db/x"
    assert redact("postgresql://app@db/x?sslmode=require&password=s3cret") == (
        "postgresql://app@db/x?sslmode=require&password=***"
    )
    assert redact("host=db user=app password='s3 cret' dbname=x") == "host=db user=app password=*** dbname=x"


def test_without_password_keeps_everything_else_and_can_name_a_password_file() -> None:
    url = "postgresql://app:s3cret@db:5432/x?sslmode=require&password=other"
    assert without_password(url) == "postgresql://app@db:5432/x?sslmode=require"
    assert without_password("postgresql://app:s3cret@db/x", Path("/d/p.pgpass")) == (
        "postgresql://app@db/x?passfile=/d/p.pgpass"
    )
    assert without_password("host=db password=s3cret dbname=x") == "host=db  dbname=x"


@pytest.mark.db
def test_up_on_a_taken_port_says_so(db_project: Project) -> None:
    port = load_database_config(db_project).port
    with socket.socket() as squatter:
        # A listener takes the port even so; without it, TIME_WAIT left there by an earlier test refuses the bind.
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind((LOOPBACK, port))
        squatter.listen()
        result = run_cli(db_project, "db", "up")
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is already taken by pid {os.getpid()}" in result.stderr
    assert "config/cluster.toml" in result.stderr
