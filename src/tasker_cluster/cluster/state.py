"""What `status` and `status-quick` list: the database first, the configured instances, then other recorded ones.

An instance started with a larger count than the file's keeps its record, so it is listed until stopped.
Import-light (no pydantic, no httpx): status-quick uses it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, NamedTuple

from tasker_cluster.proc.records import InstanceRecord, Records

STATUSES = ("healthy", "unhealthy", "starting", "running", "dead", "stopped")
DATABASE_ROW_NAME = "database"


class Configured(NamedTuple):
    """An instance the topology names, whether or not it runs."""

    name: str
    service: str
    role: str
    port: int
    url: str


class Entry(NamedTuple):
    """One row to report: what the topology says and what the PID file says (either may be missing)."""

    name: str
    configured: Configured | None
    record: InstanceRecord | None
    unreadable: bool


class InstanceStatus(NamedTuple):
    name: str
    service: str
    role: str
    status: str
    pid: int | None
    port: int | None
    url: str | None
    uptime_s: float | None
    http_status: int | None = None
    latency_ms: float | None = None
    detail: str = ""

    def as_json(self) -> dict[str, Any]:
        """Exactly the documented `--json` shape."""
        return {
            "name": self.name,
            "service": self.service,
            "role": self.role,
            "status": self.status,
            "pid": self.pid,
            "port": self.port,
            "url": self.url,
            "uptime_s": None if self.uptime_s is None else round(self.uptime_s, 1),
            "http_status": self.http_status,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 1),
        }


class DatabaseRow(NamedTuple):
    """The database's own row, listed first: `kind` is "local" (this project's server) or "external" (DATABASE_URL).

    `status` is healthy/unhealthy (probed), running (status-quick), dead (postmaster.pid outlived its server),
    stopped, or unknown (an external server status-quick does not probe).
    """

    kind: str
    status: str
    pid: int | None
    port: int | None
    uptime_s: float | None
    latency_ms: float | None = None
    detail: str = ""
    name: str = DATABASE_ROW_NAME

    def as_json(self) -> dict[str, Any]:
        """The `"database"` object of `status --json` and `status-quick --json`."""
        return {
            "name": self.name,
            "kind": self.kind,
            "status": self.status,
            "pid": self.pid,
            "port": self.port,
            "uptime_s": None if self.uptime_s is None else round(self.uptime_s, 1),
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 1),
            "detail": self.detail,
        }


def entries(configured: Sequence[Configured], records: Records) -> list[Entry]:
    rows = [
        Entry(item.name, item, records.valid.get(item.name), item.name in records.unreadable) for item in configured
    ]
    listed = {item.name for item in configured}
    extra = sorted(
        {*records.valid, *records.unreadable} - listed,
        key=lambda name: (records.valid[name].role != "orchestration" if name in records.valid else True, name),
    )
    rows += [Entry(name, None, records.valid.get(name), name in records.unreadable) for name in extra]
    return rows


def without_process(entry: Entry, status: str, detail: str = "") -> InstanceStatus:
    """A row for an instance that is not running: `stopped`, or `dead` when its PID file outlived it."""
    item, record = entry.configured, entry.record
    return InstanceStatus(
        name=entry.name,
        service=item.service if item else (record.service if record else ""),
        role=item.role if item else (record.role if record else ""),
        status=status,
        pid=record.pid if record else None,
        port=item.port if item else (record.port if record else None),
        url=item.url if item else (record.url if record else None),
        uptime_s=None,
        detail=detail,
    )


def with_process(record: InstanceRecord, status: str, **probe: Any) -> InstanceStatus:
    return InstanceStatus(
        name=record.name,
        service=record.service,
        role=record.role,
        status=status,
        pid=record.pid,
        port=record.port,
        url=record.url,
        uptime_s=max(time.time() - record.create_time, 0.0),
        **probe,
    )


def dead_detail(entry: Entry, reused: bool) -> str:
    if entry.unreadable:
        return "the PID file holds no valid record"
    if reused:
        return "the recorded PID now belongs to another program"
    return "the PID file outlived its process"
