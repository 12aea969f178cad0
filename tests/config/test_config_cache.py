"""A validated topology is served again without pydantic, and never once any of its sources has changed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from support.sandbox import Sandbox, service
from tasker_cluster.config.cache import cache_path
from tasker_cluster.config.load import load_topology
from tasker_cluster.errors import ConfigError

_LOAD_IN_A_FRESH_INTERPRETER = (
    "import sys\n"
    "from pathlib import Path\n"
    "from tasker_cluster.project import Project\n"
    "from tasker_cluster.config.load import load_topology\n"
    "project = Project(Path(sys.argv[1]))\n"
    "load_topology(project, workers=3)\n"
    "print('LOADED', 'pydantic' in sys.modules)\n"
)


def _names(sandbox: Sandbox, **counts: int | None) -> list[str]:
    return [instance.name for instance in load_topology(sandbox.project, **counts).instances]


def test_a_topology_loaded_before_is_served_without_importing_pydantic(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=2, workers=1)
    probe = [sys.executable, "-c", _LOAD_IN_A_FRESH_INTERPRETER, str(sandbox.root)]

    cold = subprocess.run(probe, capture_output=True, text=True, check=True)
    warm = subprocess.run(probe, capture_output=True, text=True, check=True)

    assert cold.stdout.split() == ["LOADED", "True"]
    assert warm.stdout.split() == ["LOADED", "False"]
    assert cache_path(sandbox.project).is_file()


def test_the_cached_topology_equals_the_validated_one(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=2, workers=3)
    validated = load_topology(sandbox.project)
    assert cache_path(sandbox.project).is_file()

    served = load_topology(sandbox.project)

    assert served == validated


def test_a_change_to_the_file_the_counts_or_dotenv_is_never_served_from_the_cache(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox.write_cluster(orchestration=1, workers=1)
    assert _names(sandbox) == ["orchestration-1", "worker-1"]

    sandbox.write_cluster(orchestration=2, workers=1)
    from_file = _names(sandbox)
    from_flag = _names(sandbox, workers=2)
    sandbox.project.env_file.write_text("TASKER_ORCHESTRATION_INSTANCES=3\n")
    from_dotenv = _names(sandbox)
    monkeypatch.setenv("TASKER_ORCHESTRATION_INSTANCES", "1")
    from_environment = _names(sandbox)

    assert from_file == ["orchestration-1", "orchestration-2", "worker-1"]
    assert from_flag == ["orchestration-1", "orchestration-2", "worker-1", "worker-2"]
    assert from_dotenv == ["orchestration-1", "orchestration-2", "orchestration-3", "worker-1"]
    assert from_environment == ["orchestration-1", "worker-1"]


def test_a_file_broken_after_a_good_load_is_reported_not_served_from_the_cache(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=1, workers=1)
    load_topology(sandbox.project)
    sandbox.write_topology({"orchestration": service("orchestration", 11, sandbox.base)})

    with pytest.raises(ConfigError) as caught:
        load_topology(sandbox.project)

    assert "services.orchestration.count" in caught.value.message


def test_an_unreadable_cache_entry_is_validated_afresh(sandbox: Sandbox) -> None:
    sandbox.write_cluster(orchestration=1, workers=1)
    load_topology(sandbox.project)
    cache_path(sandbox.project).write_text('{"sources": "not these", "topology": [1, 2')

    assert _names(sandbox) == ["orchestration-1", "worker-1"]
