"""The one output policy of every command: when to colour, how wide, what a reader that went away does, and what a
character the output's encoding cannot write becomes.

Rich draws on a terminal (and decides colours: a terminal, FORCE_COLOR, its colour system, NO_COLOR). Piped output,
the kind scripts and loops read, is written as plain text without importing Rich wherever plain text renders the
same, byte for byte (tests compare them). A reader that goes away (`| head`) ends the display, never the command:
later output is discarded, the work goes on, the exit code is the command's own. Output in an encoding that lacks a
character (PYTHONIOENCODING=latin-1, a terminal set to ASCII) shows "?" for it, never fails.
"""

from __future__ import annotations

import os
import sys
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

# Wide enough for the status table when output is piped, where Rich would otherwise assume 80 columns.
PIPE_WIDTH = 140
# A terminal whose width is unknown: it reports 0 columns (a pty nobody sized, as under `script`, or COLUMNS=0).
# 80 is the fallback of Rich and of shutil.get_terminal_size for the same case.
UNKNOWN_WIDTH = 80
# The colour of each state word, wherever a state is printed (status tables, start and stop lines, watch).
STATUS_STYLES = {
    "healthy": "green",
    "running": "green",
    "ready": "green",
    "starting": "yellow",
    "paused": "yellow",
    "started": "yellow",
    "spawned": "yellow",
    "unhealthy": "red",
    "dead": "red",
    "stopped": "dim",
    "gone": "dim",
    "left-running": "yellow",
    "unknown": "dim",
}
# Set once stdout's reader has gone (see `discard_stdout`).
_closed = False


def tolerate_unencodable() -> None:
    """Make stdout and stderr write "?" for characters their encoding cannot write, instead of raising
    UnicodeEncodeError; an error handler the user chose (PYTHONIOENCODING=ascii:backslashreplace) is kept.

    Called first by every command: log lines, instance names and messages may hold any character.
    """
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")


def write_out(text: str) -> None:
    """Write `text` to stdout at once; if its reader has gone, discard this and all later output.

    Flushed on every call: a broken pipe found only by the flush at exit would print a traceback-like warning.
    """
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        discard_stdout()


def write_err(text: str) -> None:
    """Write `text` to stderr as it is (errors, warnings): no markup, no colour."""
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except BrokenPipeError:
        pass


def discard_stdout() -> None:
    """Point file descriptor 1 at /dev/null: Python's documented answer to EPIPE, so later writes succeed unseen."""
    global _closed
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)
    _closed = True


def output_closed() -> bool:
    """True once stdout's reader went away: a display that only runs for its reader (a watch) may end."""
    return _closed


def plain_output() -> bool:
    """True when Rich would print to stdout without colours or terminal controls: a pipe or a file."""
    forced = os.environ.get("TTY_COMPATIBLE") == "1" or bool(os.environ.get("FORCE_COLOR"))
    return not forced and not sys.stdout.isatty()


def console(*, stderr: bool = False) -> Console:
    """A Rich console on stdout (or stderr) that goes quiet instead of exiting when its reader leaves."""
    stream = sys.stderr if stderr else sys.stdout
    out = _tolerant_console_class()(file=stream, width=None if stream.isatty() else PIPE_WIDTH, highlight=False)
    if out.width <= 0:
        # Rich takes COLUMNS=0 at its word and would draw every table as nothing at all.
        out.width = UNKNOWN_WIDTH
    return out


def print_table(table: object) -> None:
    """A Rich table (or any renderable) on stdout without the spaces Rich pads each line's last cell with, so that
    no line ends in spaces (colours kept on a terminal: the padding comes after the last style's reset)."""
    out = console()
    with out.capture() as captured:
        out.print(table)
    write_out("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))


def print_line(line: str, style_span: tuple[int, int, str] | None = None, *, stderr: bool = False) -> None:
    """One line of progress or outcome; `style_span` (start, end, style) colours part of it on a terminal."""
    line = line.rstrip()
    if not stderr and plain_output() and line.isascii() and line.isprintable():
        write_out(line + "\n")
        return
    from rich.text import Text

    text = Text(line)
    if style_span is not None and style_span[2]:
        text.stylize(style_span[2], style_span[0], style_span[1])
    console(stderr=stderr).print(text, soft_wrap=True)


@cache
def _tolerant_console_class() -> type[Console]:
    from rich.console import Console

    class TolerantConsole(Console):
        """Rich's own answer to a closed pipe is SystemExit, which would stop a start half-way; this only goes quiet."""

        def on_broken_pipe(self) -> None:
            self.quiet = True
            discard_stdout()

    return TolerantConsole
