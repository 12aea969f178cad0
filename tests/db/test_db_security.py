"""The local server asks every connection for a password: other users of the machine cannot get in, the services run
as an application role that is no superuser, no output shows a password, and a folder made with trust is converted.

The second system user is `nobody`, connecting with `psql` (the venv may sit where `nobody` cannot enter).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
import uuid
from pathlib import Path

import psycopg
import pytest
from dotenv import dotenv_values

from tasker_cluster.db.binaries import find_bindir
from tasker_cluster.db.credentials import Credentials, read_credentials
from tasker_cluster.db.location import choose_data_dir, existing_data_dir
from tasker_cluster.db.pgmq_install import ensure_pgmq
from tasker_cluster.db.server import LocalServer
from tasker_cluster.db.server_user import as_server_user, give_to_server_user, server_account
from tasker_cluster.proc.ports import find_free_port_block
from tasker_cluster.project import Project
from tasker_cluster.services.common.database import prepare_database
from tasker_cluster.services.common.migrations import MIGRATIONS_DIR, applied_version, apply_migrations, latest_version
from tasker_cluster.services.common.settings import ServiceSettings

from .conftest import run_cli

pytestmark = pytest.mark.db

OTHER_USER = "nobody"
_KEPT_TASK = uuid.uuid4()


def _add_a_service(project: Project) -> None:
    """A configured service, never started: commands that read the whole configuration need one."""
    with project.config_file.open("a") as config:
        config.write(
            f'[services.web]\nrole = "orchestration"\ncount = 1\nbase_port = {find_free_port_block(1)}\n'
            'command = ["{python}", "-c", "pass"]\n'
        )


def _up(project: Project) -> subprocess.CompletedProcess[str]:
    result = run_cli(project, "db", "up")
    assert result.returncode == 0, result.stderr
    return result


def _data_dir(project: Project) -> Path:
    data_dir = existing_data_dir(project)
    assert data_dir is not None
    return data_dir


def _credentials(project: Project) -> Credentials:
    credentials = read_credentials(_data_dir(project))
    assert credentials is not None
    return credentials


def _port(project: Project) -> int:
    url = run_cli(project, "db", "url").stdout.strip()
    return int(url.rsplit(":", 1)[1].split("/")[0])


def _psql() -> str:
    found = find_bindir() / "psql"
    return str(found) if found.exists() else shutil.which("psql") or pytest.skip("no psql to connect with")


def _psql_as(
    user: str, host: str, port: int, role: str, password: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`SELECT current_user` through psql run as another system user; -w: never prompt for a password."""
    environment = ["env", f"PGPASSWORD={password}"] if password is not None else []
    argv = ["runuser", "-u", user, "--", *environment, _psql(), "-w", "-X", "-A", "-t"]
    argv += ["-h", host, "-p", str(port), "-U", role, "-d", "tasker", "-c", "SELECT current_user"]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, cwd="/", stdin=subprocess.DEVNULL)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as another system user")
def test_another_system_user_cannot_connect_over_tcp_or_the_socket(db_project: Project) -> None:
    _up(db_project)
    port, socket_dir, credentials = _port(db_project), str(_data_dir(db_project)), _credentials(db_project)
    assert (Path(socket_dir) / f".s.PGSQL.{port}").is_socket()

    for role in ("postgres", "tasker"):
        tcp = _psql_as(OTHER_USER, "127.0.0.1", port, role)
        assert tcp.returncode != 0 and "no password supplied" in tcp.stderr, tcp
        wrong = _psql_as(OTHER_USER, "127.0.0.1", port, role, password="guessed")
        assert wrong.returncode != 0 and "password authentication failed" in wrong.stderr, wrong
        local = _psql_as(OTHER_USER, socket_dir, port, role)
        assert local.returncode != 0 and "Permission denied" in local.stderr, local

    # What stops them is the password alone over TCP, and the data folder's 0700 mode on the socket.
    with_password = _psql_as(OTHER_USER, "127.0.0.1", port, "tasker", credentials.app_password)
    assert with_password.returncode == 0 and with_password.stdout.strip() == "tasker", with_password
    socket_with_password = _psql_as(OTHER_USER, socket_dir, port, "tasker", credentials.app_password)
    assert socket_with_password.returncode != 0 and "Permission denied" in socket_with_password.stderr
    # The socket asks for the password too (no trust, no peer), even from root, who can enter the folder.
    server_user = server_account().pw_name
    bare_socket = _psql_as(server_user, socket_dir, port, "postgres")
    assert bare_socket.returncode != 0 and "no password supplied" in bare_socket.stderr, bare_socket
    superuser = _psql_as(server_user, socket_dir, port, "postgres", credentials.superuser_password)
    assert superuser.returncode == 0 and superuser.stdout.strip() == "postgres", superuser


def test_the_application_role_owns_the_database_and_pgmq_but_is_no_superuser(db_project: Project) -> None:
    _up(db_project)
    url = run_cli(db_project, "db", "url").stdout.strip()
    assert url.startswith("postgresql://tasker:")

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT current_user, rolsuper, rolcreatedb, pg_get_userbyid(d.datdba), pg_get_userbyid(n.nspowner) "
            "FROM pg_roles r, pg_database d, pg_namespace n "
            "WHERE r.rolname = current_user AND d.datname = current_database() AND n.nspname = 'pgmq'"
        ).fetchone()
        assert row == ("tasker", False, True, "tasker", "tasker")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("COPY (SELECT 1) TO PROGRAM 'true'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT pg_read_file('PG_VERSION')")
    settings = ServiceSettings(role="worker", name="security-test", port=1, database_url=url)
    prepare_database(settings, ["worker_examples_queue"])  # what an instance does at start: PGMQ, migrations, queues
    with psycopg.connect(url) as conn:
        assert applied_version(conn) == latest_version()
        queues = {name for (name,) in conn.execute("SELECT queue_name FROM pgmq.list_queues()")}
        assert "worker_examples_queue" in queues


def test_secrets_are_kept_in_files_only_their_owner_can_read(db_project: Project) -> None:
    _up(db_project)
    data_dir, credentials = _data_dir(db_project), _credentials(db_project)
    password_file = data_dir / "tasker_cluster.pgpass"

    assert password_file.stat().st_mode & 0o777 == 0o600
    assert password_file.stat().st_uid == server_account().pw_uid
    assert data_dir.stat().st_mode & 0o777 == 0o700
    assert db_project.env_file.stat().st_mode & 0o777 == 0o600
    assert credentials.superuser_password != credentials.app_password
    assert len(credentials.app_password) >= 40
    assert credentials.superuser_password not in db_project.env_file.read_text()
    assert not list(data_dir.parent.glob(".initdb-*"))  # initdb's password file is gone
    # libpq reads the file as it is (PGPASSFILE / passfile=), so the superuser can log in with it.
    superuser = f"postgresql://postgres@127.0.0.1:{_port(db_project)}/tasker?passfile={password_file}"
    with psycopg.connect(superuser) as conn:
        assert conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone() == (True,)


def test_only_db_url_prints_the_password(db_project: Project) -> None:
    up = _up(db_project)
    password = _credentials(db_project).app_password
    port = _port(db_project)
    masked = f"postgresql://tasker:***@127.0.0.1:{port}/tasker"

    outputs = {"db up": up.stdout + up.stderr}
    for args in (("db", "status"), ("db", "status", "--json"), ("db", "url", "--masked"), ("status",)):
        result = run_cli(db_project, *args)
        outputs[" ".join(args)] = result.stdout + result.stderr
    for command, output in outputs.items():
        assert password not in output, command
    assert masked in outputs["db up"] and masked in outputs["db status"]
    assert json.loads(outputs["db status --json"])["url"] == masked
    assert outputs["db url --masked"].strip() == masked
    assert run_cli(db_project, "db", "url").stdout.strip() == f"postgresql://tasker:{password}@127.0.0.1:{port}/tasker"


def test_generated_instance_files_hold_no_password_but_their_url_still_logs_in(db_project: Project) -> None:
    _add_a_service(db_project)  # setup-env needs one; nothing is started
    _up(db_project)
    password = _credentials(db_project).app_password

    result = run_cli(db_project, "setup-env")

    assert result.returncode == 0, result.stderr
    assert password not in result.stdout
    assert dotenv_values(db_project.env_file)["DATABASE_URL"] == run_cli(db_project, "db", "url").stdout.strip()
    generated = list(db_project.generated_dir.glob("*.toml"))
    assert generated
    for path in generated:
        assert password not in path.read_text()
    readable_url = tomllib.loads(generated[0].read_text())["database_url"]
    with psycopg.connect(readable_url) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("tasker",)


def test_a_data_folder_without_its_password_file_is_a_clear_error(db_project: Project) -> None:
    _up(db_project)
    assert run_cli(db_project, "db", "down").returncode == 0
    (_data_dir(db_project) / "tasker_cluster.pgpass").unlink()

    result = run_cli(db_project, "db", "up")

    assert result.returncode == 1
    assert "tasker_cluster.pgpass" in result.stderr and "is missing" in result.stderr and "fix:" in result.stderr
    assert "Traceback" not in result.stderr


def _make_trust_folder(project: Project, running: bool) -> str:
    """A data folder as `cluster db up` made it before passwords: initdb with trust, the superuser owning the
    database, PGMQ with a queue holding a message, and the services' schema at version 1 with a task in it.
    Returns the URL that version wrote to .env."""
    port = _port_from_config(project)
    data_dir, _fell_back = choose_data_dir(project)
    data_dir.mkdir(parents=True, mode=0o700)
    give_to_server_user(data_dir)
    initdb = [str(find_bindir() / "initdb"), "--pgdata", str(data_dir), "--username", "postgres", "--auth", "trust"]
    initdb += ["--encoding", "UTF8", "--locale", "C", "--no-sync"]
    subprocess.run(as_server_user(initdb), check=True, capture_output=True, timeout=120)
    with (data_dir / "postgresql.conf").open("a") as conf:
        conf.write("\ninclude_if_exists = 'tasker_cluster.conf'\n")
    server = LocalServer(find_bindir(), data_dir, port, max_connections=50, durable=False)
    server.start()
    old_url = f"postgresql://postgres@127.0.0.1:{port}/tasker"
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", autocommit=True) as conn:
        conn.execute("CREATE DATABASE tasker")
    ensure_pgmq(old_url)
    first_migration = project.root / "migration-1"
    first_migration.mkdir()
    shutil.copy(next(MIGRATIONS_DIR.glob("001_*.sql")), first_migration)
    with psycopg.connect(old_url, autocommit=True) as conn:
        apply_migrations(conn, first_migration)
        conn.execute(
            "INSERT INTO tasker.tasks (task_uuid, namespace, name, version, status, context, created_by) "
            "VALUES (%s, 'examples', 'linear', '1.0.0', 'pending', '{\"kept\": true}', 'before')",
            (_KEPT_TASK,),
        )
        conn.execute("SELECT pgmq.create('kept')")
        conn.execute("""SELECT pgmq.send('kept', '{"n": 1}'::jsonb)""")
    project.env_file.write_text(f"DATABASE_URL={old_url}\nTASKER_LOCAL_DATABASE_URL={old_url}\n")
    project.env_file.chmod(0o600)
    if not running:
        server.stop()
    return old_url


def _port_from_config(project: Project) -> int:
    from tasker_cluster.config.load import load_database_config

    return load_database_config(project).port


@pytest.mark.parametrize("running", [False, True], ids=["stopped", "running"])
def test_a_trust_data_folder_is_converted_on_the_next_up_and_keeps_its_data(db_project: Project, running: bool) -> None:
    old_url = _make_trust_folder(db_project, running)
    before = json.loads(run_cli(db_project, "db", "status", "--json").stdout)
    assert before["running"] is running and "`cluster db up` converts it" in before["problem"]
    _add_a_service(db_project)
    row = json.loads(run_cli(db_project, "status", "--json").stdout)["database"]
    assert row["status"] == ("unhealthy" if running else "stopped"), row
    assert ("`cluster db up` converts it" in row["detail"]) is running, row

    result = run_cli(db_project, "db", "up")

    assert result.returncode == 0, result.stderr
    converted = [line for line in result.stderr.splitlines() if "converted" in line]
    assert len(converted) == 1 and "from trust to password authentication" in converted[0], result.stderr
    url = run_cli(db_project, "db", "url").stdout.strip()
    assert url.startswith("postgresql://tasker:") and dotenv_values(db_project.env_file)["DATABASE_URL"] == url
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        psycopg.connect(old_url, connect_timeout=5).close()

    # An instance's start as the application role: the remaining migrations alter what the superuser made.
    settings = ServiceSettings(role="worker", name="after-conversion", port=1, database_url=url)
    prepare_database(settings, ["kept", "worker_examples_queue"])
    with psycopg.connect(url, autocommit=True) as conn:
        assert applied_version(conn) == latest_version()
        task = conn.execute("SELECT context, created_by FROM tasker.tasks WHERE task_uuid = %s", (_KEPT_TASK,))
        assert task.fetchone() == ({"kept": True}, "before")
        conn.execute("UPDATE tasker.tasks SET status = 'steps_in_process' WHERE task_uuid = %s", (_KEPT_TASK,))
        message = conn.execute("SELECT message FROM pgmq.read('kept', 30, 1)").fetchone()
        assert message == ({"n": 1},)
        conn.execute("""SELECT pgmq.send('kept', '{"n": 2}'::jsonb)""")
        owners = conn.execute(
            "SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname IN ('pgmq', 'tasker')"
        ).fetchall()
        assert owners == [("tasker",)]

    again = run_cli(db_project, "db", "up")
    assert again.returncode == 0 and "converted" not in again.stderr
