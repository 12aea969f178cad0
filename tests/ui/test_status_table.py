"""Piped output is written without Rich, and is byte for byte what Rich prints there."""

from __future__ import annotations

import io
import random

import pytest
from rich.console import Console
from rich.text import Text

from tasker_cluster.cluster.status import DatabaseRow, InstanceStatus, Resources
from tasker_cluster.ui.console import print_line
from tasker_cluster.ui.status import plain_table, status_cells, status_table

_STATUSES = ("healthy", "unhealthy", "starting", "running", "dead", "stopped")
_DETAILS = ("", "health: timeout", "ready: 503", "the PID file outlived its process", "health answered 500")


def _rich(renderable: object, *, soft_wrap: bool = False, width: int = 140) -> str:
    """What the ui's Rich path writes to a pipe: 140 columns, no colour, lines right-stripped."""
    out = Console(file=io.StringIO(), width=width, highlight=False, force_terminal=False)
    with out.capture() as captured:
        out.print(renderable, soft_wrap=soft_wrap)
    return "".join(line.rstrip() + "\n" for line in captured.get().splitlines())


def _random_rows(rng: random.Random) -> list[InstanceStatus]:
    rows = []
    for index in range(rng.randrange(0, 25)):
        status = rng.choice(_STATUSES)
        running = status not in ("dead", "stopped")
        rows.append(
            InstanceStatus(
                name=f"{rng.choice(['orchestration', 'worker-a', 'w', 'a-very-long-service-name'])}-{index + 1}",
                service="s",
                role="worker",
                status=status,
                pid=rng.choice([None, rng.randrange(1, 4_000_000)]),
                port=rng.choice([None, rng.randrange(1024, 65536)]),
                url=None,
                uptime_s=rng.choice([None, rng.uniform(0, 400_000)]) if running else None,
                http_status=rng.choice([None, 200, 503]),
                latency_ms=rng.choice([None, rng.uniform(0, 3000)]),
                detail=rng.choice(_DETAILS),
                resources=rng.choice([None, Resources(rng.uniform(0, 400), 0.2, rng.randrange(0, 1 << 34))]),
            )
        )
    return rows


def _random_database(rng: random.Random) -> DatabaseRow | None:
    kind = rng.choice([None, "local", "external"])
    if kind is None:
        return None
    status = rng.choice(["healthy", "unhealthy", "running", "stopped", "dead", "unknown"])
    latency = rng.choice([None, rng.uniform(0, 50)])
    resources = rng.choice([None, Resources(rng.uniform(0, 100), 1.0, rng.randrange(0, 1 << 32))])
    return DatabaseRow(
        kind, status, rng.choice([None, 4242]), 5433, None, latency, detail="3/500 connections", resources=resources
    )


@pytest.mark.parametrize("seed", range(40))
def test_the_plain_status_table_is_byte_for_byte_what_rich_prints_to_a_pipe(seed: int) -> None:
    rng = random.Random(seed)
    rows, database = _random_rows(rng), _random_database(rng)

    plain = plain_table(status_cells(rows, database))

    assert plain is not None
    assert plain == _rich(status_table(rows, database))


def test_rows_plain_text_cannot_lay_out_like_rich_are_left_to_rich() -> None:
    long = InstanceStatus("worker-1", "w", "worker", "unhealthy", 1, 8100, None, 1.0, detail="x" * 200)
    wide = InstanceStatus("worker-é", "w", "worker", "dead", 1, 8100, None, None, detail="exited: ✗")

    assert plain_table(status_cells([long])) is None
    assert plain_table(status_cells([wide])) is None


_LINES = ["worker-1           spawned      pid 4242", "cluster  lock-wait   waiting ", "x" * 200]


@pytest.mark.parametrize("line", _LINES)
def test_a_piped_progress_line_is_what_rich_prints_for_it(line: str, capsys: pytest.CaptureFixture[str]) -> None:
    print_line(line)

    assert capsys.readouterr().out == _rich(Text(line.rstrip()), soft_wrap=True)


@pytest.mark.parametrize(
    ("percent", "rss", "cells"),
    [(0.04, 900, ("0.0%", "900 B")), (7.25, 20 << 20, ("7.2%", "20 MiB")), (182.4, 3 << 29, ("182%", "1.5 GiB"))],
)
def test_cpu_and_rss_are_short_and_keep_one_decimal_where_it_says_something(
    percent: float, rss: int, cells: tuple[str, str]
) -> None:
    row = InstanceStatus(
        "w-1", "w", "worker", "healthy", 1, 8100, None, 1.0, 200, 1.0, resources=Resources(percent, 0.2, rss)
    )

    assert status_cells([row])[0][5:7] == cells


def _cluster_rows() -> list[InstanceStatus]:
    """Six running instances as `status` shows them, one of them paused (a reason in its HEALTH cell)."""
    rows = []
    for index, name in enumerate(["orchestration-1", "orchestration-2", "worker-a-1", "worker-a-2", "worker-b-1"]):
        rows.append(
            InstanceStatus(
                name,
                "s",
                "worker",
                "healthy",
                14593 + index,
                23000 + index,
                None,
                61.0,
                200,
                12.0,
                resources=Resources(17.0, 0.2, 57 << 20),
            )
        )
    paused = "stopped by a signal: kill -CONT -- -14599"
    rows.append(
        InstanceStatus("worker-b-2", "s", "worker", "paused", 14599, 23013, None, 61.0, None, None, detail=paused)
    )
    return rows


_DATABASE = DatabaseRow("local", "healthy", 14576, 23050, 62.0, 28.0, detail="19/500 connections")


@pytest.mark.parametrize(
    ("width", "header"),
    [
        (80, ["INSTANCE", "STATUS", "PID", "PORT", "UPTIME", "CPU", "RSS", "HEALTH"]),
        (60, ["INSTANCE", "STATUS", "PID", "PORT", "UPTIME", "HEALTH"]),
        (40, ["INSTANCE", "STATUS", "HEALTH"]),
    ],
)
def test_a_narrow_page_drops_resources_then_uptime_port_and_pid_and_keeps_every_health_word(
    width: int, header: list[str]
) -> None:
    rows = _cluster_rows()

    lines = _rich(status_table(rows, _DATABASE, width=width), width=width).splitlines()

    assert lines[0].split() == header
    assert "…" not in "".join(lines) and max(len(line) for line in lines) <= width
    start = lines[0].index("HEALTH")
    health = " ".join(line[start:].strip() for line in lines[1:])
    assert health.startswith("SQL 28 ms, 19/500 connections 200 12 ms")
    assert health.endswith("stopped by a signal: kill -CONT -- -14599")
    names = [line.split()[0] for line in lines[1:] if not line.startswith(" ")]
    assert names == ["database", *(row.name for row in rows)]
