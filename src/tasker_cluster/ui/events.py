"""The lines of `start-all`/`start`, `stop` and `restart`: a live table of instance states on a terminal, one plain
line per event otherwise (logs, CI); the start failure's message and fix; one line per stopped instance."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, get_args

from tasker_cluster.cluster.start_results import SUCCESSFUL, StartOutcome
from tasker_cluster.config.model import DATABASE_ROW_NAME
from tasker_cluster.ui.console import STATUS_STYLES, console, plain_output, print_line, write_err
from tasker_cluster.words import counted

if TYPE_CHECKING:
    from rich.live import Live
    from rich.table import Table

    from tasker_cluster.cluster.restart import RestartReport
    from tasker_cluster.cluster.start_results import InstanceStart, StartEvent, StartReport
    from tasker_cluster.cluster.stop import InstanceStop


class StartProgress:
    """Live table of instance states on a terminal; one plain line per event otherwise (logs, CI)."""

    def __init__(self, names: Sequence[str]) -> None:
        self._states = {name: ("pending", "") for name in names}
        self._live: Live | None = None

    def __enter__(self) -> StartProgress:
        if not plain_output():
            out = console()
            if out.is_terminal:
                from rich.live import Live

                self._live = Live(self._table(), console=out, refresh_per_second=20, transient=False)
                self._live.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.update(self._table())
            self._live.__exit__(kind, error, traceback)

    def started(self) -> list[str]:
        """The instances this start spawned, ready or not yet."""
        return [name for name, (kind, _) in self._states.items() if kind in ("spawned", "ready")]

    def down(self) -> list[str]:
        """The instances a restart has stopped (or is stopping) and not yet started again."""
        return [name for name, (kind, _) in self._states.items() if kind in _DOWN]

    def stopping(self, names: Sequence[str]) -> None:
        """A restart's stop has signalled `names`: shown on the live table only (a plain line comes with the
        outcome)."""
        for name in names:
            self._states[name] = ("stopping", "")
        if self._live is not None:
            self._live.update(self._table())

    def stopped(self, result: InstanceStop) -> None:
        """A restart's stop outcome, as `stop` prints it."""
        self._states[result.name] = (result.outcome, _pid_text(result.pid))
        if self._live is not None:
            self._live.update(self._table())
        else:
            print_stop_line(result)

    def __call__(self, event: StartEvent) -> None:
        if event.name in self._states:
            self._states[event.name] = (event.kind, event.detail)
        if self._live is not None:
            from rich.text import Text

            self._live.update(self._table())
            if event.kind in ("lock-wait", "database"):
                self._live.console.print(Text(event.detail))
            return
        if event.kind == "database":
            # The database's announcements are whole sentences; a kind column would only repeat "database".
            print_line(f"{DATABASE_ROW_NAME:<18} {event.detail}")
        else:
            print_line(f"{event.name or 'cluster':<18} {event.kind:<12} {event.detail}")

    def _table(self) -> Table:
        from rich.table import Table
        from rich.text import Text

        table = Table(box=None, show_header=False, pad_edge=False)
        table.add_column(no_wrap=True)
        table.add_column(no_wrap=True)
        table.add_column()
        for name, (state, detail) in self._states.items():
            style = STATUS_STYLES.get(state, "red" if _failed(state) else "")
            table.add_row(name, Text(state, style=style), Text(detail))
        return table


def print_interrupted_start(started: Sequence[str]) -> None:
    """After Ctrl-C: what was spawned is recorded and keeps running (its own session); say so."""
    if started:
        them = "it" if len(started) == 1 else "them"
        write_err(
            f"interrupted: {counted(len(started), 'instance')} started and still running ({', '.join(started)}); "
            f"`cluster status` shows {them}, `cluster stop` stops {them}\n"
        )


def print_interrupted_restart(down: Sequence[str], started: Sequence[str]) -> None:
    """After Ctrl-C in a restart: which instances it left stopped, and which it started (still running)."""
    if down:
        write_err(
            f"interrupted: {', '.join(down)} stopped and not started again; `cluster start {' '.join(down)}` "
            "starts them\n"
        )
    print_interrupted_start(started)


def restart_summary(report: RestartReport) -> str:
    count = len(report.restarted)
    return f"{count} restarted{' one at a time' if report.rolling and count > 1 else ''}"


def restart_failure(report: RestartReport) -> tuple[str, str]:
    """The message and fix of a restart that did not end with every instance ready: what failed (as `stop` or
    `start` words it) and, for a roll, where it stopped, what it restarted and what it did not reach."""
    step = report.failed
    assert step is not None
    if step.stop_failed:
        survivors = step.stop_failed
        message = "; ".join(f"{result.name}: {result.detail}" for result in survivors)
        fix = "a process in uninterruptible sleep (state D) cannot be killed; check `ps -o pid,stat,cmd` and retry"
    else:
        assert step.started is not None
        message = start_failure_message(step.started.failed)
        fix = start_failure_fix(step.started.failed)
    if not report.rolling:
        return message, fix
    done = ", ".join(report.restarted) or "none"
    rest = ", ".join(report.not_reached) or "none"
    message = (
        f"the rolling restart stopped at {step.names[0]}: {message}\n"
        f"restarted: {done}; not reached (still running as before): {rest}"
    )
    if report.not_reached:
        fix += f"; `cluster restart --rolling {' '.join([*step.names, *report.not_reached])}` completes the roll"
    return message, fix


def start_summary(report: StartReport) -> str:
    counts: dict[str, int] = {}
    for instance in report.instances:
        counts[instance.outcome] = counts.get(instance.outcome, 0) + 1
    return ", ".join(f"{count} {outcome}" for outcome, count in counts.items()) or "nothing to start"


def start_failure_message(failed: Sequence[InstanceStart]) -> str:
    """One block per failed instance: what happened, and the last lines of its log."""
    blocks = []
    for instance in failed:
        block = f"{instance.name}: {instance.outcome}: {instance.detail}"
        if instance.log_tail:
            tail = "\n".join(f"    | {line}" for line in instance.log_tail)
            block += f"\n  last lines of {instance.log}:\n{tail}"
        elif instance.log and instance.outcome in ("exited", "timeout"):
            block += f"\n  ({instance.log} has no output from this run)"
        blocks.append(block)
    return f"{counted(len(failed), 'instance')} failed to start:\n" + "\n".join(blocks)


def start_failure_fix(failed: Sequence[InstanceStart]) -> str:
    fixes = []
    outdated = [instance.name for instance in failed if instance.outcome == "outdated"]
    if outdated:
        fixes.append(f"restart what runs from an earlier topology: `cluster restart {' '.join(outdated)}`")
    left = [instance.name for instance in failed if instance.outcome == "left-behind"]
    if left:
        fixes.append(f"stop what their last run left behind: `cluster stop {' '.join(left)}`")
    if any(instance.outcome == "port-taken" for instance in failed):
        fixes.append("stop the process named as holding the port, or give the service another base_port")
    if any(instance.outcome in _FIX_IN_MESSAGE for instance in failed):
        fixes.append("change what each message names")
    # A spawn that failed names its own fix; it never ran, so it has no log lines to point at.
    fixes += dict.fromkeys(instance.fix for instance in failed if instance.outcome == "spawn-failed" and instance.fix)
    exited = [instance for instance in failed if instance.outcome == "exited"]
    if any(instance.log_tail for instance in exited):
        fixes.append("read the log lines above (or `cluster logs NAME`) and fix the cause")
    elif exited:
        fixes.append("find why it exits without a word (`cluster config` shows the command it runs) and fix the cause")
    return "; ".join(fixes) + ", then run the command again"


def print_start_warnings(report: StartReport) -> None:
    """What started but should not be so (a command that backgrounds itself), and what runs outside the topology:
    one `warning:` line each on stderr, so that nothing differs from the topology unseen."""
    for instance in report.instances:
        if instance.note:
            write_err(f"warning: {instance.name}: {instance.note}\n")
    if report.extra:
        names = " ".join(record.name for record in report.extra)
        each = ", ".join(f"{record.name} (pid {record.pid}, port {record.port})" for record in report.extra)
        verb, it = ("runs", "it") if len(report.extra) == 1 else ("run", "them")
        write_err(f"warning: {each} {verb} but the topology no longer has {it}: `cluster stop {names}` stops {it}\n")


def print_stop(results: Sequence[InstanceStop], database: InstanceStop | None = None) -> None:
    """One line per instance, then one for the database when it was stopped or deliberately left running."""
    if not results:
        print_line("nothing to stop: no instance has a PID file")
    for result in [*results, *([database] if database is not None else [])]:
        print_stop_line(result)


def print_stop_line(result: InstanceStop) -> None:
    style = "red" if result.outcome == "survived" else STATUS_STYLES.get(result.outcome, "")
    start = len(f"{result.name:<18} ")
    line = f"{result.name:<18} {result.outcome:<12} {_pid_text(result.pid):<11} {result.detail}"
    print_line(line, (start, start + max(len(result.outcome), 12), style))


def _pid_text(pid: int | None) -> str:
    return f"pid {pid}" if pid is not None else ""


_DOWN = frozenset({"stopping", "stopped", "killed", "stale", "not-running"})
# Outcomes whose message names the key or the cause to change.
_FIX_IN_MESSAGE = frozenset({"redirect", "wrong-address", "probe-error", "unhealthy", "timeout"})
# Every start outcome but success, from their one declaration (cluster/start_results.py).
_START_FAILURES = frozenset(get_args(StartOutcome)) - SUCCESSFUL


def _failed(state: str) -> bool:
    return state in _START_FAILURES or state == "survived"
