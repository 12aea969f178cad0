"""`cluster db up|down|status|url|reset` against a real local server, through the real CLI."""

from __future__ import annotations

import json
import os
import signal

import psutil
import psycopg
import pytest

from tasker_cluster.db.location import existing_data_dir
from tasker_cluster.db.postmaster import processes_in, running_postmaster
from tasker_cluster.project import Project

from .conftest import run_cli

pytestmark = pytest.mark.db


def _up(project: Project) -> str:
    """`db up`, then the full URL (`db up` itself prints it masked)."""
    result = run_cli(project, "db", "up")
    assert result.returncode == 0, result.stderr
    url = run_cli(project, "db", "url")
    assert url.returncode == 0, url.stderr
    return url.stdout.strip()


def _postmaster_pid(project: Project) -> int:
    data_dir = existing_data_dir(project)
    assert data_dir is not None
    record = running_postmaster(data_dir)
    assert record is not None
    return record.pid


def test_up_starts_a_server_with_pgmq_and_records_the_url_in_dotenv(db_project: Project) -> None:
    db_project.env_file.write_text("# kept by db up\nTASKER_OTHER=1\n")
    url = _up(db_project)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM pgmq.list_queues()").fetchone() == (0,)
    env_text = db_project.env_file.read_text()
    assert f"DATABASE_URL={url}" in env_text
    assert "# kept by db up" in env_text and "TASKER_OTHER=1" in env_text


def test_second_up_reuses_the_running_server(db_project: Project) -> None:
    _up(db_project)
    first_pid = _postmaster_pid(db_project)
    second = run_cli(db_project, "db", "up")
    assert second.returncode == 0, second.stderr
    assert "started PostgreSQL" not in second.stderr
    assert _postmaster_pid(db_project) == first_pid


@pytest.mark.skipif(os.geteuid() != 0, reason="the postgres-user path only exists when the CLI runs as root")
def test_as_root_the_server_runs_as_postgres_with_its_data_in_the_tmp_fallback(db_project: Project) -> None:
    result = run_cli(db_project, "db", "up")
    assert result.returncode == 0, result.stderr
    assert "runs as the `postgres` system user" in result.stderr
    assert "cannot enter" in result.stderr  # pytest's 0700 temp folder: the fallback is announced
    assert existing_data_dir(db_project) == db_project.fallback_database_dir
    assert psutil.Process(_postmaster_pid(db_project)).username() == "postgres"
    assert db_project.fallback_database_dir.stat().st_mode & 0o777 == 0o700


def test_down_leaves_no_server_process_behind(db_project: Project) -> None:
    _up(db_project)
    data_dir = existing_data_dir(db_project)
    assert data_dir is not None
    before = processes_in(data_dir)
    assert len(before) >= 2  # the postmaster and its background workers

    result = run_cli(db_project, "db", "down")

    assert result.returncode == 0, result.stderr
    assert "database stopped" in result.stdout
    assert processes_in(data_dir) == []
    assert not any(process.is_running() and process.status() != psutil.STATUS_ZOMBIE for process in before)


def test_status_reports_running_then_stopped_in_json(db_project: Project) -> None:
    url = _up(db_project)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pgmq.create('status_probe')")
        conn.execute("SELECT pgmq.send('status_probe', '{}'::jsonb)")
    answering = run_cli(db_project, "db", "status", "--json")
    assert answering.returncode == 0, answering.stderr
    running = json.loads(answering.stdout)
    assert running["running"] is True and running["kind"] == "local"
    assert running["pid"] == _postmaster_pid(db_project)
    assert running["pgmq_version"] and running["queue_depths"] == {"status_probe": 1}
    assert running["connections"] >= 1 and running["size_bytes"] > 0

    run_cli(db_project, "db", "down")
    down = run_cli(db_project, "db", "status", "--json")
    assert down.returncode == 1, "a stopped database is not a healthy one: scripts test the exit code"
    stopped = json.loads(down.stdout)
    assert stopped["running"] is False and stopped["pid"] is None and stopped["version"] is None


def test_status_table_names_the_state(db_project: Project) -> None:
    before = run_cli(db_project, "db", "status")
    assert "stopped" in before.stdout and before.returncode == 1
    _up(db_project)
    table = run_cli(db_project, "db", "status").stdout
    assert "running" in table and "pgmq" in table
    assert [line for line in table.splitlines() if line != line.rstrip()] == []


def test_up_after_the_postmaster_was_killed_starts_a_new_server(db_project: Project) -> None:
    _up(db_project)
    old_pid = _postmaster_pid(db_project)
    os.kill(old_pid, signal.SIGKILL)  # our own server: started by this test

    url = _up(db_project)

    assert _postmaster_pid(db_project) != old_pid
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_url_before_up_names_the_fix_and_starts_nothing(db_project: Project) -> None:
    result = run_cli(db_project, "db", "url")
    assert result.returncode == 1
    assert "has not been created yet" in result.stderr and "cluster db up" in result.stderr
    assert "Traceback" not in result.stderr
    assert existing_data_dir(db_project) is None


def test_reset_with_yes_drops_queues_and_reinstalls_pgmq(db_project: Project) -> None:
    url = _up(db_project)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pgmq.create('doomed')")
    result = run_cli(db_project, "db", "reset", "--yes")
    assert result.returncode == 0, result.stderr
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM pgmq.list_queues()").fetchone() == (0,)


def test_reset_of_a_stopped_server_stops_it_again_and_says_so_on_stdout(db_project: Project) -> None:
    url = _up(db_project)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pgmq.create('doomed')")
    assert run_cli(db_project, "db", "down").returncode == 0  # as `cluster stop --with-db` leaves it

    result = run_cli(db_project, "db", "reset", "--yes")

    assert result.returncode == 0, result.stderr
    data_dir = existing_data_dir(db_project)
    assert data_dir is not None
    assert running_postmaster(data_dir) is None, "the reset left running a server it had to start"
    assert processes_in(data_dir) == []
    assert "database stopped again, as it was before the reset: `cluster db up` starts it" in result.stdout
    assert run_cli(db_project, "db", "up").returncode == 0
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM pgmq.list_queues()").fetchone() == (0,)


def test_reset_of_a_running_server_leaves_it_running(db_project: Project) -> None:
    _up(db_project)
    pid = _postmaster_pid(db_project)
    result = run_cli(db_project, "db", "reset", "--yes")
    assert result.returncode == 0, result.stderr
    assert _postmaster_pid(db_project) == pid
    assert "stopped again" not in result.stdout


def test_reset_answered_no_at_a_terminal_says_so_exits_1_and_keeps_the_data(db_project: Project) -> None:
    url = _up(db_project)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pgmq.create('kept')")
    terminal, user_side = os.openpty()
    try:
        os.write(terminal, b"n\n")  # typed ahead of the question
        result = run_cli(db_project, "db", "reset", stdin=user_side)
    finally:
        os.close(terminal)
        os.close(user_side)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "Drop and recreate the database 'tasker'?" in result.stdout
    assert result.stderr == "reset cancelled: the database was not touched\n"
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT queue_name FROM pgmq.list_queues()").fetchall() == [("kept",)]


def test_reset_without_yes_and_without_a_terminal_refuses(db_project: Project) -> None:
    result = run_cli(db_project, "db", "reset")
    assert result.returncode == 1
    assert "needs confirmation" in result.stderr and "--yes" in result.stderr
    assert "Traceback" not in result.stderr
