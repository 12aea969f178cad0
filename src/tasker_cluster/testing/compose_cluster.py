"""A compose deployment as the cluster under test: the images built here, the project's topology exported on free
ports, brought up with podman-compose, waited for with our own probes, and taken down leaving nothing.

podman runs no healthchecks without systemd, and podman-compose ignores `condition: service_healthy`: readiness is
judged here, the database by a connection and each instance by its service's probe kind, as start-all judges it
(`compose_readiness.py`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from tasker_cluster.config.load import load_config
from tasker_cluster.config.model import ClusterConfig as ProjectConfig
from tasker_cluster.containers.compose import ComposeProject
from tasker_cluster.containers.engine import Podman, require_tools
from tasker_cluster.containers.images import SERVICES_REPOSITORY, Built, base_image, postgres_image, services_image
from tasker_cluster.project import Project
from tasker_cluster.testing.compose_faults import ComposeFaults
from tasker_cluster.testing.config import ClusterConfig
from tasker_cluster.testing.errors import HarnessError
from tasker_cluster.testing.provision import ClusterUnderTest, copy_config, fix_counts_and_ports

Announce = Callable[[str], None]
# Every name this run gives a container, volume, network or image starts so, and ends with the run's own suffix.
NAME_PREFIX = "tasker-e2e-"
_DATABASE_TIMEOUT_S = 120.0
# Instances wait for the database themselves; past their own startup_timeout they exit and compose restarts them.
_READY_MARGIN_S = 30.0


def start_compose_cluster(source: Project, announce: Announce) -> ClusterUnderTest:
    """Build the images, export `source`'s topology on free ports, bring it up with podman-compose, and return
    once the database and every instance are ready; on any failure (or Ctrl-C) nothing is left behind."""
    require_tools()
    # World-traversable, like the throwaway cluster's folder; its name names everything this run creates.
    root = Path(tempfile.mkdtemp(prefix=NAME_PREFIX))
    os.chmod(root, 0o755)
    name = root.name.lower()
    podman = Podman(root)
    deployment = ComposeProject(name, root / "deploy" / "compose.yaml")
    image = f"{SERVICES_REPOSITORY}:{name}"

    def shutdown() -> None:
        grace = max((instance.stop_grace for instance in config.instances), default=10.0)
        try:
            left = deployment.remove(podman, grace)
        finally:
            podman.run(["rmi", "--force", image], what=f"remove {image}", check=False)
            shutil.rmtree(root, ignore_errors=True)
        if left:
            raise HarnessError(
                f"the compose deployment {name} left {', '.join(left)}",
                f"remove them with podman (rm -f, volume rm, network rm; label io.podman.compose.project={name})",
            )

    try:
        base = _step(announce, "base image", lambda: base_image(podman))
        database_image = _step(announce, "postgres image", lambda: postgres_image(podman, base))
        _step(announce, "services image", lambda: services_image(podman, _repository(source), base, image, root))
        config = _export(source, root, name, image, database_image)
        _timed(announce, "compose file valid (compose-spec)", lambda: _validate(deployment.file))
        _timed(announce, f"podman-compose up ({name})", lambda: deployment.up(podman))
        database_url = _database_url(deployment)
        _timed(announce, "database ready", lambda: _wait_for_database(database_url))
        timeout = max(instance.startup_timeout for instance in config.instances) + _READY_MARGIN_S
        faults = ComposeFaults(podman, deployment, config.instances, lambda: _wait_for_database(database_url), timeout)
        names = faults.instances()
        _timed(announce, f"{len(names)} instances ready", lambda: faults.start_all(names, timeout))
    except BaseException:
        # The start's own error is the one worth seeing; a failing clean-up must not replace it.
        with contextlib.suppress(Exception):
            deployment.remove(podman, grace=1)
        with contextlib.suppress(Exception):
            podman.run(["rmi", "--force", image], what=f"remove {image}", check=False)
        shutil.rmtree(root, ignore_errors=True)
        raise
    conf = podman.env.get("CONTAINERS_CONF", "")
    return ClusterUnderTest(
        config=ClusterConfig(tuple(config.orchestration_urls()), tuple(config.worker_urls())),
        database_url=database_url,
        started_here=True,
        faults=faults,
        kept_note=(
            f"kept the compose deployment {name}; take it down with "
            f"`CONTAINERS_CONF={conf} podman-compose -p {name} -f {deployment.file} down -v`"
        ),
        _shutdown=shutdown,
    )


def _repository(source: Project) -> Path:
    """The checkout whose Containerfile builds the services: the source project, or the package's own checkout."""
    if (source.root / "Containerfile").is_file():
        return source.root
    return Path(__file__).resolve().parents[3]


def _export(source: Project, root: Path, name: str, image: str, database_image: str) -> ProjectConfig:
    from tasker_cluster.cluster.export.compose import ComposeOptions
    from tasker_cluster.cluster.export.files import export_compose

    project = Project(root / "project")
    copy_config(source, project)
    fix_counts_and_ports(project, None, None)
    config = load_config(project)
    if config.database.mode != "local":
        raise HarnessError(
            'a compose deployment needs a database, and the topology has [database] mode = "none"',
            'set [database] mode = "local" in config/cluster.toml',
        )
    export_compose(config, root / "deploy", ComposeOptions(image, name, database_image))
    return config


def _database_url(deployment: ComposeProject) -> str:
    from dotenv import dotenv_values

    from tasker_cluster.cluster.export.environment import DATABASE_URL
    from tasker_cluster.cluster.export.files import COMPOSE_TEST_ENV_FILE

    return str(dotenv_values(deployment.file.with_name(COMPOSE_TEST_ENV_FILE))[DATABASE_URL])


def _validate(compose_file: Path) -> None:
    argv = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(compose_file)]
    checked = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, check=False)
    if checked.returncode != 0:
        raise HarnessError(
            f"the exported compose file does not follow the compose specification:\n{checked.stdout}{checked.stderr}",
            "fix the compose exporter (tasker_cluster/cluster/export/compose.py)",
        )


def _wait_for_database(url: str) -> None:
    deadline = time.monotonic() + _DATABASE_TIMEOUT_S
    pause = 0.1
    while True:
        try:
            with psycopg.connect(url, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError as error:
            if time.monotonic() > deadline:
                raise HarnessError(
                    f"the compose database did not answer within {_DATABASE_TIMEOUT_S:g} s: {str(error).strip()}",
                    "read its log: podman logs <project>_database_1",
                ) from None
            time.sleep(pause)
            pause = min(pause * 2, 1.0)


def _step(announce: Announce, what: str, build: Callable[[], Built]) -> str:
    built = build()
    announce(f"compose: {what} {built.image} {'reused' if built.cached else 'built'} in {built.seconds:.1f} s")
    return built.image


def _timed(announce: Announce, what: str, step: Callable[[], object]) -> None:
    started = time.monotonic()
    step()
    announce(f"compose: {what} in {time.monotonic() - started:.1f} s")
