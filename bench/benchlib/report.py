"""A benchmark's outcome: tables for people, targets with pass/miss, raw samples; printed with Rich, saved as JSON."""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchlib.paths import RESULTS


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

    def section(self, title: str, columns: list[str]) -> Section:
        self.sections.append(Section(title, columns))
        return self.sections[-1]

    def target(self, name: str, bar: str, measured: str, passed: bool | None) -> None:
        self.targets.append(Target(name, bar, measured, passed))

    def as_json(self) -> dict[str, Any]:
        return {
            "bench": self.bench,
            "question": self.question,
            "mode": "quick" if self.quick else "full",
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "skipped": self.skipped,
            "sections": [{"title": s.title, "columns": s.columns, "rows": s.rows} for s in self.sections],
            "targets": [{**t.__dict__, "verdict": t.verdict} for t in self.targets],
            "notes": self.notes,
            "raw": self.raw,
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
    if result.targets:
        out.print(targets_table(result.targets))
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
