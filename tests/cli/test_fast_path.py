"""The fast path takes the plain lifecycle command lines without Typer, and gives the same answer Typer would."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from typing import Any

import psutil
import pytest
import typer.main

from support.sandbox import CLUSTER, STEERING, Sandbox
from tasker_cluster.cli.app import typer_app
from tasker_cluster.cli.fast_path import COMMANDS, Flag, recognise

# Runs the Typer app itself, as `cluster` did before the fast path: the reference the fast path must match.
_THROUGH_TYPER = (
    "import sys\nfrom tasker_cluster.cli.app import typer_app\nsys.argv = ['cluster', *sys.argv[1:]]\ntyper_app()()\n"
)
# Uptimes and latencies: all two runs a moment apart may differ in.
_CLOCKS = re.compile(r"\b(\d+d \d+h|\d+h \d{2}m|\d+m \d{2}s|\d+s|\d+ ms)\b")


def _env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key not in STEERING}


def _fast(sandbox: Sandbox, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [CLUSTER, "--project-dir", str(sandbox.root), *args]
    return subprocess.run(argv, capture_output=True, text=True, env=_env(), timeout=60, check=False)


def _typer(sandbox: Sandbox, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-c", _THROUGH_TYPER, "--project-dir", str(sandbox.root), *args]
    return subprocess.run(argv, capture_output=True, text=True, env=_env(), timeout=60, check=False)


def _without_clocks(output: str) -> list[Any]:
    """Output without its uptimes and latencies."""
    if output.startswith("{"):
        document = json.loads(output)
        for row in [document["database"] or {}, *document["instances"]]:
            row.pop("uptime_s", None)
            row.pop("latency_ms", None)
        return [document]
    return [" ".join(_CLOCKS.sub("", line).split()) for line in output.splitlines()]


def test_fast_path_and_typer_print_the_same_status_and_exit_the_same(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=2, workers=2)
    assert sandbox.start(["orchestration-1", "orchestration-2", "worker-1"]).ok
    victim = sandbox.record("orchestration-2").pid
    # The handle comes first: the killed process may be reaped before a later psutil.Process() could find it.
    doomed = psutil.Process(victim)
    os.kill(victim, signal.SIGKILL)
    psutil.wait_procs([doomed], timeout=10)

    for args in (["status-quick"], ["status-quick", "--json"], ["status"], ["status", "--json", "--timeout=1"]):
        fast, slow = _fast(sandbox, *args), _typer(sandbox, *args)

        assert (fast.returncode, fast.stderr) == (slow.returncode, slow.stderr) == (1, ""), args
        assert _without_clocks(fast.stdout) == _without_clocks(slow.stdout), args
        assert "orchestration-2" in fast.stdout and "worker-2" in fast.stdout


def _minimum(param: Any) -> float | None:
    return getattr(param.type, "min", None)


def test_a_piped_status_quick_loads_neither_typer_nor_rich(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=1, workers=1)
    probe = (
        "import sys\n"
        "from tasker_cluster.cli.app import main\n"
        "sys.argv = ['cluster', '--project-dir', sys.argv[1], 'status-quick']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('LOADED', sorted({name.split('.')[0] for name in sys.modules} & {'typer', 'click', 'rich'}))\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", probe, str(sandbox.root)], capture_output=True, text=True, env=_env(), check=False
    )

    assert "LOADED []" in result.stdout, result.stdout + result.stderr


def test_fast_path_options_are_exactly_those_of_the_typer_commands() -> None:
    root = typer.main.get_command(typer_app())

    for name, shape in COMMANDS.items():
        command = root.commands[name]  # type: ignore[attr-defined]
        typer_options = {
            param.name: (tuple(param.opts), tuple(param.secondary_opts), _minimum(param), param.default)
            for param in command.params
            if param.param_type_name == "option"
        }
        fast_options = {
            option.dest: (option.names, option.off_names, None, option.default)
            if isinstance(option, Flag)
            else ((option.name,), (), option.minimum, option.default)
            for option in shape.options
        }
        arguments = [param for param in command.params if param.param_type_name == "argument"]
        names = "none" if not arguments else ("required" if arguments[0].required else "optional")

        assert fast_options == typer_options, name
        assert shape.names == names, name
    assert sorted(param.name for param in root.params) == ["debug", "project_dir"]


@pytest.mark.parametrize(
    "argv",
    [
        ["status-quick", "--help"],
        ["--help"],
        [],
        ["status-quick", "--jsn"],
        ["status-quick", "extra"],
        ["status", "--timeout", "0.01"],
        ["status", "--timeout", "1e3"],
        ["status", "--timeout", "inf"],
        ["status", "--timeout"],
        ["status", "--timeout", "1", "--timeout", "2"],
        ["status", "--json=yes"],
        ["start-all", "--workers", "-1"],
        ["start-all", "--workers", "2.5"],
        ["start"],
        ["stop", "--", "worker-1"],
        ["status-quick", "--debug"],
        ["--project-dir", "--debug", "status"],
        ["--project-dir="],
        ["logs"],
        ["db", "status"],
    ],
)
def test_fast_path_leaves_help_errors_and_unusual_forms_to_typer(argv: list[str]) -> None:
    assert recognise(argv) is None


def test_fast_path_reads_the_plain_forms_as_typer_does() -> None:
    stop = recognise(["--debug", "--project-dir=/p", "stop", "worker-1", "-y", "--timeout", "0", "api", "--with-db"])
    start = recognise(["--project-dir", "/p", "start-all", "--no-wait", "--timeout=2.5", "--workers", "4"])
    status = recognise(["status"])

    assert stop is not None and start is not None and status is not None
    assert (stop.project_dir, stop.debug) == ("/p", True)
    assert stop.values == {"names": ["worker-1", "api"], "timeout": 0.0, "with_db": True, "yes": True}
    assert start.values == {"names": [], "wait": False, "timeout": 2.5, "orchestration": None, "workers": 4}
    assert (status.project_dir, status.values) == (None, {"names": [], "as_json": False, "timeout": 2.0})


def test_a_value_typer_refuses_gets_typers_usage_error(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=1, workers=1)

    result = _fast(sandbox, "status", "--timeout", "0.01")

    assert result.returncode == 2
    assert "--timeout" in result.stderr and "0.01" in result.stderr
    assert "Traceback" not in result.stderr
