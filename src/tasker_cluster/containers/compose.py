"""One compose project under podman-compose: bring it up, see its containers, take it down leaving nothing.

podman-compose labels every container, volume and network it creates with the project's name, and names each
container `<project>_<service>_1`; the removal goes by those labels, so it also finds what a failed `up` left.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

from tasker_cluster.containers.engine import Podman

PROJECT_LABEL = "io.podman.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
_UP_TIMEOUT_S = 600.0
# Containers first: a volume or network in use cannot be removed.
_LISTINGS = {
    "container": ["ps", "--all", "--format", "{{.Names}}"],
    "volume": ["volume", "ls", "--quiet"],
    "network": ["network", "ls", "--quiet"],
}
_REMOVALS = {
    "container": ["rm", "--force", "--time", "0"],
    "volume": ["volume", "rm", "--force"],
    "network": ["network", "rm", "--force"],
}


class Container(NamedTuple):
    """A container of the project as podman reports it: `pid` is its main process on the host (0 when not running)."""

    service: str
    name: str
    state: str
    pid: int
    restarts: int


class ComposeProject(NamedTuple):
    name: str
    file: Path

    def up(self, podman: Podman) -> None:
        podman.compose(self._args("up", "-d"), what=f"start the compose project {self.name}", timeout=_UP_TIMEOUT_S)

    def containers(self, podman: Podman) -> dict[str, Container]:
        """Every container of the project by service name."""
        listed = podman.run(
            ["ps", "--all", "--filter", f"label={PROJECT_LABEL}={self.name}", "--format", "{{.ID}}"],
            what=f"list the containers of {self.name}",
        ).stdout.split()
        if not listed:
            return {}
        inspected = json.loads(podman.run(["inspect", *listed], what=f"inspect the containers of {self.name}").stdout)
        return {entry["Config"]["Labels"][SERVICE_LABEL]: _container(entry) for entry in inspected}

    def healthcheck_tests(self) -> dict[str, list[str]]:
        """Each service's healthcheck `test` as its file gives it, by service name: the argv after "CMD", with
        compose's `$$` read as the `$` it stands for. Services without a healthcheck are absent."""
        import yaml

        services = yaml.safe_load(self.file.read_text())["services"]
        tests = {}
        for service, entry in services.items():
            test = entry.get("healthcheck", {}).get("test")
            if test and test[0] == "CMD":
                tests[service] = [arg.replace("$$", "$") for arg in test[1:]]
        return tests

    def logs(self, podman: Podman, container: str, lines: int) -> list[str]:
        result = podman.run(["logs", "--tail", str(lines), container], what=f"read the log of {container}", check=False)
        return (result.stdout + result.stderr).splitlines()[-lines:]

    def remove(self, podman: Podman, grace: float) -> list[str]:
        """`down` with `grace` seconds to stop, then whatever is still labelled with the project: containers,
        volumes, networks. Returns what could not be removed (empty when nothing is left)."""
        podman.compose(
            self._args("down", "--volumes", "-t", f"{max(1, round(grace))}"),
            what=f"take down {self.name}",
            check=False,
            timeout=_UP_TIMEOUT_S,
        )
        for kind, removal in _REMOVALS.items():
            for name in self._listed(podman, kind):
                podman.run([*removal, name], what=f"remove the {kind} {name}", check=False)
        return self.leftovers(podman)

    def leftovers(self, podman: Podman) -> list[str]:
        return [f"{kind} {name}" for kind in _LISTINGS for name in self._listed(podman, kind)]

    def _listed(self, podman: Podman, kind: str) -> list[str]:
        argv = [*_LISTINGS[kind], "--filter", f"label={PROJECT_LABEL}={self.name}"]
        return podman.run(argv, what=f"list the {kind}s of {self.name}", check=False).stdout.split()

    def _args(self, *command: str) -> list[str]:
        return ["--project-name", self.name, "--file", str(self.file), *command]


def _container(entry: dict[str, Any]) -> Container:
    state = entry["State"]
    return Container(
        service=entry["Config"]["Labels"][SERVICE_LABEL],
        name=entry["Name"].lstrip("/"),
        state=state["Status"],
        pid=int(state.get("Pid") or 0),
        restarts=int(entry.get("RestartCount") or 0),
    )
