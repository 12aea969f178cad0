"""Run every benchmark one after another, then print and save the table of targets: where each one stands.

    .venv/bin/python bench/run_all.py [--quick] [--only NAME ...]

Each script also runs alone (`bench/start_all.py --quick`). Results go to bench/results/<name>.json; the summary to
bench/results/summary.json and summary.md (a Markdown table to paste into the README's performance section).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

from rich.console import Console

from benchlib.paths import BENCH, PYTHON, REPO, RESULTS
from benchlib.report import Target, machine, targets_table

SCRIPTS = ("status_quick", "status_hung", "start_all", "stop", "throughput", "memory")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="few repetitions: a couple of minutes in all")
    parser.add_argument("--only", nargs="+", choices=SCRIPTS, help="run only these benchmarks")
    args = parser.parse_args()
    console = Console(width=None if sys.stdout.isatty() else 140)
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
        "machine": machine(),
        "benches": {name: {"status": o["status"], "seconds": round(o["seconds"], 1)} for name, o in outcomes.items()},
        "targets": targets,
    }


def markdown(summary: dict[str, Any]) -> str:
    host = summary["machine"]
    lines = [
        f"Measured by `bench/run_all.py` ({summary['mode']} mode) on {host['cpus']} cores, Python {host['python']}; "
        "medians with min-max, ratios paired run by run.",
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
