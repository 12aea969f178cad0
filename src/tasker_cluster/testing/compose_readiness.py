"""What the compose harness waits for, per instance, by its service's probe kind: the readiness watch's targets.

The watch is the one `start-all` uses (`proc/probes.ReadinessWatch`), so a deployed instance is ready by the same
rule as a local one. podman runs no healthchecks without systemd, so compose's own health says nothing here:
"http" GETs the ready path and "tcp" connects, both through the instance's published port; "exec" runs the
healthcheck `test` of the exported compose file inside the container (`podman exec`), which is the service's
`probe_command` as the image sees it; "none" needs its container running, which the caller makes sure of.
"""

from __future__ import annotations

from collections.abc import Mapping

from tasker_cluster.config.model import Instance
from tasker_cluster.containers.engine import Podman
from tasker_cluster.proc.probes import ReadyTarget


def _running() -> None:
    # Readiness ends at the timeout, never at an exit: compose's `restart: on-failure` brings a crashed one back.
    return None


def compose_ready_target(
    instance: Instance, container: str, tests: Mapping[str, list[str]], podman: Podman, timeout: float, cwd: str
) -> ReadyTarget:
    """The target of `instance`, whose container is named `container`; `tests` are the compose file's healthcheck
    tests by service (`ComposeProject.healthcheck_tests`). `timeout` is its whole wait, in seconds."""
    name, kind = instance.name, instance.probe
    if kind == "http":
        return ReadyTarget(name, instance.ready_url, timeout, _running, probe_timeout=instance.probe_timeout)
    command: tuple[str, ...] = ()
    env = None
    if kind == "exec":
        command = tuple(podman.exec_argv(container, tests[name]))
        env = podman.env
    return ReadyTarget(name, instance.url, timeout, _running, None, kind, command, cwd, env, instance.probe_timeout)
