"""What every instance finds in its environment, beyond the topology's own `env` table."""

from __future__ import annotations

import psutil

from support.sandbox import Sandbox, service


def test_each_instance_learns_its_stop_grace_with_room_left_to_release_work_before_sigkill(sandbox: Sandbox) -> None:
    sandbox.write_topology({"orchestration": service("orchestration", 1, sandbox.base, stop_grace=5)})

    report = sandbox.start()

    assert report.ok, report.failed
    environ = psutil.Process(sandbox.record("orchestration-1").pid).environ()
    assert 0 < float(environ["TASKER_STOP_GRACE"]) < 5
    assert environ["TASKER_INSTANCE_ID"] == "orchestration-1"


def test_each_instance_waits_for_the_database_no_longer_than_its_startup_timeout(sandbox: Sandbox) -> None:
    sandbox.write_topology({"orchestration": service("orchestration", 1, sandbox.base, startup_timeout=7)})

    report = sandbox.start()

    assert report.ok, report.failed
    environ = psutil.Process(sandbox.record("orchestration-1").pid).environ()
    assert environ["TASKER_STARTUP_TIMEOUT"] == "7"
