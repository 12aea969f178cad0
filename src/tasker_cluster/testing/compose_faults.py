"""ComposeFaults: the FaultDriver of a compose deployment, acting on its containers from the host.

A crash is SIGKILL to the container's main process, sent from the host through a pidfd: the engine sees a process
that died, and compose's `restart: on-failure` restarts it, as after a real crash (`podman kill` would count as a
manual stop, which is never restarted). A graceful stop is `podman stop`, a hang `podman pause` (the cgroup
freezer: every process of the container, connections and claimed work held).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Sequence

from tasker_cluster.config.model import ROLES, Instance
from tasker_cluster.containers.compose import ComposeProject, Container
from tasker_cluster.containers.engine import Podman
from tasker_cluster.proc.probes import ReadinessWatch, ReadyResult
from tasker_cluster.testing.compose_readiness import compose_ready_target
from tasker_cluster.testing.errors import HarnessError
from tasker_cluster.testing.faults import unknown_instance

DATABASE_SERVICE = "database"
# A SIGKILLed process is gone within milliseconds; a busy machine may take a few seconds.
_SIGNAL_WAIT_S = 10.0
_LOG_LINES = 12
# Each look at the containers' states is a `podman ps` and `podman inspect`.
_RUNNING_PAUSE_S = 0.5


class ComposeFaults:
    """Faults in the compose project `deployment`, whose instances are `instances` (the exported configuration's)."""

    name = "compose"
    # compose's `restart: on-failure` brings a killed instance back by itself.
    restarts_crashed = True
    # While podman (4.3, netavark) stops or starts a container, a new connection to another running container's
    # published port may be lost: 6 of 124,780 connects to an orchestration instance that was never stopped timed
    # out, each during the stop or start of another container (20 of them); scenario 10's probe saw it as a moment
    # when neither orchestration instance answered, in 3 of 8 runs.
    restarts_disturb_others = True

    def __init__(
        self,
        podman: Podman,
        deployment: ComposeProject,
        instances: list[Instance],
        wait_for_database: Callable[[], None],
        ready_timeout: float,
    ) -> None:
        self._podman = podman
        self._deployment = deployment
        self._instances = {instance.name: instance for instance in instances}
        self._wait_for_database = wait_for_database
        self._ready_timeout = ready_timeout

    def instances(self, role: str | None = None) -> list[str]:
        return sorted(name for name, instance in self._instances.items() if role is None or instance.role == role)

    def kill(self, instance: str) -> None:
        self._kill(self._instance(instance).name)

    def pause(self, instance: str) -> None:
        container = self._running(self._instance(instance).name)
        self._podman.run(["pause", container.name], what=f"pause {instance}")

    def resume(self, instance: str) -> None:
        container = self._container(self._instance(instance).name)
        self._podman.run(["unpause", container.name], what=f"resume {instance}")

    def stop(self, instance: str) -> None:
        """`podman stop`: SIGTERM, the service's stop_grace, SIGKILL. A manual stop: compose does not restart it."""
        grace = self._instance(instance).stop_grace
        container = self._container(instance)
        self._podman.run(["stop", "--time", f"{max(1, round(grace))}", container.name], what=f"stop {instance}")

    def start(self, instance: str) -> None:
        """Running (started unless the engine restarted it already) and ready by its probe."""
        self.start_all([instance], self._ready_timeout)

    def restart(self, instance: str) -> None:
        self.stop(instance)
        self.start(instance)

    def rolling_restart(self, instances: Sequence[str] = ()) -> None:
        """As `cluster restart --rolling`: compose restarts a service's containers all at once, so one at a time
        here, orchestration first, each ready before the next is stopped."""
        names = [self._instance(name).name for name in instances] or self.instances()
        for name in sorted(names, key=lambda name: ROLES.index(self._instances[name].role)):
            try:
                self.restart(name)
            except HarnessError as error:
                raise HarnessError(f"the rolling restart stopped at {name}: {error.message}", error.fix) from None

    def kill_database(self) -> None:
        self._kill(DATABASE_SERVICE)

    def start_database(self) -> None:
        self._run_again(self._container(DATABASE_SERVICE), DATABASE_SERVICE)
        self._wait_for_database()

    def start_all(self, names: list[str], timeout: float) -> None:
        """Each named instance running and ready by its service's probe kind within `timeout` seconds
        (`compose_readiness.py`); HarnessError with the log of each that is not, naming the fix."""
        containers = self._deployment.containers(self._podman)
        for name in names:
            self._instance(name)
            if name not in containers:
                raise HarnessError(
                    f"the container of {name} is gone", f"check `podman ps -a` for {self._deployment.name}"
                )
            self._run_again(containers[name], name)
        tests = self._deployment.healthcheck_tests()
        cwd = str(self._deployment.file.parent)
        watch = ReadinessWatch(lambda result: None)
        for name in names:
            instance = self._instances[name]
            watch.add(compose_ready_target(instance, containers[name].name, tests, self._podman, timeout, cwd))
        unprobed = [name for name in names if self._instances[name].probe == "none"]
        late = [result for result in watch.results() if result.outcome != "ready"]
        late += self._not_running(unprobed, timeout)
        if late:
            raise HarnessError(self._describe_late(late), f"read the logs: podman logs {self._deployment.name}_NAME_1")

    def _not_running(self, names: list[str], timeout: float) -> list[ReadyResult]:
        """Instances probed by "none", whose container still does not run after `timeout` seconds (running is
        ready for them; the engine may be restarting one as it is started)."""
        started = time.monotonic()
        while True:
            containers = self._deployment.containers(self._podman)
            stopped = [name for name in names if containers[name].state != "running"]
            elapsed = time.monotonic() - started
            if not stopped or elapsed > timeout:
                return [ReadyResult(name, "timeout", elapsed, None) for name in stopped]
            time.sleep(_RUNNING_PAUSE_S)

    def logs(self, service: str, lines: int = _LOG_LINES) -> list[str]:
        return self._deployment.logs(self._podman, self._container(service).name, lines)

    def _run_again(self, container: Container, name: str) -> None:
        if container.state == "paused":
            self._podman.run(["unpause", container.name], what=f"resume {name}")
        elif container.state != "running":
            # The engine may be restarting it this very moment: a refusal then is harmless, readiness decides.
            self._podman.run(["start", container.name], what=f"start {name}", check=False)

    def _kill(self, service: str) -> None:
        """SIGKILL to the main process of `service`'s container, returning once it has exited. The process is pinned
        by a pidfd before it is confirmed as the container's, so a recycled pid is never signalled."""
        import psutil

        from tasker_cluster.proc.groups import ExitWatch

        container = self._running(service)
        exits = ExitWatch()
        try:
            process = psutil.Process(container.pid)
            exits.track([process])
            if not exits.alive([process]) or self._container(service).pid != container.pid:
                raise HarnessError(f"{service} exited before it could be killed", "run the scenario again")
            exits.send(process, signal.SIGKILL)
            deadline = time.monotonic() + _SIGNAL_WAIT_S
            while exits.alive([process]):
                if time.monotonic() > deadline:
                    raise HarnessError(
                        f"{service} (host pid {container.pid}) survived SIGKILL for {_SIGNAL_WAIT_S:g} s",
                        "look for a process in D state (`ps -o stat`)",
                    )
                exits.wait(max(0.0, deadline - time.monotonic()))
        except psutil.NoSuchProcess:
            raise HarnessError(f"{service} exited before it could be killed", "run the scenario again") from None
        finally:
            exits.close()

    def _instance(self, name: str) -> Instance:
        if name not in self._instances:
            raise unknown_instance(name, self.instances())
        return self._instances[name]

    def _container(self, service: str) -> Container:
        container = self._deployment.containers(self._podman).get(service)
        if container is None:
            raise HarnessError(
                f"the container of {service} is gone", f"check `podman ps -a` for {self._deployment.name}"
            )
        return container

    def _running(self, service: str) -> Container:
        container = self._container(service)
        if container.state != "running" or container.pid <= 0:
            raise HarnessError(f"{service} is not running ({container.state})", f"start it first: start({service!r})")
        return container

    def _describe_late(self, late: list[ReadyResult]) -> str:
        lines = [f"{len(late)} instances of the compose deployment are not ready:"]
        for result in late:
            probe = result.last_probe
            seen = f"last answer {probe.text}" if probe and probe.answered else "never answered"
            if self._instances[result.name].probe == "none":
                seen = "its container does not run"
            lines.append(f"  {result.name}: {result.outcome} after {result.elapsed:.1f} s, {seen}")
            try:
                lines += [f"    | {line}" for line in self.logs(result.name)]
            except HarnessError as error:
                lines.append(f"    | ({error.message})")
        return "\n".join(lines)
