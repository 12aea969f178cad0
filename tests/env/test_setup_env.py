"""`cluster setup-env`: .env keys and generated per-instance files, driven through the real CLI."""

from __future__ import annotations

import tomllib

from dotenv import dotenv_values

from tasker_cluster.cluster.env import service_urls_key

from .conftest import EnvProject, RunCli


def _env(env_project: EnvProject) -> dict[str, str | None]:
    return dotenv_values(env_project.project.env_file)


def test_env_urls_match_topology_ports_and_no_count_is_written_unless_given(
    env_project: EnvProject, run_cli: RunCli
) -> None:
    result = run_cli("setup-env")

    assert result.returncode == 0, result.stderr
    values = _env(env_project)
    p = env_project
    assert values["TASKER_TEST_ORCHESTRATION_URLS"] == p.urls(p.orchestration_base, 2)
    assert values["TASKER_TEST_WORKER_URLS"] == p.urls(p.worker_a_base, 2) + "," + p.urls(p.worker_b_base, 2)
    assert values["TASKER_TEST_WORKER_A_URLS"] == p.urls(p.worker_a_base, 2)
    assert values["TASKER_TEST_WORKER_B_URLS"] == p.urls(p.worker_b_base, 2)
    assert "TASKER_ORCHESTRATION_INSTANCES" not in values and "TASKER_WORKER_INSTANCES" not in values


def test_counts_from_setup_env_never_shadow_a_later_edit_of_the_topology_file(
    env_project: EnvProject, run_cli: RunCli
) -> None:
    assert run_cli("setup-env").returncode == 0
    text = env_project.project.config_file.read_text()
    env_project.project.config_file.write_text(text.replace("count = 2\nbase_port", "count = 3\nbase_port", 1))

    again = run_cli("setup-env")

    assert again.returncode == 0, again.stderr
    p = env_project
    assert _env(p)["TASKER_TEST_ORCHESTRATION_URLS"] == p.urls(p.orchestration_base, 3)
    assert "note:" not in again.stderr


def test_a_count_given_on_the_command_line_is_written_and_every_override_is_said(
    env_project: EnvProject, run_cli: RunCli
) -> None:
    given = run_cli("setup-env", "--workers", "3")
    plain = run_cli("setup-env")

    values = _env(env_project)
    assert values["TASKER_WORKER_INSTANCES"] == "3" and "TASKER_ORCHESTRATION_INSTANCES" not in values
    assert "note: 3 worker instances from --workers 3 (config/cluster.toml says 4)" in given.stderr
    env_file = env_project.project.env_file
    assert f"note: 3 worker instances from TASKER_WORKER_INSTANCES in {env_file} (config/cluster.toml says 4)" in (
        plain.stderr
    )


def test_rerun_keeps_user_key_and_comment_and_updates_owned_values(env_project: EnvProject, run_cli: RunCli) -> None:
    env_file = env_project.project.env_file
    env_file.write_text("# my own settings\nMY_TOKEN=abc123\nTASKER_TEST_ORCHESTRATION_URLS=http://127.0.0.1:1\n")

    first = run_cli("setup-env")
    second = run_cli("setup-env", "--orchestration", "3")

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    text = env_file.read_text()
    assert text.startswith("# my own settings\nMY_TOKEN=abc123\n")
    values = _env(env_project)
    assert values["MY_TOKEN"] == "abc123"
    assert values["TASKER_TEST_ORCHESTRATION_URLS"] == env_project.urls(env_project.orchestration_base, 3)
    assert values["TASKER_ORCHESTRATION_INSTANCES"] == "3"
    assert text.count("TASKER_TEST_ORCHESTRATION_URLS=") == 1


def test_second_run_with_same_topology_changes_no_file(env_project: EnvProject, run_cli: RunCli) -> None:
    project = env_project.project
    assert run_cli("setup-env").returncode == 0
    env_before = project.env_file.read_bytes()
    files_before = {path.name: path.stat().st_mtime_ns for path in project.generated_dir.iterdir()}

    again = run_cli("setup-env")

    assert again.returncode == 0, again.stderr
    assert "unchanged" in again.stdout
    assert project.env_file.read_bytes() == env_before
    assert {path.name: path.stat().st_mtime_ns for path in project.generated_dir.iterdir()} == files_before


def test_count_flags_override_and_later_plain_runs_keep_them(env_project: EnvProject, run_cli: RunCli) -> None:
    p = env_project
    assert run_cli("setup-env", "--orchestration", "1", "--workers", "3").returncode == 0
    plain = run_cli("setup-env")

    assert plain.returncode == 0, plain.stderr
    values = _env(p)
    assert values["TASKER_ORCHESTRATION_INSTANCES"] == "1"
    assert values["TASKER_WORKER_INSTANCES"] == "3"
    assert values["TASKER_TEST_ORCHESTRATION_URLS"] == p.urls(p.orchestration_base, 1)
    # Three workers over two types in order: two of worker-a, one of worker-b.
    assert values["TASKER_TEST_WORKER_A_URLS"] == p.urls(p.worker_a_base, 2)
    assert values["TASKER_TEST_WORKER_B_URLS"] == p.urls(p.worker_b_base, 1)


def test_generated_files_describe_each_instance_and_stale_ones_are_removed(
    env_project: EnvProject, run_cli: RunCli
) -> None:
    generated = env_project.project.generated_dir
    assert run_cli("setup-env", "--workers", "4").returncode == 0
    (generated / "notes.txt").write_text("not ours to delete")

    result = run_cli("setup-env", "--workers", "2")

    assert result.returncode == 0, result.stderr
    assert "removed 2 stale" in result.stdout
    assert sorted(path.name for path in generated.glob("*.toml")) == [
        "orchestration-1.toml",
        "orchestration-2.toml",
        "worker-a-1.toml",
        "worker-b-1.toml",
    ]
    assert (generated / "notes.txt").exists()
    document = tomllib.loads((generated / "worker-a-1.toml").read_text())
    port = env_project.worker_a_base
    assert document["name"] == "worker-a-1"
    assert document["service"] == "worker-a"
    assert document["role"] == "worker"
    assert document["port"] == port
    assert document["url"] == f"http://127.0.0.1:{port}"
    assert document["bind_address"] == "127.0.0.1"
    assert document["argv"][-2:] == ["--port", str(port)]
    assert document["health_path"] == "/health"
    assert document["ready_path"] == "/health/ready"
    assert document["env"]["WORKER_NAME"] == "worker-a-1"
    assert document["env"]["TASKER_INSTANCE_PORT"] == str(port)


def test_bad_topology_exits_2_naming_the_key_and_writes_nothing(env_project: EnvProject, run_cli: RunCli) -> None:
    env_project.write_topology(extra='colour = "red"')

    result = run_cli("setup-env")

    assert result.returncode == 2
    assert result.stderr.startswith("error: ")
    assert "services.orchestration.colour" in result.stderr
    assert "fix:" in result.stderr
    assert "Traceback" not in result.stderr
    assert not env_project.project.env_file.exists()
    assert not env_project.project.generated_dir.exists()


def test_local_database_url_follows_the_database_settings(env_project: EnvProject, run_cli: RunCli) -> None:
    password = env_project.leave_database_files().app_password
    assert run_cli("setup-env").returncode == 0
    first = _env(env_project)["DATABASE_URL"]
    env_project.write_topology(database_port=env_project.database_port - 1)

    assert run_cli("setup-env").returncode == 0

    assert first == f"postgresql://tasker:{password}@127.0.0.1:{env_project.database_port}/tasker_envtest"
    assert _env(env_project)["DATABASE_URL"] == first.replace(
        str(env_project.database_port), str(env_project.database_port - 1)
    )


def test_before_db_up_there_is_no_local_url_to_write_and_the_output_says_so(
    env_project: EnvProject, run_cli: RunCli
) -> None:
    result = run_cli("setup-env")

    assert result.returncode == 0, result.stderr
    assert "DATABASE_URL not yet: `cluster db up`" in result.stdout
    assert "DATABASE_URL" not in _env(env_project)
    document = tomllib.loads((env_project.project.generated_dir / "orchestration-1.toml").read_text())
    assert "database_url" not in document and "DATABASE_URL" not in document["env"]


def test_the_local_password_stays_out_of_the_output_and_the_generated_files(
    env_project: EnvProject, run_cli: RunCli
) -> None:
    password = env_project.leave_database_files().app_password

    result = run_cli("setup-env")

    assert result.returncode == 0, result.stderr
    assert password not in result.stdout + result.stderr
    assert f"DATABASE_URL=postgresql://tasker:***@127.0.0.1:{env_project.database_port}/tasker_envtest" in result.stdout
    assert password in _env(env_project)["DATABASE_URL"]
    assert env_project.project.env_file.stat().st_mode & 0o777 == 0o600
    passfile = env_project.project.state_dir / "postgres" / "tasker_cluster.pgpass"
    for path in env_project.project.generated_dir.glob("*.toml"):
        assert password not in path.read_text()
        document = tomllib.loads(path.read_text())
        expected = f"postgresql://tasker@127.0.0.1:{env_project.database_port}/tasker_envtest?passfile={passfile}"
        assert document["database_url"] == document["env"]["DATABASE_URL"] == expected


def test_external_database_url_in_dotenv_is_kept_and_its_password_neither_printed_nor_generated(
    env_project: EnvProject, run_cli: RunCli
) -> None:
    external = "postgresql://app:s3cret@db.example.org:5432/app"
    env_project.project.env_file.write_text(f"DATABASE_URL={external}\n")

    result = run_cli("setup-env")

    assert result.returncode == 0, result.stderr
    assert _env(env_project)["DATABASE_URL"] == external
    assert "s3cret" not in result.stdout
    document = tomllib.loads((env_project.project.generated_dir / "orchestration-1.toml").read_text())
    assert document["database_url"] == "postgresql://app@db.example.org:5432/app"


def test_database_url_from_the_environment_is_used_but_not_copied_into_dotenv(
    env_project: EnvProject, run_cli: RunCli
) -> None:
    external = "postgresql://app@db.example.org:5432/app"

    result = run_cli("setup-env", env={"DATABASE_URL": external})

    assert result.returncode == 0, result.stderr
    assert "DATABASE_URL" not in _env(env_project)
    assert "kept from the environment" in result.stdout
    document = tomllib.loads((env_project.project.generated_dir / "worker-b-2.toml").read_text())
    assert document["env"]["DATABASE_URL"] == external


def test_database_mode_none_writes_no_database_url(env_project: EnvProject, run_cli: RunCli) -> None:
    env_project.write_topology(mode="none")

    assert run_cli("setup-env").returncode == 0

    assert "DATABASE_URL" not in _env(env_project)
    document = tomllib.loads((env_project.project.generated_dir / "orchestration-1.toml").read_text())
    assert "database_url" not in document
    assert "DATABASE_URL" not in document["env"]


def test_service_url_key_follows_the_seed_naming() -> None:
    assert service_urls_key("worker-a") == "TASKER_TEST_WORKER_A_URLS"
    assert service_urls_key("worker-rust") == "TASKER_TEST_WORKER_RUST_URLS"


def test_the_count_of_keys_is_the_number_of_keys_written(env_project: EnvProject, run_cli: RunCli) -> None:
    """Every key setup-env owns is counted and listed, the local URL's marker too (it said 7 of 8)."""
    env_project.leave_database_files()

    result = run_cli("setup-env")

    assert result.returncode == 0, result.stderr
    written = _env(env_project)
    header, *lines = result.stdout.splitlines()
    assert header == f".env: {len(written)} keys, {len(written)} changed"
    listed = [line.split()[1].split("=")[0] for line in lines if line.startswith("  * ")]
    assert listed == list(written)
