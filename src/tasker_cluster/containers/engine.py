"""Podman as the container engine: its command line, with a configuration that works on the machine at hand.

Debian's podman runs crun by default, which fails in a sandbox whose hard RLIMIT_NOFILE is below podman's default
ulimits and whose cgroups are in hybrid mode. Unless CONTAINERS_CONF is already set, every podman call here gets a
configuration of its own: runc when installed, the container ulimits at this process's own hard limits, netavark.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from tasker_cluster.errors import ClusterError

CONTAINERS_CONF_ENV = "CONTAINERS_CONF"
INSTALL_FIX = (
    "install them (Debian/Ubuntu: apt-get install podman podman-compose runc netavark aardvark-dns iptables "
    "debootstrap; .ci/run does it)"
)
_ERROR_LINES = 15
_NPROC_CEILING = 32768


class ContainerError(ClusterError):
    """A podman (or podman-compose) command failed; the message carries the end of its output."""


class Podman:
    """Runs `podman ...` and `podman-compose ...` with one engine configuration."""

    def __init__(self, conf_dir: Path) -> None:
        self.env = dict(os.environ)
        if not self.env.get(CONTAINERS_CONF_ENV):
            conf = conf_dir / "containers.conf"
            conf.write_text(engine_configuration())
            self.env[CONTAINERS_CONF_ENV] = str(conf)

    def run(
        self, args: Sequence[str], *, what: str, timeout: float = 300.0, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """`podman ARGS`; ContainerError naming `what` and podman's last lines when it fails and `check` is set."""
        return self._run(["podman", *args], what=what, timeout=timeout, check=check)

    def compose(
        self, args: Sequence[str], *, what: str, timeout: float = 300.0, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return self._run(["podman-compose", *args], what=what, timeout=timeout, check=check)

    def exec_argv(self, container: str, argv: Sequence[str]) -> list[str]:
        """The command line that runs `argv` inside the running `container` (run it with `env`)."""
        return ["podman", "exec", container, *argv]

    def image_exists(self, tag: str) -> bool:
        return self.run(["image", "exists", tag], what=f"look up {tag}", check=False).returncode == 0

    def _run(self, argv: list[str], *, what: str, timeout: float, check: bool) -> subprocess.CompletedProcess[str]:
        try:
            result = subprocess.run(
                argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ContainerError(
                f"could not {what}: `{' '.join(argv[:3])} ...` took longer than {timeout:g} s",
                "check `podman ps -a` and the machine's load",
            ) from None
        if check and result.returncode != 0:
            raise failure(what, argv, result.returncode, result.stdout + result.stderr)
        return result


def failure(what: str, argv: Sequence[str], code: int, output: str) -> ContainerError:
    tail = "\n  ".join(output.strip().splitlines()[-_ERROR_LINES:])
    return ContainerError(
        f"could not {what}: `{' '.join(argv[:3])} ...` exited {code}:\n  {tail}", "read the command's message above"
    )


def require_tools(tools: Sequence[str] = ("podman", "podman-compose")) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        raise ClusterError(f"{', '.join(missing)} not found on PATH", INSTALL_FIX)


def engine_configuration() -> str:
    """containers.conf text: ulimits no higher than ours (crun and runc cannot raise a hard limit), runc if present."""
    nofile = _hard_limit(resource.RLIMIT_NOFILE)
    # Measured in the sandbox: runc is refused any nproc above 32768 (EPERM), even below our own hard limit.
    nproc = min(_hard_limit(resource.RLIMIT_NPROC), _NPROC_CEILING)
    lines = [
        "[containers]",
        f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]',
        "[engine]",
    ]
    if shutil.which("runc"):
        # crun refuses this machine's cgroups (hybrid mode); runc runs in them.
        lines.append('runtime = "runc"')
    lines += ["[network]", 'network_backend = "netavark"']
    return "\n".join(lines) + "\n"


def _hard_limit(which: int) -> int:
    # Podman's own default for both, when our limit is unlimited.
    _, hard = resource.getrlimit(which)
    return 1048576 if hard == resource.RLIM_INFINITY else hard
