"""How many times a real `cluster` command opens given files: counted by an audit hook in its own interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from tasker_cluster.project import Project

# Every open goes through the `open` audit event: builtins.open, io.open, Path.read_text and os.open alike.
_COUNT_OPENS = (
    "import json, os, sys\n"
    "root, watched = sys.argv[1], dict.fromkeys(json.loads(sys.argv[2]), 0)\n"
    "def hook(event, args):\n"
    "    if event == 'open' and isinstance(args[0], (str, os.PathLike)) and os.fspath(args[0]) in watched:\n"
    "        watched[os.fspath(args[0])] += 1\n"
    "sys.addaudithook(hook)\n"
    "from tasker_cluster.cli.app import main\n"
    "sys.argv = ['cluster', '--project-dir', root, *sys.argv[3:]]\n"
    "try:\n    main()\nexcept SystemExit:\n    pass\n"
    "print('OPENS', json.dumps(list(watched.values())))\n"
)


def count_opens(
    project: Project, files: Sequence[Path], *command: str
) -> tuple[list[int], subprocess.CompletedProcess[str]]:
    """(times each of `files` was opened, in order; the run) for `cluster COMMAND...` in `project`."""
    result = subprocess.run(
        [sys.executable, "-c", _COUNT_OPENS, str(project.root), json.dumps([str(path) for path in files]), *command],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    last = result.stdout.splitlines()[-1] if result.stdout else ""
    assert last.startswith("OPENS "), result.stdout + result.stderr
    return json.loads(last.removeprefix("OPENS ")), result
