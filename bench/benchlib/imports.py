"""What a command imports and what each import costs, read from `python -X importtime`."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from benchlib.fleet import clean_env
from benchlib.paths import PYTHON

_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)$")


@dataclass(frozen=True)
class ImportCost:
    module: str
    self_us: int
    cumulative_us: int
    depth: int


def import_profile(script: str, args: Sequence[str], ok_codes: Sequence[int] = (0,)) -> list[ImportCost]:
    """Every module `python -X importtime script args` imports, in import order."""
    completed = subprocess.run(
        [PYTHON, "-X", "importtime", script, *args], capture_output=True, text=True, env=clean_env(), check=False
    )
    if completed.returncode not in ok_codes:
        raise RuntimeError(f"{script} exited {completed.returncode}: {completed.stderr[-2000:]}")
    costs = []
    for line in completed.stderr.splitlines():
        match = _LINE.match(line)
        if match:
            own, cumulative, indent, module = match.groups()
            costs.append(ImportCost(module, int(own), int(cumulative), (len(indent) - 1) // 2))
    return costs


def loaded(costs: Sequence[ImportCost], prefixes: Sequence[str]) -> list[str]:
    """Which of `prefixes` (packages or modules) were imported, themselves or through a submodule."""
    names = {cost.module for cost in costs}
    return [prefix for prefix in prefixes if any(name == prefix or name.startswith(prefix + ".") for name in names)]


def top_level(costs: Sequence[ImportCost], count: int) -> list[ImportCost]:
    """The costliest imports made directly by the program (depth 0), by cumulative time."""
    return sorted((cost for cost in costs if cost.depth == 0), key=lambda cost: -cost.cumulative_us)[:count]
