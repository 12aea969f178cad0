"""`cluster export compose`: the topology as a compose file the compose specification accepts, instance by instance."""

from __future__ import annotations

import stat
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import tomli_w
import yaml
from export_cli import run_cli

from tasker_cluster.config.load import load_config
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
        assert entry["command"][0] == "python"
        assert entry["environment"]["TASKER_INSTANCE_ID"] == instance.name
        assert entry["environment"]["TASKER_BIND_ADDRESS"] == "0.0.0.0"
        assert entry["environment"]["DATABASE_URL"] == "postgresql://postgres@database:5432/tasker"
        assert entry["restart"] == "on-failure"
        assert entry["depends_on"] == {"database": {"condition": "service_healthy"}}


def test_probes_and_the_graceful_stop_come_from_the_topology(project: Project) -> None:
    settings = {"ready_path": "/health/ready?deep=1", "startup_timeout": 12.5, "stop_grace": 3}
    edit_topology(project, orchestration=settings)
    entry = export(project)["services"]["orchestration-2"]

    check = entry["healthcheck"]
    assert check["test"][:3] == ["CMD", "python", "-c"]
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
    assert environment["WHERE"] == "python 8080 2 orchestration-2 /app"
    assert environment["PRICE"] == "$$5 or $${X}"


def test_the_topology_env_cannot_override_what_the_export_sets(project: Project) -> None:
    edit_topology(project, orchestration={"env": {"TASKER_BIND_ADDRESS": "127.0.0.1", "DATABASE_URL": "nope"}})
    environment = export(project)["services"]["orchestration-1"]["environment"]
    assert environment["TASKER_BIND_ADDRESS"] == "0.0.0.0"
    assert environment["DATABASE_URL"] == "postgresql://postgres@database:5432/tasker"


def test_the_database_runs_in_utf8_with_the_topology_settings_on_a_loopback_port(project: Project) -> None:
    database = export(project)["services"]["database"]
    assert database["environment"]["POSTGRES_INITDB_ARGS"] == "--encoding=UTF8"
    assert database["environment"]["POSTGRES_DB"] == "tasker"
    assert database["command"] == ["postgres", "-c", "max_connections=500"]
    assert database["ports"] == ["127.0.0.1:5433:5432"]


def test_the_password_is_made_once_kept_across_exports_and_readable_by_its_owner_only(project: Project) -> None:
    env_file = project.root / "deploy" / "compose" / ".env"
    export(project)
    first = env_file.read_text()
    with env_file.open("a") as file:
        file.write("MY_OWN_KEY=kept\n")
    export(project, "--orchestration", "1")

    second = env_file.read_text()
    password = next(line for line in first.splitlines() if line.startswith("POSTGRES_PASSWORD="))
    assert len(password) > len("POSTGRES_PASSWORD=") + 16
    assert password in second and "MY_OWN_KEY=kept" in second
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600


def test_the_env_file_names_the_deployment_for_the_harness(project: Project) -> None:
    export(project)
    env_file = project.root / "deploy" / "compose" / ".env"
    topology = load_config(project)

    config = ClusterConfig.from_env(env_file, environ={})
    assert config.orchestration_urls == tuple(topology.orchestration_urls())
    assert config.worker_urls == tuple(topology.worker_urls())
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if not line.startswith("#"))
    password = values["POSTGRES_PASSWORD"]
    assert values["DATABASE_URL"] == f"postgresql://postgres:{password}@127.0.0.1:5433/tasker"
    assert values["TASKER_TEST_WORKER_A_URLS"] == "http://127.0.0.1:8100,http://127.0.0.1:8101"


def test_a_topology_without_a_database_exports_no_database(project: Project) -> None:
    data = tomllib.loads(project.config_file.read_text())
    data["database"]["mode"] = "none"
    project.config_file.write_text(tomli_w.dumps(data))
    document = export(project)

    assert "database" not in document["services"] and "volumes" not in document
    environment = document["services"]["worker-a-1"]["environment"]
    assert "DATABASE_URL" not in environment and "PGPASSWORD" not in environment
    assert "\nPOSTGRES_PASSWORD=" not in (project.root / "deploy" / "compose" / ".env").read_text()


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
