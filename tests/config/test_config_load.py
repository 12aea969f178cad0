"""config/cluster.toml and .env -> ClusterConfig: names, ports, placeholders, counts and where each count came
from, and one clear exit-2 error per mistake. Every test loads a project folder of its own, never the checkout's."""

from __future__ import annotations

import shlex
import sys
import tomllib
from pathlib import Path

import pytest

from support.sandbox import Sandbox, server_command, service
from tasker_cluster.cluster.status import quick_status
from tasker_cluster.config.counts import split_evenly
from tasker_cluster.config.load import load_config
from tasker_cluster.config.model import LogRotation
from tasker_cluster.errors import ClusterError, ConfigError
from tasker_cluster.project import Project


def test_worker_types_share_the_worker_range_in_file_order_unless_given_their_own_base(sandbox: Sandbox) -> None:
    sandbox.write_topology(
        {
            "worker-a": service("worker", 2, None),
            "worker-b": service("worker", 3, None),
            "special": service("worker", 1, sandbox.base),
            "orchestration": service("orchestration", 1, None),
        }
    )

    topology = sandbox.config()

    assert [(i.name, i.port) for i in topology.instances] == [
        ("orchestration-1", 8080),
        ("worker-a-1", 8100),
        ("worker-a-2", 8101),
        ("worker-b-1", 8102),
        ("worker-b-2", 8103),
        ("worker-b-3", 8104),
        ("special-1", sandbox.base),
    ]
    assert [i.name for i in topology.by_role("orchestration")] == ["orchestration-1"]


def test_placeholders_are_substituted_in_command_and_env_and_defaults_apply(sandbox: Sandbox) -> None:
    table = service(
        "orchestration", 2, sandbox.base, env={"LABEL": "{name}@{port}#{index}", "HOME_DIR": "{project_dir}"}
    )
    sandbox.write_topology({"orchestration": table})

    second = sandbox.config().instances[1]

    assert second.argv == [sys.executable, *server_command()[1:3], str(sandbox.base + 1), "--name", "orchestration-2"]
    assert second.env == {"LABEL": f"orchestration-2@{sandbox.base + 1}#2", "HOME_DIR": str(sandbox.root)}
    assert (second.health_path, second.ready_path) == ("/health", "/health/ready")
    assert (second.startup_timeout, second.stop_grace) == (30.0, 10.0)
    assert second.url == f"http://127.0.0.1:{sandbox.base + 1}"


def test_a_worker_total_is_split_over_worker_types_in_file_order() -> None:
    assert split_evenly(5, 2) == [3, 2]
    assert split_evenly(4, 3) == [2, 1, 1]
    assert split_evenly(0, 2) == [0, 0]


def _two_worker_types(sandbox: Sandbox) -> None:
    sandbox.write_topology(
        {
            "orchestration": service("orchestration", 1, sandbox.base),
            "worker-a": service("worker", 1, sandbox.base + 10),
            "worker-b": service("worker", 1, sandbox.base + 20),
        }
    )


def _counts(sandbox: Sandbox, **flags: int | None) -> dict[str, int]:
    topology = sandbox.config(**flags)
    return {service.name: service.count for service in topology.services}


def test_counts_come_from_the_flag_then_the_environment_then_dotenv_then_the_file(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    _two_worker_types(sandbox)
    assert _counts(sandbox) == {"orchestration": 1, "worker-a": 1, "worker-b": 1}

    sandbox.project.env_file.write_text("TASKER_WORKER_INSTANCES=5\nTASKER_ORCHESTRATION_INSTANCES=2\n")
    assert _counts(sandbox) == {"orchestration": 2, "worker-a": 3, "worker-b": 2}

    monkeypatch.setenv("TASKER_WORKER_INSTANCES", "3")
    assert _counts(sandbox) == {"orchestration": 2, "worker-a": 2, "worker-b": 1}

    assert _counts(sandbox, workers=4, orchestration=3) == {"orchestration": 3, "worker-a": 2, "worker-b": 2}


def test_status_quick_lists_exactly_the_configured_instances(sandbox: Sandbox) -> None:
    sandbox.write_topology(
        {
            "worker-a": service("worker", 2, None),
            "orchestration": service("orchestration", 2, None),
            "worker-b": service("worker", 1, None),
        }
    )
    sandbox.project.env_file.write_text("TASKER_WORKER_INSTANCES=4\n")

    config = sandbox.config()
    quick = [(row.name, row.port, row.url, row.status) for row in quick_status(sandbox.project, config).instances]

    assert quick == [(i.name, i.port, i.url, "stopped") for i in config.instances]


def test_selecting_an_unknown_instance_names_it_and_lists_the_valid_ones(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=1, workers=2)
    topology = sandbox.config()

    with pytest.raises(ClusterError) as caught:
        topology.select(["worker-9", "worker-1"])

    assert caught.value.exit_code == 2
    assert "unknown instance worker-9" in caught.value.message
    assert caught.value.fix == (
        "did you mean one of worker-2, worker-1, worker? Otherwise use one of these names: "
        "services orchestration, worker; instances orchestration-1, worker-1, worker-2"
    )
    assert [i.name for i in topology.select(["worker"])] == ["worker-1", "worker-2"]


_ONE_SERVICE = '[services.a]\nrole = "worker"\ncount = 1\ncommand = ["x"]\n'
BAD_FILES = {
    "overflow": (
        '[services.w]\nrole = "worker"\ncount = 11\ncommand = ["x"]\n',
        "services.w.count",
        "overflow the worker range 8100-8109",
    ),
    "shared-range-overflow": (
        '[services.a]\nrole = "worker"\ncount = 6\ncommand = ["x"]\n'
        '[services.b]\nrole = "worker"\ncount = 5\ncommand = ["x"]\n',
        "services.b.count",
        "ports 8106-8110",
    ),
    "duplicate-port": (
        '[services.a]\nrole = "worker"\ncount = 2\ncommand = ["x"]\n'
        '[services.b]\nrole = "worker"\ncount = 1\nbase_port = 8101\ncommand = ["x"]\n',
        "services.b.base_port",
        "port 8101 of b-1 is also given to a-2",
    ),
    "unknown-placeholder": (
        '[services.a]\nrole = "worker"\ncount = 1\ncommand = ["x", "--port={prot}"]\n',
        "services.a.command[1]",
        "unknown placeholder {prot}",
    ),
    "unknown-placeholder-in-env": (
        '[services.a]\nrole = "worker"\ncount = 1\ncommand = ["x"]\nenv = { URL = "{host}" }\n',
        "services.a.env.URL",
        "unknown placeholder {host}",
    ),
    "missing-command": ('[services.a]\nrole = "worker"\ncount = 1\n', "services.a.command", "required key missing"),
    "empty-command": ('[services.a]\nrole = "worker"\ncount = 1\ncommand = []\n', "services.a.command", "at least 1"),
    "unknown-key": (
        '[services.a]\nrole = "worker"\ncount = 1\ncommand = ["x"]\nstartup_timout = 3\n',
        "services.a.startup_timout",
        "unknown key",
    ),
    "bad-role": ('[services.a]\nrole = "db"\ncount = 1\ncommand = ["x"]\n', "services.a.role", "orchestration"),
    "bad-database-mode": ('[database]\nmode = "remote"\n', "database.mode", "'local' or 'none'"),
    "toml-syntax": ('[services.a]\nrole = "worker\n', "line 2", "not valid TOML"),
    "log-size-unit": ('[logs]\nmax_bytes = "10MB"\n' + _ONE_SERVICE, "logs.max_bytes", "a string like '10MiB'"),
    "log-size-small": ("[logs]\nmax_bytes = 100\n" + _ONE_SERVICE, "logs.max_bytes", "greater than or equal to 4096"),
    "log-keep-negative": ("[logs]\nkeep = -1\n" + _ONE_SERVICE, "logs.keep", "greater than or equal to 0"),
    "log-unknown-key": ("[logs]\nmax_size = 1\n" + _ONE_SERVICE, "logs.max_size", "unknown key"),
    "quoted-count": (
        '[services.a]\nrole = "worker"\ncount = "3"\ncommand = ["x"]\n',
        "services.a.count",
        "not a string",
    ),
    "quoted-base-port": (
        '[services.a]\nrole = "worker"\ncount = 1\nbase_port = "8100"\ncommand = ["x"]\n',
        "services.a.base_port",
        "not a string",
    ),
    "quoted-database-port": ('[database]\nport = "5433"\n' + _ONE_SERVICE, "database.port", "not a string"),
    "quoted-grace": (
        '[services.a]\nrole = "worker"\ncount = 1\ncommand = ["x"]\nstop_grace = "10"\n',
        "services.a.stop_grace",
        "not a string",
    ),
    "boolean-count": ('[services.a]\nrole = "worker"\ncount = true\ncommand = ["x"]\n', "services.a.count", "boolean"),
    "database-port-is-an-instance-port": (
        "[database]\nport = 8100\n" + _ONE_SERVICE,
        "database.port",
        "port 8100 is also given to a-1",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_topology_file_is_one_config_error_naming_the_file_and_key(sandbox: Sandbox, case: str) -> None:
    text, key, problem = BAD_FILES[case]
    sandbox.project.config_file.parent.mkdir(parents=True)
    sandbox.project.config_file.write_text(text)

    with pytest.raises(ConfigError) as caught:
        load_config(sandbox.project)

    assert caught.value.exit_code == 2
    assert str(sandbox.project.config_file) in caught.value.message
    assert key in caught.value.message
    assert problem in caught.value.message
    assert caught.value.fix


def test_a_quoted_number_is_refused_with_the_unquoted_form_as_the_fix(sandbox: Sandbox) -> None:
    sandbox.project.config_file.parent.mkdir(parents=True)
    sandbox.project.config_file.write_text('[services.a]\nrole = "worker"\ncount = "3"\ncommand = ["x"]\n')

    with pytest.raises(ConfigError) as caught:
        load_config(sandbox.project)

    assert caught.value.fix == "write the number without quotes: `count = 3`"


@pytest.mark.parametrize(
    ("key", "written", "suggested"),
    [
        ("command", "python3 server.py --name 'my worker'", '["python3", "server.py", "--name", "my worker"]'),
        ("probe_command", "python3 check.py", '["python3", "check.py"]'),
    ],
)
def test_a_command_written_as_one_string_is_refused_with_its_list_form_as_the_fix(
    sandbox: Sandbox, key: str, written: str, suggested: str
) -> None:
    """The command is never run through a shell; the string is split as a shell would split it for the fix only."""
    table = {"role": "worker", "count": 1, "command": ["x"], "probe": "exec", "probe_command": ["x"]}
    sandbox.write_topology({"a": {**table, key: written}})

    result = sandbox.cli("start-all")

    assert result.returncode == 2
    assert result.stderr == (
        f"error: {sandbox.project.config_file}: services.a.{key}: Input should be a valid list\n"
        f"  fix: write it as a list of arguments: `{key} = {suggested}`\n"
    )
    assert tomllib.loads(f"{key} = {suggested}")[key] == shlex.split(written)


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("[services.a]\nrole worker\n", "\n  2 | role worker\n    |      ^"),
        ("[services.a]\n\tcount = 1 1\n", "\n  2 |  count = 1 1\n    |            ^"),  # a tab is one column
        ("\n" * 9 + "[services.a\n", "\n  10 | [services.a\n     |            ^"),
        ("a = [1,\n", ""),  # the file ended early: no line to point at
    ],
)
def test_a_toml_syntax_error_quotes_its_line_with_a_caret_under_the_column(
    sandbox: Sandbox, text: str, quoted: str
) -> None:
    sandbox.project.config_file.parent.mkdir(parents=True)
    sandbox.project.config_file.write_text(text)

    with pytest.raises(ConfigError) as caught:
        load_config(sandbox.project)

    message = caught.value.message
    assert message.endswith(quoted if quoted else ")")
    assert message.count("\n") == (2 if quoted else 0)


def test_a_database_port_inside_a_service_range_is_accepted_when_no_local_server_runs(sandbox: Sandbox) -> None:
    sandbox.project.config_file.parent.mkdir(parents=True)
    sandbox.project.config_file.write_text('[database]\nmode = "none"\nport = 8100\n' + _ONE_SERVICE)

    assert [instance.port for instance in load_config(sandbox.project).instances] == [8100]


def test_unknown_key_error_lists_the_keys_the_table_accepts(sandbox: Sandbox) -> None:
    sandbox.project.config_file.parent.mkdir(parents=True)
    sandbox.project.config_file.write_text('[services.a]\nrole = "worker"\ncount = 1\ncommand = ["x"]\nports = 3\n')

    with pytest.raises(ConfigError) as caught:
        load_config(sandbox.project)

    assert "base_port" in caught.value.fix and "stop_grace" in caught.value.fix


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ("", LogRotation(10 * 1024 * 1024, 3)),
        ('[logs]\nmax_bytes = "512KiB"\nkeep = 0\n', LogRotation(512 * 1024, 0)),
        ("[logs]\nmax_bytes = 65536\n", LogRotation(65536, 3)),
        ('[logs]\nmax_bytes = "2GiB"\nkeep = 10\n', LogRotation(2 * 1024**3, 10)),
    ],
)
def test_log_rotation_comes_from_the_logs_table_with_defaults(sandbox: Sandbox, table: str, expected: object) -> None:
    sandbox.project.config_file.parent.mkdir(parents=True)
    sandbox.project.config_file.write_text(table + _ONE_SERVICE)

    assert load_config(sandbox.project).logs == expected


def test_a_missing_topology_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(Project(tmp_path))

    assert str(tmp_path / "config" / "cluster.toml") in caught.value.message


def test_a_count_from_dotenv_that_is_not_a_number_names_the_file(sandbox: Sandbox) -> None:
    sandbox.write_cluster()
    sandbox.project.env_file.write_text("TASKER_WORKER_INSTANCES=two\n")

    with pytest.raises(ConfigError) as caught:
        sandbox.config()

    assert f"TASKER_WORKER_INSTANCES in {sandbox.project.env_file}" in caught.value.message


def test_cli_reports_a_bad_topology_with_exit_2_and_no_traceback_and_starts_nothing(sandbox: Sandbox) -> None:
    sandbox.write_topology({"orchestration": service("orchestration", 11, sandbox.base)})

    result = sandbox.cli("start-all")

    assert result.returncode == 2
    assert result.stderr.startswith("error: ")
    assert "services.orchestration.count" in result.stderr and "fix:" in result.stderr
    assert "Traceback" not in result.stderr
    assert not sandbox.project.pids_dir.exists() or not list(sandbox.project.pids_dir.glob("*.pid"))


def test_cli_counts_from_flags_env_and_dotenv_reach_the_instance_list(sandbox: Sandbox) -> None:
    _two_worker_types(sandbox)
    sandbox.project.env_file.write_text("TASKER_WORKER_INSTANCES=4\n")

    from_dotenv = sandbox.cli("status-quick", "--json")
    from_env = sandbox.cli("status-quick", "--json", env={"TASKER_ORCHESTRATION_INSTANCES": "3"})

    assert '"worker-b-2"' in from_dotenv.stdout and '"worker-b-3"' not in from_dotenv.stdout
    assert '"orchestration-3"' in from_env.stdout


def test_each_count_remembers_where_it_came_from(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    _two_worker_types(sandbox)
    sandbox.project.env_file.write_text("TASKER_WORKER_INSTANCES=4\n")
    monkeypatch.setenv("TASKER_ORCHESTRATION_INSTANCES", "2")

    from_sources = {s.name: (s.count, s.count_origin, s.count_source) for s in sandbox.config().services}
    from_flag = {s.name: (s.count_origin, s.count_source) for s in sandbox.config(workers=2).services}

    assert from_sources == {
        "orchestration": (2, "environment", "TASKER_ORCHESTRATION_INSTANCES in the environment"),
        "worker-a": (2, ".env", f"TASKER_WORKER_INSTANCES in {sandbox.project.env_file}"),
        "worker-b": (2, ".env", f"TASKER_WORKER_INSTANCES in {sandbox.project.env_file}"),
    }
    assert from_flag["worker-a"] == ("flag", "--workers 2")
    monkeypatch.delenv("TASKER_ORCHESTRATION_INSTANCES")
    assert sandbox.config().services[0].count_origin == "file"


_WORKER_ORIGINS = {
    "flag": ({}, "", "--workers 30", "--workers"),
    "environment": (
        {"TASKER_WORKER_INSTANCES": "30"},
        "",
        "TASKER_WORKER_INSTANCES in the environment",
        "TASKER_WORKER_INSTANCES in the environment",
    ),
    ".env": ({}, "TASKER_WORKER_INSTANCES=30\n", "TASKER_WORKER_INSTANCES in {env_file}", "{env_file}"),
}


@pytest.mark.parametrize("origin", sorted(_WORKER_ORIGINS))
def test_a_count_that_overflows_its_range_blames_where_the_count_came_from_not_the_file(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, origin: str
) -> None:
    environ, dotenv, blamed, fixed = _WORKER_ORIGINS[origin]
    sandbox.write_cluster()
    sandbox.project.env_file.write_text(dotenv)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    env_file = str(sandbox.project.env_file)

    with pytest.raises(ConfigError) as caught:
        sandbox.config(workers=30 if origin == "flag" else None)

    assert caught.value.message.startswith(blamed.format(env_file=env_file) + ": ")
    assert "services.worker.count" not in caught.value.message
    assert fixed.format(env_file=env_file) in caught.value.fix


def test_a_worker_count_from_the_flag_without_a_worker_service_names_the_flag_in_the_fix(sandbox: Sandbox) -> None:
    sandbox.write_topology({"orchestration": service("orchestration", 1, sandbox.base)})

    with pytest.raises(ConfigError) as caught:
        sandbox.config(workers=2)

    assert "--workers" in caught.value.fix
    assert "TASKER_WORKER_INSTANCES" not in caught.value.fix


def test_a_negative_count_in_dotenv_names_the_line_to_edit(sandbox: Sandbox) -> None:
    sandbox.write_cluster()
    sandbox.project.env_file.write_text("TASKER_WORKER_INSTANCES=-1\n")

    with pytest.raises(ConfigError) as caught:
        sandbox.config()

    assert f"TASKER_WORKER_INSTANCES in {sandbox.project.env_file}" in caught.value.message
    assert str(sandbox.project.env_file) in caught.value.fix


@pytest.mark.parametrize(
    ("args", "env", "blamed"),
    [
        (("--workers", "30"), {}, "--workers 30"),
        ((), {"TASKER_ORCHESTRATION_INSTANCES": "30"}, "TASKER_ORCHESTRATION_INSTANCES in the environment"),
    ],
)
def test_cli_blames_the_origin_of_a_bad_count_with_exit_2_and_no_traceback(
    sandbox: Sandbox, args: tuple[str, ...], env: dict[str, str], blamed: str
) -> None:
    sandbox.write_cluster()

    result = sandbox.cli("config", *args, env=env)

    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {blamed}: ")
    assert "\n  fix: " in result.stderr and "Traceback" not in result.stderr
