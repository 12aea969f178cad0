"""`cluster export compose`: the topology as a compose file the compose specification accepts, instance by instance."""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
import sys
import threading
import tomllib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest
import tomli_w
import yaml
from export_cli import run_cli, set_probes
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tasker_cluster.cluster.export.files import APP_ROLE_SCRIPT
from tasker_cluster.config.load import load_config
from tasker_cluster.containers.compose import ComposeProject
from tasker_cluster.db.pgmq_install import ensure_pgmq
from tasker_cluster.db.scratch import create_database, drop_database
from tasker_cluster.project import Project
from tasker_cluster.testing.config import ClusterConfig

CHECK_JSONSCHEMA = str(Path(sys.executable).with_name("check-jsonschema"))


def export(project: Project, *args: str) -> dict[str, Any]:
    result = run_cli(project, "export", "compose", *args)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load((project.root / "deploy" / "compose" / "compose.yaml").read_text())


def edit_topology(project: Project, **services: dict[str, Any]) -> None:
    data = tomllib.loads(project.config_file.read_text())
    for name, keys in services.items():
        data["services"][name].update(keys)
    project.config_file.write_text(tomli_w.dumps(data))


def validate_compose(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CHECK_JSONSCHEMA, "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_default_topology_exports_a_file_the_compose_specification_accepts(project: Project) -> None:
    export(project)
    checked = validate_compose(project.root / "deploy" / "compose" / "compose.yaml")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_compose_validator_rejects_what_the_specification_does_not_allow(project: Project, tmp_path: Path) -> None:
    document = export(project)
    document["services"]["orchestration-1"]["restart_policy"] = "always"
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(document))
    checked = validate_compose(broken)
    assert checked.returncode != 0 and "restart_policy" in checked.stdout, checked.stdout


def test_every_instance_is_a_service_of_its_own_published_on_loopback_at_its_local_port(project: Project) -> None:
    services = export(project)["services"]
    topology = load_config(project)

    assert list(services) == ["database", *topology.names()]
    specs = {service.name: service for service in topology.services}
    for instance in topology.instances:
        entry = services[instance.name]
        base = specs[instance.service].base_port
        assert entry["ports"] == [f"127.0.0.1:{instance.port}:{base}"]
        assert entry["command"][entry["command"].index("--port") + 1] == str(base)
        assert entry["command"][entry["command"].index("--name") + 1] == instance.name
        assert entry["command"][0] == "python3"
        assert entry["environment"]["TASKER_INSTANCE_ID"] == instance.name
        assert entry["environment"]["TASKER_BIND_ADDRESS"] == "0.0.0.0"
        assert entry["environment"]["DATABASE_URL"] == "postgresql://tasker@database:5432/tasker"
        assert entry["restart"] == "on-failure"
        assert entry["depends_on"] == {"database": {"condition": "service_healthy"}}


def test_probes_and_the_graceful_stop_come_from_the_topology(project: Project) -> None:
    settings = {"ready_path": "/health/ready?deep=1", "startup_timeout": 12.5, "stop_grace": 3}
    edit_topology(project, orchestration=settings)
    entry = export(project)["services"]["orchestration-2"]

    check = entry["healthcheck"]
    assert check["test"][:3] == ["CMD", "python3", "-c"]
    assert "'http://127.0.0.1:8080/health/ready?deep=1'" in check["test"][3]
    assert check["start_period"] == "12500ms"
    assert entry["stop_grace_period"] == "3s"
    # The instance's own deadline lies inside the grace period, as with start-all.
    assert 0 < float(entry["environment"]["TASKER_STOP_GRACE"]) < 3
    assert entry["environment"]["TASKER_STARTUP_TIMEOUT"] == "12.5"


@contextmanager
def answering(status: int) -> Iterator[int]:
    """A loopback HTTP server answering every GET with `status`; yields its port."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_the_python_healthcheck_fails_on_a_not_ready_answer_and_passes_on_a_ready_one(project: Project) -> None:
    code = export(project)["services"]["orchestration-1"]["healthcheck"]["test"][3]
    for status, expected in ((503, 1), (200, 0)):
        with answering(status) as port:
            probe = code.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
            ran = subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=30, check=False)
        assert ran.returncode == expected, (status, ran.stderr)


def test_counts_from_the_command_line_give_the_instances_start_all_would_start(project: Project) -> None:
    services = export(project, "--orchestration", "3", "--workers", "3")["services"]
    assert list(services)[1:] == load_config(project, orchestration=3, workers=3).names()


def test_placeholders_are_mapped_into_the_container_and_dollar_signs_stay_literal(project: Project) -> None:
    edit_topology(
        project,
        orchestration={"env": {"WHERE": "{python} {port} {index} {name} {project_dir}", "PRICE": "$5 or ${{X}}"}},
    )
    environment = export(project)["services"]["orchestration-2"]["environment"]
    assert environment["WHERE"] == "python3 8080 2 orchestration-2 /app"
    assert environment["PRICE"] == "$$5 or $${X}"


def test_the_topology_env_cannot_override_what_the_export_sets(project: Project) -> None:
    edit_topology(project, orchestration={"env": {"TASKER_BIND_ADDRESS": "127.0.0.1", "DATABASE_URL": "nope"}})
    environment = export(project)["services"]["orchestration-1"]["environment"]
    assert environment["TASKER_BIND_ADDRESS"] == "0.0.0.0"
    assert environment["DATABASE_URL"] == "postgresql://tasker@database:5432/tasker"


def test_the_database_runs_in_utf8_with_the_topology_settings_on_a_loopback_port(project: Project) -> None:
    database = export(project)["services"]["database"]
    assert database["environment"]["POSTGRES_INITDB_ARGS"] == "--encoding=UTF8"
    assert database["environment"]["POSTGRES_DB"] == "tasker"
    assert database["command"] == ["postgres", "-c", "max_connections=500"]
    assert database["ports"] == ["127.0.0.1:5433:5432"]


def env_values(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))


def test_the_instances_log_in_as_the_application_role_whose_password_is_never_in_the_compose_file(
    project: Project,
) -> None:
    document = export(project)
    folder = project.root / "deploy" / "compose"
    passwords = env_values(folder / ".env")
    database = document["services"]["database"]

    assert sorted(passwords) == ["POSTGRES_PASSWORD", "TASKER_DATABASE_PASSWORD"]
    assert passwords["POSTGRES_PASSWORD"] != passwords["TASKER_DATABASE_PASSWORD"]
    compose_text = (folder / "compose.yaml").read_text()
    assert not any(password in compose_text for password in passwords.values())
    reference = "${TASKER_DATABASE_PASSWORD:?set TASKER_DATABASE_PASSWORD in the .env file beside compose.yaml}"
    assert document["services"]["worker-b-2"]["environment"]["PGPASSWORD"] == reference
    assert database["environment"]["TASKER_DATABASE_PASSWORD"] == reference
    assert database["environment"]["TASKER_DATABASE_ROLE"] == "tasker"
    assert database["environment"]["POSTGRES_USER"] == "postgres"
    assert "./initdb:/docker-entrypoint-initdb.d:ro" in database["volumes"]
    script = folder / "initdb" / "app-role.sh"
    assert stat.S_IMODE(script.stat().st_mode) == 0o755, "the image runs an executable script, sources any other"


def test_the_passwords_are_made_once_kept_across_exports_and_readable_by_their_owner_only(project: Project) -> None:
    env_file = project.root / "deploy" / "compose" / ".env"
    export(project)
    first = env_values(env_file)
    with env_file.open("a") as file:
        file.write("MY_OWN_KEY=kept\n")
    export(project, "--orchestration", "1")

    second = env_values(env_file)
    assert all(len(password) >= 32 for password in first.values())
    assert second == {**first, "MY_OWN_KEY": "kept"}
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600


def test_the_test_env_file_names_the_deployment_for_the_harness_and_compose_env_does_not(project: Project) -> None:
    export(project)
    folder = project.root / "deploy" / "compose"
    topology = load_config(project)

    config = ClusterConfig.from_env(folder / "test.env", environ={})
    assert config.orchestration_urls == tuple(topology.orchestration_urls())
    assert config.worker_urls == tuple(topology.worker_urls())
    values = env_values(folder / "test.env")
    password = env_values(folder / ".env")["TASKER_DATABASE_PASSWORD"]
    assert values["DATABASE_URL"] == f"postgresql://tasker:{password}@127.0.0.1:5433/tasker"
    assert values["TASKER_TEST_WORKER_A_URLS"] == "http://127.0.0.1:8100,http://127.0.0.1:8101"
    assert stat.S_IMODE((folder / "test.env").stat().st_mode) == 0o600
    assert not (project.root / ".env").exists(), "the local CLI's own .env is not written"


def test_an_env_file_of_an_earlier_export_loses_the_harness_keys_and_keeps_its_password_and_the_users_own(
    project: Project,
) -> None:
    env_file = project.root / "deploy" / "compose" / ".env"
    env_file.parent.mkdir(parents=True)
    env_file.write_text(
        "POSTGRES_PASSWORD=from-before\nDATABASE_URL=postgresql://postgres:from-before@127.0.0.1:5433/tasker\n"
        "TASKER_TEST_ORCHESTRATION_URLS=http://127.0.0.1:8080\nMY_OWN_KEY=kept\n"
    )
    export(project)
    values = env_values(env_file)
    assert sorted(values) == ["MY_OWN_KEY", "POSTGRES_PASSWORD", "TASKER_DATABASE_PASSWORD"]
    assert (values["POSTGRES_PASSWORD"], values["MY_OWN_KEY"]) == ("from-before", "kept")


def test_an_export_into_the_project_folder_is_refused_and_its_env_file_left_as_it_was(project: Project) -> None:
    (project.root / ".env").write_text("DATABASE_URL=postgresql://tasker@127.0.0.1:5433/mine\n")
    result = run_cli(project, "export", "compose", "-o", str(project.root))
    assert result.returncode == 1
    assert result.stderr == (
        f"error: the export would write compose's .env into the project's own {project.root / '.env'}, which every "
        "local `cluster` command reads\n  fix: pass -o with a folder of its own (the default is deploy/compose)\n"
    )
    assert (project.root / ".env").read_text() == "DATABASE_URL=postgresql://tasker@127.0.0.1:5433/mine\n"
    assert not (project.root / "compose.yaml").exists()


def test_the_printed_test_hint_scopes_the_deployments_variables_to_one_command(project: Project) -> None:
    result = run_cli(project, "export", "compose")
    assert result.returncode == 0, result.stderr
    [hint] = [line for line in result.stdout.splitlines() if line.startswith("test it:")]
    assert hint == "test it: cluster test cluster --running --env-file deploy/compose/test.env"


def test_the_printed_run_line_names_the_project_as_the_file_does(project: Project) -> None:
    """podman-compose 1.0 (Debian 12's) ignores the file's `name:` and takes the folder's, "compose" for every
    export: the line names the project itself, with the -p that both tools accept."""
    result = run_cli(project, "export", "compose")
    assert result.returncode == 0, result.stderr
    name = yaml.safe_load((project.root / "deploy" / "compose" / "compose.yaml").read_text())["name"]
    [line] = [line for line in result.stdout.splitlines() if line.startswith("run it:")]
    run = f"-p {name} -f deploy/compose/compose.yaml up -d"
    assert line == f"run it:  podman-compose {run}   (or docker compose {run})"


@pytest.mark.db
def test_the_app_role_script_makes_a_login_role_that_owns_the_database_and_is_no_superuser(
    pg_server: Any,
) -> None:
    admin = conninfo_to_dict(pg_server.admin_url)
    suffix = uuid.uuid4().hex[:10]
    role, database, password = f"app_{suffix}", f"t_initdb_{suffix}", secrets.token_urlsafe(24)
    create_database(pg_server.admin_url, database)
    try:
        environment = {
            **os.environ, "PGHOST": str(admin["host"]), "PGPORT": str(admin["port"]),
            "PGPASSWORD": str(admin.get("password", "")), "POSTGRES_USER": str(admin["user"]),
            "POSTGRES_DB": database, "TASKER_DATABASE_ROLE": role, "TASKER_DATABASE_PASSWORD": password,
        }  # fmt: skip
        ran = subprocess.run([str(APP_ROLE_SCRIPT)], env=environment, capture_output=True, text=True, timeout=60)
        assert ran.returncode == 0, ran.stderr
        with psycopg.connect(pg_server.admin_url) as conn:
            row = conn.execute(
                "SELECT rolsuper, rolcreaterole, rolcreatedb, rolcanlogin, rolpassword LIKE 'SCRAM-SHA-256$%%',"
                " (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s) FROM pg_authid"
                " WHERE rolname = %s",
                (database, role),
            ).fetchone()
        assert row == (False, False, False, True, True, role)
        # Its own password over TCP, and its database is its own: PGMQ installs, as the services install it.
        as_role = make_conninfo(pg_server.admin_url, user=role, password=password, dbname=database)
        assert ensure_pgmq(as_role)
    finally:
        drop_database(pg_server.admin_url, database)
        with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_a_topology_without_a_database_exports_no_database(project: Project) -> None:
    data = tomllib.loads(project.config_file.read_text())
    data["database"]["mode"] = "none"
    project.config_file.write_text(tomli_w.dumps(data))
    document = export(project)

    assert "database" not in document["services"] and "volumes" not in document
    environment = document["services"]["worker-a-1"]["environment"]
    assert "DATABASE_URL" not in environment and "PGPASSWORD" not in environment
    assert not (project.root / "deploy" / "compose" / ".env").exists(), "no database, no passwords"
    assert (project.root / "deploy" / "compose" / "test.env").is_file()


@pytest.mark.parametrize("option", ["--image", "--database-image"])
def test_an_image_that_is_not_an_image_reference_is_refused_and_nothing_is_written(
    project: Project, option: str
) -> None:
    result = run_cli(project, "export", "compose", option, "Not An Image")
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {option} 'Not An Image' is not an image reference\n  fix: ")
    assert "Traceback" not in result.stderr
    assert not (project.root / "deploy").exists()


def test_an_output_that_is_a_file_is_refused_with_the_fix(project: Project) -> None:
    taken = project.root / "taken"
    taken.write_text("mine\n")
    result = run_cli(project, "export", "compose", "-o", str(taken))
    assert result.returncode == 1
    assert result.stderr == f"error: {taken} is not a folder\n  fix: pass -o with a folder to write the export into\n"
    assert taken.read_text() == "mine\n"


def test_an_env_file_that_cannot_be_read_is_refused_before_any_test_runs(project: Project) -> None:
    missing = project.root / "deploy" / "compose" / "test.env"
    result = run_cli(project, "test", "cluster", "--running", "--env-file", str(missing))
    assert result.returncode == 2
    assert result.stderr == (
        f"error: --env-file {missing}: cannot read it: No such file or directory\n"
        "  fix: pass the test.env an export wrote (cluster export compose prints its path)\n"
    )


def test_each_probe_kind_becomes_its_healthcheck_and_none_has_none(project: Project) -> None:
    set_probes(
        project,
        orchestration={"probe": "tcp"},
        **{
            "worker-a": {
                "probe": "exec",
                "probe_command": ["{python}", "check.py", "--port", "{port}", "{name}", "$x"],
            },
            "worker-b": {"probe": "none"},
        },
    )
    path = project.root / "deploy" / "compose" / "compose.yaml"
    services = export(project)["services"]

    assert services["orchestration-1"]["healthcheck"]["test"][:3] == ["CMD", "python3", "-c"]
    assert "('127.0.0.1', 8080)" in services["orchestration-1"]["healthcheck"]["test"][3]
    assert services["worker-a-2"]["healthcheck"]["test"] == [
        "CMD", "python3", "check.py", "--port", "8100", "worker-a-2", "$$x"
    ]  # fmt: skip
    # What the compose harness runs in the container (`podman exec`): the test as compose reads it.
    assert ComposeProject("p", path).healthcheck_tests()["worker-a-2"] == [
        "python3", "check.py", "--port", "8100", "worker-a-2", "$x"
    ]  # fmt: skip
    assert "healthcheck" not in services["worker-b-1"]
    # Nothing waits for a healthcheck it does not have; the database's own stays.
    assert services["worker-b-1"]["depends_on"] == {"database": {"condition": "service_healthy"}}
    checked = validate_compose(path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_tcp_healthcheck_fails_while_nothing_listens_and_passes_once_something_does(project: Project) -> None:
    set_probes(project, orchestration={"probe": "tcp"})
    code = export(project)["services"]["orchestration-1"]["healthcheck"]["test"][3]
    with answering(200) as port:
        listening = code.replace("8080", str(port))
        ran = subprocess.run([sys.executable, "-c", listening], capture_output=True, timeout=30, check=False)
        assert ran.returncode == 0, ran.stderr
    closed = subprocess.run([sys.executable, "-c", listening], capture_output=True, timeout=30, check=False)
    assert closed.returncode == 1 and b"ConnectionRefusedError" in closed.stderr


def test_a_probe_timeout_becomes_the_healthchecks_timeout_and_bounds_the_checks_own_socket(project: Project) -> None:
    set_probes(
        project,
        orchestration={"probe": "tcp", "probe_timeout": 0.5},
        **{"worker-a": {"probe_timeout": 12}, "worker-b": {"probe": "exec", "probe_command": ["check"]}},
    )
    path = project.root / "deploy" / "compose" / "compose.yaml"
    services = export(project)["services"]

    tcp, http, default = (services[name]["healthcheck"] for name in ("orchestration-1", "worker-a-1", "worker-b-1"))
    assert (tcp["timeout"], http["timeout"], default["timeout"]) == ("500ms", "12s", "4s")
    assert "timeout=0.5)" in tcp["test"][3] and "timeout=12)" in http["test"][3]
    checked = validate_compose(path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
