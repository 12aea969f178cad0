"""FaultDriver: the faults a cluster scenario injects, by instance name, whatever runs the cluster.

Scenarios never signal processes themselves: they ask the session's driver (the `faults` fixture) to crash, hang,
stop or start an instance named as the topology names it (`orchestration-1`, `worker-a-2`), or the database. Each
call returns once the fault is in effect, so a scenario can go on to observe its consequences.

`LocalFaults` (testing/local_faults.py) drives a cluster on this machine through the project's PID records and the
`cluster` command. A driver for another engine implements the same calls with its own means, e.g. compose (kill the
container's main process from the host: `podman kill` counts as a manual stop and is not restarted) or Kubernetes
(`kubectl delete pod --force --grace-period=0` for `kill`, scale-based `stop`/`start`). A driver that cannot inject
a fault raises HarnessError naming what it lacks, and the scenario fails rather than passing without the fault.
"""

from __future__ import annotations

from typing import Protocol

from tasker_cluster.testing.errors import HarnessError


class FaultDriver(Protocol):
    """Faults in a running cluster. Instance names are the topology's; an unknown name raises HarnessError."""

    @property
    def name(self) -> str:
        """Which driver this is ("local", "compose", ...), for figures and messages."""
        ...

    @property
    def restarts_crashed(self) -> bool:
        """Whether the engine restarts a killed instance by itself, as compose's `restart: on-failure` does; the
        restarted process keeps the instance's name. False for a cluster on this machine."""
        ...

    def instances(self, role: str | None = None) -> list[str]:
        """Instance names in name order; only those of `role` ("orchestration" or "worker") when given."""
        ...

    def kill(self, instance: str) -> None:
        """A crash: SIGKILL to every process of the instance, no grace period; the harness does not restart it (the
        engine may: `restarts_crashed`). Returns once they are gone. HarnessError when the instance is not running."""
        ...

    def pause(self, instance: str) -> None:
        """A hang: SIGSTOP to every process of the instance, which keeps its connections, claimed work and port but
        answers nothing until `resume`. Returns once it is stopped."""
        ...

    def resume(self, instance: str) -> None:
        """SIGCONT to every process of a paused instance."""
        ...

    def stop(self, instance: str) -> None:
        """A graceful stop, as `cluster stop NAME`: SIGTERM, the service's grace period, then SIGKILL."""
        ...

    def start(self, instance: str) -> None:
        """Start a stopped or killed instance, as `cluster start NAME`; returns once it answers its ready path."""
        ...

    def restart(self, instance: str) -> None:
        """`stop`, then `start`."""
        ...

    def kill_database(self) -> None:
        """A database crash: SIGKILL to the PostgreSQL server's postmaster. Returns once it is gone."""
        ...

    def start_database(self) -> None:
        """Bring the database back after `kill_database`, as `cluster db up`; returns once it accepts connections."""
        ...


def unknown_instance(instance: str, known: list[str]) -> HarnessError:
    return HarnessError(f"no instance {instance!r} in the cluster under test", f"known instances: {', '.join(known)}")
