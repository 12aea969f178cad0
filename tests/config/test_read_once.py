"""config/cluster.toml and .env are each read at most once per command: counted by an audit hook in the real CLI."""

from __future__ import annotations

import subprocess
import sys

import pytest

from support.sandbox import Sandbox

_COUNT_OPENS = (
    "import os, sys\n"
    "watched = {sys.argv[1] + '/config/cluster.toml': 0, sys.argv[1] + '/.env': 0}\n"
    "def hook(event, args):\n"
    "    if event == 'open' and isinstance(args[0], (str, os.PathLike)) and os.fspath(args[0]) in watched:\n"
    "        watched[os.fspath(args[0])] += 1\n"
    "sys.addaudithook(hook)\n"
    "from tasker_cluster.cli.app import main\n"
    "sys.argv = ['cluster', '--project-dir', *sys.argv[1:]]\n"
    "try:\n    main()\nexcept SystemExit:\n    pass\n"
    "print('OPENS', sorted(watched.values()))\n"
)


@pytest.mark.parametrize(
    "command",
    [["start-all"], ["status-quick"], ["status", "--timeout", "0.5"], ["logs", "-n", "1"], ["stop"], ["db", "url"]],
    ids=lambda command: " ".join(command),
)
def test_a_command_reads_each_configuration_file_at_most_once(sandbox: Sandbox, command: list[str]) -> None:
    sandbox.write_cluster(orchestration=1, workers=1)
    sandbox.project.env_file.write_text("TASKER_WORKER_INSTANCES=1\nMY_KEY=mine\n")

    result = subprocess.run(
        [sys.executable, "-c", _COUNT_OPENS, str(sandbox.root), *command], capture_output=True, text=True, check=False
    )

    assert result.stdout.splitlines()[-1] == "OPENS [1, 1]", result.stdout + result.stderr
