"""The default topology ships inside the package; a fresh clone's config/cluster.toml is a copy `make` writes once,
so the tests read the packaged file and never the working tree's, which is the user's to edit."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from support.sandbox import REPO, Sandbox
from tasker_cluster.config.load import load_config
from tasker_cluster.config.sources import DEFAULT_TOPOLOGY


def test_default_topology_runs_two_orchestration_and_two_worker_types_on_the_documented_ports(sandbox: Sandbox) -> None:
    sandbox.project.config_file.parent.mkdir(parents=True)
    shutil.copy(DEFAULT_TOPOLOGY, sandbox.project.config_file)

    topology = load_config(sandbox.project)

    assert [(i.name, i.port) for i in topology.instances] == [
        ("orchestration-1", 8080),
        ("orchestration-2", 8081),
        ("worker-a-1", 8100),
        ("worker-a-2", 8101),
        ("worker-b-1", 8102),
        ("worker-b-2", 8103),
    ]
    assert topology.orchestration_urls() == ["http://127.0.0.1:8080", "http://127.0.0.1:8081"]
    assert topology.worker_urls()[-1] == "http://127.0.0.1:8103"


def test_the_topology_file_is_the_users_not_the_repositorys() -> None:
    ignored = subprocess.run(
        ["git", "-C", str(REPO), "check-ignore", "--no-index", "-q", "config/cluster.toml"], check=False
    )
    tracked = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "--error-unmatch", "config/cluster.toml"],
        capture_output=True,
        check=False,
    )

    assert ignored.returncode == 0, "config/cluster.toml is not in .gitignore"
    assert tracked.returncode != 0, "config/cluster.toml is committed: a user's edit would show as a change"


def _clone_layout(root: Path) -> Path:
    """The Makefile and the packaged default at their places in a folder of the test's own."""
    shutil.copy(REPO / "Makefile", root / "Makefile")
    packaged = root / DEFAULT_TOPOLOGY.relative_to(REPO)
    packaged.parent.mkdir(parents=True)
    shutil.copy(DEFAULT_TOPOLOGY, packaged)
    return root / "config" / "cluster.toml"


def test_make_writes_the_default_topology_on_a_fresh_clone_and_never_overwrites_an_edited_one(tmp_path: Path) -> None:
    written = _clone_layout(tmp_path)

    subprocess.run(["make", "-s", "-C", str(tmp_path), "config/cluster.toml"], check=True, capture_output=True)
    assert written.read_bytes() == DEFAULT_TOPOLOGY.read_bytes()

    written.write_text('[services.mine]\nrole = "worker"\ncommand = ["true"]\n')
    edited = written.read_bytes()
    subprocess.run(["make", "-s", "-C", str(tmp_path), "config/cluster.toml"], check=True, capture_output=True)
    assert written.read_bytes() == edited
