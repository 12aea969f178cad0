"""A `.env` line python-dotenv cannot parse is one error naming the file, the line and the fix, as docker compose
refuses such a file (exit 2, nothing started), never python-dotenv's bare warnings repeated per read."""

from __future__ import annotations

from support.sandbox import Sandbox


def test_an_unparseable_env_line_is_one_error_naming_the_file_and_line(sandbox: Sandbox) -> None:
    sandbox.write_cluster()
    sandbox.project.env_file.write_text("GOOD=1\nthis line is not KEY=VALUE\nLAST=2\n")

    result = sandbox.cli("start-all")

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: {sandbox.project.env_file} line 2 could not be parsed: this line is not KEY=VALUE",
        '  fix: write it as KEY=VALUE (quote a value with spaces: KEY="a b"), start it with # to make it a '
        "comment, or delete it",
    ]
    assert not sandbox.project.pids_dir.exists() or not any(sandbox.project.pids_dir.iterdir())


def test_status_quick_warns_once_about_every_unparseable_line_and_still_shows_the_cluster(sandbox: Sandbox) -> None:
    sandbox.write_cluster()
    sandbox.start(["orchestration-1"])
    sandbox.project.env_file.write_text('bad one\nGOOD=1\nQUOTE="never closed\n')

    result = sandbox.cli("status-quick")

    assert result.returncode == 1
    assert "python-dotenv" not in result.stderr
    assert result.stderr.count(f"{sandbox.project.env_file}") == 1, result.stderr
    assert "line 1 could not be parsed: bad one" in result.stderr
    assert 'line 3 could not be parsed: QUOTE="never closed' in result.stderr
    assert "orchestration-1  running" in result.stdout
