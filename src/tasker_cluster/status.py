"""`cluster status`: every instance's process state plus its health and ready answers, probed concurrently."""

from __future__ import annotations

from tasker_cluster.inventory import (
    Configured,
    Entry,
    InstanceStatus,
    dead_detail,
    entries,
    with_process,
    without_process,
)
from tasker_cluster.pidfiles import InstanceRecord, Liveness, liveness, read_records
from tasker_cluster.probes import ProbeResult, probe_many
from tasker_cluster.project import Project
from tasker_cluster.topology import Topology

DEFAULT_TIMEOUT = 2.0


def cluster_status(project: Project, topology: Topology, timeout: float = DEFAULT_TIMEOUT) -> list[InstanceStatus]:
    """One row per configured or recorded instance; all probes share one `timeout`, so hung instances cost one."""
    configured = [Configured(i.name, i.service, i.role, i.port, i.url) for i in topology.instances]
    rows = entries(configured, read_records(project))
    states = {row.name: liveness(row.record) if row.record else None for row in rows}
    alive = [row.record for row in rows if row.record and states[row.name] is Liveness.ALIVE]
    answers = probe_many([url for record in alive for url in (record.health_url, record.ready_url)], timeout)
    probed = {record.name: (answers[2 * position], answers[2 * position + 1]) for position, record in enumerate(alive)}
    return [_status_of(row, states[row.name], probed.get(row.name)) for row in rows]


def _status_of(row: Entry, state: Liveness | None, probes: tuple[ProbeResult, ProbeResult] | None) -> InstanceStatus:
    if row.record is None and not row.unreadable:
        return without_process(row, "stopped")
    if row.record is None or probes is None:
        return without_process(row, "dead", dead_detail(row, state is Liveness.REUSED))
    health, ready = probes
    return _probed(row.record, health, ready)


def _probed(record: InstanceRecord, health: ProbeResult, ready: ProbeResult) -> InstanceStatus:
    provisional = with_process(record, "starting")
    in_startup = (provisional.uptime_s or 0.0) < record.startup_timeout
    if health.ok and ready.ok:
        status, detail = "healthy", ""
    elif not health.answered:
        status, detail = ("starting" if in_startup else "unhealthy"), f"health: {health.error}"
    elif not health.ok:
        status, detail = "unhealthy", f"health answered {health.status_code}"
    else:
        answer = ready.status_code if ready.answered else ready.error
        status, detail = ("starting" if in_startup else "unhealthy"), f"ready: {answer}"
    failing = next((probe for probe in (health, ready) if probe.answered and not probe.ok), None)
    shown = failing or (ready if ready.answered else health)
    latencies = [probe.latency_ms for probe in (health, ready) if probe.latency_ms is not None]
    return with_process(
        record,
        status,
        http_status=shown.status_code,
        latency_ms=max(latencies) if latencies else None,
        detail=detail,
    )
