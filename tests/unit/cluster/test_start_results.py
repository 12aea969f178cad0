"""Why a start that timed out is not ready, from its last probe: each kind of answer names what to change."""

from __future__ import annotations

import pytest

from tasker_cluster.cluster.start_results import not_ready_detail
from tasker_cluster.config.model import ClusterConfig
from tasker_cluster.proc.probes import ProbeResult, ReadyResult
from unit.conftest import BASE


@pytest.mark.parametrize(
    ("probe", "why"),
    [
        (ProbeResult(404, 1.0, None), "its ready path /health/ready answered 404: set services.orchestration."),
        (ProbeResult(401, 1.0, None), "answered 401: set services.orchestration.ready_path to a path the instance"),
        (ProbeResult(503, 1.0, None), "still answered 503: its log says why it is not ready, or a longer services."),
        (ProbeResult(429, 1.0, None), "still answered 429: its log says why"),
        (ProbeResult(None, None, "refused"), "nothing listened on 127.0.0.1:"),
        (ProbeResult(None, None, "timeout"), "never answered: the instance accepts connections but does not respond"),
        (ProbeResult(None, None, "not HTTP"), "never answered with HTTP (not HTTP): its port must serve HTTP"),
        (None, "it was never probed"),
    ],
)
def test_each_last_answer_says_what_to_change(config: ClusterConfig, probe: ProbeResult | None, why: str) -> None:
    instance = config.instances[0]
    result = ReadyResult(instance.name, "timeout", 30.0, probe)

    detail = not_ready_detail(instance, instance.ready_url, result)

    assert detail.startswith("not ready after 30.0 s: ") and why in detail, detail
    assert detail.endswith("; it is still running")


@pytest.mark.parametrize(
    ("probe", "expected"),
    [
        (
            ProbeResult(None, None, "refused", kind="tcp"),
            f"its TCP probe found nothing listening on 127.0.0.1:{BASE}: its command must listen on its port",
        ),
        (ProbeResult(None, None, "refused", kind="tcp"), 'opens no port set services.orchestration.probe = "exec"'),
        (ProbeResult(None, None, "timeout", kind="tcp"), f"its TCP probe of 127.0.0.1:{BASE} last ended in timeout"),
        (
            ProbeResult(None, 9.0, None, kind="exec", exit_code=3, output="db down"),
            "its probe command last exited with 3 (db down): its output and the instance's log say why",
        ),
        (ProbeResult(None, 9.0, "timeout", kind="exec"), "did not finish within its timeout and was killed"),
        (
            ProbeResult(None, None, "FileNotFoundError: chek.py", kind="exec"),
            "could not be run (FileNotFoundError: chek.py): correct services.orchestration.probe_command",
        ),
    ],
)
def test_a_timeout_says_what_the_last_probe_of_its_kind_answered_and_what_to_change(
    config: ClusterConfig, probe: ProbeResult, expected: str
) -> None:
    instance = config.instances[0]
    result = ReadyResult(instance.name, "timeout", 2.0, probe)
    detail = not_ready_detail(instance, instance.url, result)
    assert expected in detail, detail
    assert "HTTP" not in detail and "ready path" not in detail


@pytest.mark.parametrize(("probe_timeout", "limit"), [(None, "within 5 s"), (0.5, "within 0.5 s")])
def test_a_killed_probe_command_names_the_limit_it_passed_and_the_key_that_sets_it(
    config: ClusterConfig, probe_timeout: float | None, limit: str
) -> None:
    instance = config.instances[0]._replace(probe="exec", probe_timeout=probe_timeout)
    result = ReadyResult(instance.name, "timeout", 2.0, ProbeResult(None, 9.0, "timeout", kind="exec"))
    detail = not_ready_detail(instance, instance.url, result)
    assert f"(0 once the instance is ready) {limit}, or a longer services.orchestration.probe_timeout gives it" in (
        detail
    ), detail
