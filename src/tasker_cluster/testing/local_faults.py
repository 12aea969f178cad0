"""LocalFaults: the FaultDriver of a cluster on this machine, through its project's PID records and `cluster`.

Signals go to an instance's process group only after its PID record's identity (pid, start time, boot) was checked
against the live process, so a recycled PID is never signalled. Stops and starts run the `cluster` command
as a child with the environment the driver was given: a clean one for a throwaway cluster, the user's own for the
user's cluster (its instances must come back as the user started them).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence

from tasker_cluster.proc.records import InstanceRecord, Liveness, liveness, read_record
from tasker_cluster.project import Project
from tasker_cluster.testing.commands import ConfiguredInstance, configured_instances, run_cluster
from tasker_cluster.testing.errors import HarnessError
from tasker_cluster.testing.faults import unknown_instance

# A SIGKILLed or SIGSTOPped process changes state within milliseconds; a busy machine may take a few seconds.
_SIGNAL_WAIT = 10.0
# `cluster start` waits for readiness within the service's startup_timeout, `cluster stop` within its stop_grace.
_COMMAND_TIMEOUT = 120.0


class LocalFaults:
    """Faults in the cluster whose PID records are in `project`; child commands run with `environ`."""

    name = "local"
    restarts_crashed = False
    restarts_disturb_others = False

    def __init__(self, project: Project, environ: Mapping[str, str]) -> None:
        self.project = project
        self._environ = dict(environ)
        self._configured: list[ConfiguredInstance] | None = None

    def instances(self, role: str | None = None) -> list[str]:
        if self._configured is None:
            # Read once: the topology stays as it is for the session, whichever instances run.
            self._configured = configured_instances(self.project, env=self._environ)
        return sorted(instance.name for instance in self._configured if role is None or instance.role == role)

    def kill(self, instance: str) -> None:
        record = self._alive(instance, "kill")
        os.killpg(record.pid, signal.SIGKILL)
        # Watched through the record, not the PID: a killed process that is not our child stays a zombie until
        # PID 1 reaps it, and liveness already counts a zombie as dead.
        _wait(lambda: not liveness(record).running, f"{instance} (pid {record.pid}) to die of SIGKILL")

    def pause(self, instance: str) -> None:
        import psutil

        record = self._alive(instance, "pause")
        os.killpg(record.pid, signal.SIGSTOP)
        process = psutil.Process(record.pid)
        _wait(lambda: process.status() == psutil.STATUS_STOPPED, f"{instance} (pid {record.pid}) to stop on SIGSTOP")

    def resume(self, instance: str) -> None:
        import psutil

        record = self._alive(instance, "resume")
        os.killpg(record.pid, signal.SIGCONT)
        process = psutil.Process(record.pid)
        _wait(lambda: process.status() != psutil.STATUS_STOPPED, f"{instance} (pid {record.pid}) to continue")

    def stop(self, instance: str) -> None:
        self._known(instance)
        run_cluster(self.project, ["stop", instance], env=self._environ, timeout=_COMMAND_TIMEOUT)

    def start(self, instance: str) -> None:
        self._known(instance)
        run_cluster(self.project, ["start", instance], env=self._environ, timeout=_COMMAND_TIMEOUT)

    def restart(self, instance: str) -> None:
        self._known(instance)
        run_cluster(self.project, ["restart", instance], env=self._environ, timeout=_COMMAND_TIMEOUT)

    def rolling_restart(self, instances: Sequence[str] = ()) -> None:
        for instance in instances:
            self._known(instance)
        # Each instance may take its startup timeout and its stop grace.
        timeout = _COMMAND_TIMEOUT * max(len(instances) or len(self.instances()), 1)
        run_cluster(self.project, ["restart", "--rolling", *instances], env=self._environ, timeout=timeout)

    def kill_database(self) -> None:
        from tasker_cluster.db.location import existing_data_dir
        from tasker_cluster.db.postmaster import is_server_process, running_postmaster

        data_dir = existing_data_dir(self.project)
        server = running_postmaster(data_dir) if data_dir is not None else None
        if server is None:
            raise HarnessError(
                f"no PostgreSQL server of {self.project.root} is running",
                "database faults need the project's own server (`cluster db up`), not an external DATABASE_URL",
            )
        os.kill(server.pid, signal.SIGKILL)
        _wait(lambda: not is_server_process(server.pid), f"PostgreSQL (pid {server.pid}) to die of SIGKILL")

    def start_database(self) -> None:
        run_cluster(self.project, ["db", "up"], env=self._environ, timeout=_COMMAND_TIMEOUT)

    def _known(self, instance: str) -> None:
        if instance not in self.instances():
            raise unknown_instance(instance, self.instances())

    def _record(self, instance: str) -> InstanceRecord:
        self._known(instance)
        try:
            record = read_record(self.project, instance)
        except ValueError as error:
            raise HarnessError(f"the PID record of {instance} is unreadable: {error}", "restart it") from None
        if record is None:
            raise HarnessError(
                f"{instance} is not running (no PID record)", f"start it first (`cluster start {instance}`)"
            )
        return record

    def _alive(self, instance: str, fault: str) -> InstanceRecord:
        record = self._record(instance)
        state = liveness(record)
        if not state.running:
            gone = "reused" if state is Liveness.REUSED else "gone"
            raise HarnessError(
                f"cannot {fault} {instance}: its pid {record.pid} is {gone}",
                f"start it first (`cluster start {instance}`)",
            )
        return record


def _wait(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + _SIGNAL_WAIT
    pause = 0.005
    while not condition():
        if time.monotonic() > deadline:
            raise HarnessError(f"timed out after {_SIGNAL_WAIT:g} s waiting for {what}", "check `ps` for the process")
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
