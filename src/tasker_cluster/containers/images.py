"""The images a compose deployment runs here, built without any image registry.

- base: Debian from `debootstrap` with python3, `podman import`ed (the machine reaches Debian's mirror, no registry);
- postgres: the base plus Debian's PostgreSQL (`containers/postgres/`), taking the official image's settings;
- services: the base plus the project's own wheels, by the repository's Containerfile.

The base and postgres images are kept under a tag that names their recipe, so a machine builds each once; the
services image is built every time, since it carries the code under test (podman reuses the base's layers).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from tasker_cluster.containers.engine import Podman, failure
from tasker_cluster.errors import ClusterError

BASE_REPOSITORY = "localhost/tasker-base"
POSTGRES_REPOSITORY = "localhost/tasker-postgres"
SERVICES_REPOSITORY = "localhost/tasker-cluster"
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
_DEBOOTSTRAP = ("--variant=minbase", "--include=python3")
# Never needed in a container, and a third of the tree.
_TRIMMED = ("usr/share/doc", "usr/share/man", "usr/share/locale", "var/cache/apt/archives", "var/lib/apt/lists")
POSTGRES_RECIPE = Path(__file__).with_name("postgres")
WHEELS = Path("dist") / "wheels"
CONTAINERFILE = "Containerfile"


class Built(NamedTuple):
    """An image ready to run: its tag, how long it took, and whether an earlier build was reused."""

    image: str
    seconds: float
    cached: bool


def base_image(podman: Podman) -> Built:
    """Debian `SUITE` (minbase) with python3. Needs root and debootstrap the first time."""
    started = time.monotonic()
    tag = f"{BASE_REPOSITORY}:{SUITE}-{_digest(SUITE, MIRROR, *_DEBOOTSTRAP, *_TRIMMED)}"
    if podman.image_exists(tag):
        return Built(tag, time.monotonic() - started, True)
    if os.geteuid() != 0 or shutil.which("debootstrap") is None:
        raise ClusterError(
            f"the base image {tag} is missing, and building it needs root and debootstrap",
            "run as root with debootstrap installed (apt-get install debootstrap), once per machine",
        )
    root = Path(tempfile.mkdtemp(prefix="tasker-base-", dir="/var/tmp"))
    try:
        _debootstrap(root)
        _import(podman, root, tag)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return Built(tag, time.monotonic() - started, False)


def postgres_image(podman: Podman, base: str) -> Built:
    """PostgreSQL 15 from Debian's package on `base`, behind an entry point that honours POSTGRES_* settings."""
    started = time.monotonic()
    files = sorted(POSTGRES_RECIPE.iterdir())
    tag = f"{POSTGRES_REPOSITORY}:15-{_digest(base, *(path.read_text() for path in files))}"
    if podman.image_exists(tag):
        return Built(tag, time.monotonic() - started, True)
    podman.run(
        ["build", "--quiet", "--build-arg", f"BASE={base}", "--tag", tag, str(POSTGRES_RECIPE)],
        what=f"build {tag}",
        timeout=900,
    )
    return Built(tag, time.monotonic() - started, False)


def services_image(podman: Podman, source: Path, base: str, tag: str, scratch: Path) -> Built:
    """The repository's Containerfile on `base`, with wheels of `source` (and of the packages this interpreter has),
    built in a context under `scratch`: the checkout is only read."""
    started = time.monotonic()
    containerfile = source / CONTAINERFILE
    if not containerfile.is_file():
        raise ClusterError(
            f"no {CONTAINERFILE} in {source} to build the services' image from",
            "run from a checkout of the tasker-cluster repository",
        )
    context = scratch / "image"
    shutil.copytree(source / "config" / "templates", context / "config" / "templates")
    shutil.copy2(containerfile, context / CONTAINERFILE)
    build_wheels(source, context / WHEELS)
    podman.run(
        ["build", "--quiet", "--build-arg", f"BASE={base}", "--tag", tag, str(context)],
        what=f"build {tag}",
        timeout=900,
    )
    return Built(tag, time.monotonic() - started, False)


def build_wheels(source: Path, wheels: Path) -> None:
    """Into `wheels`: the project's wheel, its dependencies' at the versions installed here, and pip's."""
    with tempfile.NamedTemporaryFile("w", prefix="tasker-constraints-", suffix=".txt") as constraints:
        constraints.write(_pip(["freeze", "--exclude-editable"], "list the installed packages", capture=True))
        constraints.flush()
        _pip(
            ["wheel", "--wheel-dir", str(wheels), "--constraint", constraints.name, str(source), "pip"],
            f"build the wheels of {source}",
        )


def _pip(args: list[str], what: str, *, capture: bool = False) -> str:
    argv = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet", *args]
    result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900, check=False)
    if result.returncode != 0:
        raise failure(what, argv[2:], result.returncode, result.stdout + result.stderr)
    return result.stdout if capture else ""


def _debootstrap(root: Path) -> None:
    argv = ["debootstrap", *_DEBOOTSTRAP, SUITE, str(root), MIRROR]
    result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900, check=False)
    if result.returncode != 0:
        raise failure("bootstrap Debian for the base image", argv, result.returncode, result.stdout + result.stderr)
    for relative in _TRIMMED:
        _empty(root / relative)


def _empty(folder: Path) -> None:
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _import(podman: Podman, root: Path, tag: str) -> None:
    tar_argv = ["tar", "--numeric-owner", "-C", str(root), "-c", "."]
    import_argv = ["podman", "import", "--quiet", "-", tag]
    with subprocess.Popen(tar_argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL) as tar:
        imported = subprocess.run(
            import_argv, stdin=tar.stdout, env=podman.env, capture_output=True, text=True, timeout=600, check=False
        )
        if tar.stdout is not None:
            tar.stdout.close()
    if tar.returncode != 0 or imported.returncode != 0:
        raise failure(f"import {tag}", import_argv, imported.returncode or tar.returncode, imported.stderr)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]
