"""A benchmark's outcome: tables for people, targets with pass/miss, raw samples; printed with Rich, saved as JSON."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchlib.paths import REPO, RESULTS


@dataclass
class Target:
    """One bar from the issue: what it demands, what was measured, and whether it holds (None: not measurable)."""

    name: str
    bar: str
    measured: str
    passed: bool | None

    @property
    def verdict(self) -> str:
        return {True: "pass", False: "miss", None: "n/a"}[self.passed]


@dataclass
class Section:
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)


@dataclass
class Result:
    bench: str
    question: str
    quick: bool
    sections: list[Section] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None
    # Starts of a contender that failed (then retried on fresh ports so the run could finish): each one is a miss.
    failed_starts: list[str] = field(default_factory=list)

    def section(self, title: str, columns: list[str]) -> Section:
        self.sections.append(Section(title, columns))
        return self.sections[-1]

    def target(self, name: str, bar: str, measured: str, passed: bool | None) -> None:
        self.targets.append(Target(name, bar, measured, passed))

    def all_targets(self) -> list[Target]:
        """The bench's targets, and a miss when a contender's start failed: its figures are not a clean run."""
        if not self.failed_starts:
            return list(self.targets)
        failed = Target(
            f"{self.bench}: every contender started at its first try",
            "0 failed starts",
            f"{len(self.failed_starts)} failed: " + "; ".join(self.failed_starts),
            False,
        )
        return [*self.targets, failed]

    def as_json(self) -> dict[str, Any]:
        return {
            "bench": self.bench,
            "question": self.question,
            "mode": "quick" if self.quick else "full",
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "source": source(),
            "machine": machine(),
            "skipped": self.skipped,
            "sections": [{"title": s.title, "columns": s.columns, "rows": s.rows} for s in self.sections],
            "targets": [{**t.__dict__, "verdict": t.verdict} for t in self.all_targets()],
            "failed_starts": self.failed_starts,
            "notes": self.notes,
            "raw": self.raw,
        }


def source() -> dict[str, Any]:
    """Which code was measured: the commit checked out, and whether the work tree differed from it."""

    def git(*args: str) -> str:
        completed = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
        return completed.stdout.strip() if completed.returncode == 0 else ""

    return {
        "commit": git("rev-parse", "HEAD") or "unknown",
        "commit_date": git("log", "-1", "--format=%cI"),
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
    }


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "loadavg_at_end": [round(value, 2) for value in load],
    }


def publish(result: Result, console: Console | None = None) -> Path:
    """Print every table and write `bench/results/<bench>.json`; returns the JSON path."""
    out = console or Console(width=None if sys.stdout.isatty() else 140)
    out.print(f"\n[bold]{result.bench}[/bold]: {result.question}")
    if result.skipped:
        out.print(f"[yellow]skipped:[/yellow] {result.skipped}")
    for section in result.sections:
        table = Table(title=section.title, title_justify="left", header_style="bold")
        for column in section.columns:
            table.add_column(column)
        for row in section.rows:
            table.add_row(*row)
        out.print(table)
    if result.all_targets():
        out.print(targets_table(result.all_targets()))
    for note in result.notes:
        out.print(f"note: {note}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{result.bench}.json"
    path.write_text(json.dumps(result.as_json(), indent=2) + "\n")
    out.print(f"[dim]wrote {path}[/dim]")
    return path


def targets_table(targets: list[Target], title: str = "targets") -> Table:
    table = Table(title=title, title_justify="left", header_style="bold")
    for column in ("target", "bar", "measured", "verdict"):
        table.add_column(column)
    styles = {"pass": "green", "miss": "red", "n/a": "yellow"}
    for target in targets:
        verdict = f"[{styles[target.verdict]}]{target.verdict}[/]"
        table.add_row(target.name, target.bar, target.measured, verdict)
    return table
