"""Run every benchmark one after another, then print and save the table of targets: where each one stands.

    .venv/bin/python bench/run_all.py [--quick] [--only NAME ...]
    .venv/bin/python bench/run_all.py --write-readme

Each script also runs alone (`bench/start_all.py --quick`). Results go to bench/results/<name>.json; the summary to
bench/results/summary.json and summary.md: the targets table, headed by the commit and date it measured.
`--write-readme` runs nothing: it puts the saved summary's table into README.md between its `bench-table` markers,
and refuses unless it is a full run of every bench on a clean checkout.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from benchlib.paths import BENCH, PYTHON, REPO, RESULTS
from benchlib.report import Target, machine, source, targets_table

SCRIPTS = ("status_quick", "status_hung", "start_all", "stop", "throughput", "memory", "log_writers", "recovery")
README = REPO / "README.md"
TABLE_START, TABLE_END = "<!-- bench-table:start -->", "<!-- bench-table:end -->"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few repetitions: a couple of minutes in all")
    parser.add_argument("--only", nargs="+", choices=SCRIPTS, help="run only these benchmarks")
    parser.add_argument(
        "--write-readme", action="store_true", help="run nothing: put the saved summary's table into README.md"
    )
    args = parser.parse_args()
    console = Console(width=None if sys.stdout.isatty() else 140)
    if args.write_readme:
        return write_readme(RESULTS / "summary.json", console)
    compile_sources()
    outcomes: dict[str, dict[str, Any]] = {}
    for name in args.only or SCRIPTS:
        outcomes[name] = run_script(name, args.quick, console)
    summary = summarize(outcomes, args.quick)
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (RESULTS / "summary.md").write_text(markdown(summary))
    targets = [Target(t["name"], t["bar"], t["measured"], t["passed"]) for t in summary["targets"]]
    console.print(targets_table(targets, title="all targets"))
    for name, outcome in outcomes.items():
        if outcome["status"] != "ok":
            console.print(f"[yellow]{name}: {outcome['status']}[/yellow] {outcome.get('detail', '')}")
    console.print(f"[dim]wrote {RESULTS / 'summary.json'} and {RESULTS / 'summary.md'}[/dim]")
    return 0 if all(outcome["status"] != "failed" for outcome in outcomes.values()) else 1


def write_readme(saved: Path, console: Console) -> int:
    """Replace the README's table with the saved summary's; refused for what the README must not quote."""
    if not saved.is_file():
        return _refuse(f"no saved summary at {saved}", "run `bench/run_all.py` (a full run) first")
    summary = json.loads(saved.read_text())
    problems = []
    if summary["mode"] != "full":
        problems.append("it is a quick run")
    if set(summary["benches"]) != set(SCRIPTS) or any(b["status"] != "ok" for b in summary["benches"].values()):
        problems.append("not every bench ran to the end")
    if summary["source"]["dirty"]:
        problems.append("the work tree had uncommitted changes")
    if problems:
        return _refuse(
            f"the README quotes a full run of every bench at a commit, but {'; '.join(problems)}",
            "commit, run `bench/run_all.py` (no --quick, no --only), then `bench/run_all.py --write-readme`",
        )
    text = README.read_text()
    before, start, rest = text.partition(TABLE_START)
    _, end, after = rest.partition(TABLE_END)
    if not start or not end:
        return _refuse(f"README.md has no {TABLE_START} ... {TABLE_END} block", "put them around the targets table")
    README.write_text(f"{before}{TABLE_START}\n{markdown(summary)}{TABLE_END}{after}")
    console.print(f"[dim]wrote the table of commit {summary['source']['commit'][:12]} into {README}[/dim]")
    return 0


def _refuse(problem: str, fix: str) -> int:
    print(f"error: {problem}\n  fix: {fix}", file=sys.stderr)
    return 1


def compile_sources() -> None:
    """The CLI is timed as users run it after `make bootstrap`: byte-compiled (PYTHONDONTWRITEBYTECODE is set)."""
    subprocess.run([PYTHON, "-m", "compileall", "-q", str(REPO / "src")], check=True)


def run_script(name: str, quick: bool, console: Console) -> dict[str, Any]:
    result_file = RESULTS / f"{name}.json"
    result_file.unlink(missing_ok=True)
    started = time.monotonic()
    completed = subprocess.run([PYTHON, str(BENCH / f"{name}.py"), *(["--quick"] if quick else [])], check=False)
    elapsed = time.monotonic() - started
    if completed.returncode != 0 or not result_file.exists():
        console.print(f"[red]{name} failed (exit {completed.returncode})[/red]")
        return {"status": "failed", "detail": f"exit {completed.returncode}", "seconds": elapsed}
    document = json.loads(result_file.read_text())
    if document.get("skipped"):
        return {"status": "skipped", "detail": document["skipped"], "seconds": elapsed, "document": document}
    return {"status": "ok", "seconds": elapsed, "document": document}


def summarize(outcomes: dict[str, dict[str, Any]], quick: bool) -> dict[str, Any]:
    targets = []
    for name, outcome in outcomes.items():
        document = outcome.get("document")
        if outcome["status"] != "ok" or document is None:
            targets.append(
                {
                    "bench": name,
                    "name": f"{name} (not measured)",
                    "bar": "",
                    "measured": outcome["status"] + ": " + outcome.get("detail", ""),
                    "passed": None,
                }
            )
            continue
        targets += [{"bench": name, **target} for target in document["targets"]]
    return {
        "mode": "quick" if quick else "full",
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": source(),
        "machine": machine(),
        "benches": {name: {"status": o["status"], "seconds": round(o["seconds"], 1)} for name, o in outcomes.items()},
        "targets": targets,
    }


def markdown(summary: dict[str, Any]) -> str:
    host, code = summary["machine"], summary["source"]
    changes = " plus uncommitted changes" if code["dirty"] else ""
    lines = [
        f"The {summary['mode']} run of {summary['finished_at'][:10]} at commit `{code['commit'][:12]}`{changes} "
        f"(`bench/run_all.py`)\non {host['cpus']} cores, Python {host['python']}: medians with min-max, ratios "
        "paired run by run.",
        "",
        "| target | bar | measured | verdict |",
        "|---|---|---|---|",
    ]
    verdicts = {True: "pass", False: "**miss**", None: "n/a"}
    for target in summary["targets"]:
        cells = [target["name"], target["bar"], target["measured"], verdicts[target["passed"]]]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
