"""Pausing instances with SIGSTOP and resuming them with SIGCONT, through the cluster's PID records.

A paused process keeps its sockets and its database session: to its peers it looks hung, not gone, which is what a
long GC pause, a stalled VM or a `docker pause` does.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from types import TracebackType

from tasker_cluster.proc.records import Liveness, liveness
from tasker_cluster.testing.provision import ClusterUnderTest


class Paused:
    """The named instances' process groups, stopped until `resume()` or the end of the `with` block."""

    def __init__(self, cluster: ClusterUnderTest, names: Sequence[str]) -> None:
        records = cluster.records()
        self._pids: list[int] = []
        try:
            for name in names:
                record = records[name]
                assert liveness(record) is Liveness.ALIVE, f"{name} (pid {record.pid}) is not running"
                os.killpg(record.pid, signal.SIGSTOP)
                self._pids.append(record.pid)
        except BaseException:
            self.resume()
            raise

    def resume(self) -> None:
        while self._pids:
            os.killpg(self._pids.pop(), signal.SIGCONT)

    def __enter__(self) -> Paused:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.resume()


def paused(cluster: ClusterUnderTest, names: Sequence[str]) -> Paused:
    return Paused(cluster, names)
