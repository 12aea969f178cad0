"""Crashing the cluster's own PostgreSQL with `kill -9` of its postmaster, and `cluster db up` afterwards."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from tasker_cluster.db.location import existing_data_dir
from tasker_cluster.db.postmaster import running_postmaster
from tasker_cluster.project import Project
from tasker_cluster.testing.provision import ClusterUnderTest

_GONE_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class LocalDatabase:
    project: Project
    data_dir: Path

    @classmethod
    def of(cls, cluster: ClusterUnderTest) -> LocalDatabase:
        """The cluster's project-local PostgreSQL; the test is skipped when the cluster uses another server."""
        project = cluster.project
        data_dir = existing_data_dir(project) if project is not None else None
        if project is None or data_dir is None or running_postmaster(data_dir) is None:
            pytest.skip("the cluster does not run on its project's own PostgreSQL: nothing here may crash it")
        return cls(project, data_dir)

    def kill(self) -> int:
        """`kill -9` of the postmaster, as a crash or the OOM killer would; returns its pid once it is gone."""
        record = running_postmaster(self.data_dir)
        assert record is not None, f"no PostgreSQL runs in {self.data_dir}"
        postmaster = psutil.Process(record.pid)
        os.kill(record.pid, signal.SIGKILL)
        deadline = time.monotonic() + _GONE_TIMEOUT_S
        # A zombie has exited: PID 1 reaps orphans late.
        while postmaster.is_running() and postmaster.status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, f"postmaster {record.pid} survived SIGKILL"
            time.sleep(0.01)
        return record.pid

    def up(self) -> None:
        """What `cluster db up` does: start the server again (crash recovery included) and check it is usable."""
        from tasker_cluster.db.control import ensure_database

        ensure_database(self.project)
