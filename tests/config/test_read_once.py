"""config/cluster.toml and .env are each read at most once per command: counted by an audit hook in the real CLI."""

from __future__ import annotations

import pytest

from support.opens import count_opens
from support.sandbox import Sandbox


@pytest.mark.parametrize(
    "command",
    [["start-all"], ["status-quick"], ["status", "--timeout", "0.5"], ["logs", "-n", "1"], ["stop"], ["db", "url"]],
    ids=lambda command: " ".join(command),
)
def test_a_command_reads_each_configuration_file_at_most_once(sandbox: Sandbox, command: list[str]) -> None:
    sandbox.write_cluster(orchestration=1, workers=1)
    sandbox.project.env_file.write_text("TASKER_WORKER_INSTANCES=1\nMY_KEY=mine\n")

    opens, result = count_opens(sandbox.project, [sandbox.project.config_file, sandbox.project.env_file], *command)

    assert opens == [1, 1], result.stdout + result.stderr
