"""The manager against real scripted HTTP servers on loopback: retries, waits, consistency, distribution."""

from __future__ import annotations

from collections import deque

import pytest
from scripted_orchestration import HANG_S, ScriptedOrchestration

from tasker_cluster.proc.ports import LOOPBACK, find_free_port_block
from tasker_cluster.testing import (
    BlockingManager,
    ClusterConfig,
    ClusterNotHealthyError,
    HarnessError,
    InconsistentTaskError,
    MultiInstanceTestManager,
    RetryPolicy,
    TaskApiError,
    TaskRequest,
    TaskTimeoutError,
)

pytestmark = pytest.mark.anyio

FAST_RETRY = RetryPolicy(max_attempts=4, first_delay=0.01, max_delay=0.05)


def _manager(urls: list[str], **options: object) -> MultiInstanceTestManager:
    options.setdefault("retry", FAST_RETRY)
    return MultiInstanceTestManager.from_config(ClusterConfig(orchestration_urls=tuple(urls)), **options)


def _request(n: int = 0) -> TaskRequest:
    return TaskRequest(namespace="examples", name="linear", context={"even_number": 2 * n})


def _unused_url() -> str:
    return f"http://{LOOPBACK}:{find_free_port_block(1)}"


async def test_creation_is_retried_after_a_503_and_succeeds(servers: list[ScriptedOrchestration]) -> None:
    servers[0].script.post.extend(["503"])
    async with _manager([servers[0].url]) as manager:
        created = await manager.create_task(_request())
    assert created.attempts == 2
    assert len(servers[0].tasks) == 1


async def test_creation_waits_at_least_the_servers_retry_after(servers: list[ScriptedOrchestration]) -> None:
    servers[0].script.post.extend(["503-retry-after-1"])
    async with _manager([servers[0].url], retry=RetryPolicy(max_attempts=2, first_delay=0.01, max_delay=5)) as manager:
        await manager.create_task(_request())
    first, second = servers[0].post_times
    assert second - first >= 1.0


async def test_a_retry_after_a_lost_response_returns_the_same_task_not_a_duplicate(
    servers: list[ScriptedOrchestration],
) -> None:
    servers[0].script.post.extend(["drop"])
    async with _manager([servers[0].url]) as manager:
        created = await manager.create_task(_request())
    assert len(servers[0].tasks) == 1
    assert created.replayed
    assert created.task_uuid in servers[0].tasks
    assert len(servers[0].post_times) == 2


async def test_a_creation_that_timed_out_is_sent_again_with_its_key_and_creates_one_task(
    servers: list[ScriptedOrchestration],
) -> None:
    # The instance serves the first request late (paused, overloaded): the retry must not create a second task.
    servers[0].script.post.extend(["hang"])
    config = ClusterConfig(orchestration_urls=(servers[0].url,), request_timeout=HANG_S / 3)
    async with MultiInstanceTestManager.from_config(config, retry=FAST_RETRY) as manager:
        created = await manager.create_task(_request())
        await manager.wait_for_task_completion(created.task_uuid, timeout=10)
    assert created.attempts == 2
    assert list(servers[0].tasks) == [created.task_uuid]
    assert len(servers[0].post_times) == 2


async def test_a_client_error_is_not_retried(servers: list[ScriptedOrchestration]) -> None:
    servers[0].script.post.extend(["422"])
    async with _manager([servers[0].url]) as manager:
        with pytest.raises(TaskApiError) as raised:
            await manager.create_task(_request())
    assert raised.value.status_code == 422
    assert len(servers[0].post_times) == 1


async def test_an_unreachable_instance_is_passed_over_for_a_live_one(servers: list[ScriptedOrchestration]) -> None:
    dead = _unused_url()
    async with _manager([dead, servers[0].url]) as manager:
        created = await manager.create_tasks_concurrent([_request(n) for n in range(6)], concurrency=1)
        assert not manager.cluster.is_up(0)
    assert {task.sent_to for task in created} == {servers[0].url}
    assert len(servers[0].tasks) == 6
    assert created[0].attempts == 2


async def test_creation_gives_up_after_the_policy_naming_each_failure() -> None:
    async with _manager([_unused_url()]) as manager:
        with pytest.raises(HarnessError) as raised:
            await manager.create_task(_request())
    assert "after 4 attempts" in raised.value.message
    assert "ConnectError" in raised.value.message


async def test_concurrent_creation_is_round_robin_and_recorded_from_the_servers_side(
    servers: list[ScriptedOrchestration],
) -> None:
    async with _manager([server.url for server in servers]) as manager:
        created = await manager.create_tasks_concurrent([_request(n) for n in range(10)], concurrency=4)
        assert manager.served_by_instance() == {"orchestration-1": 5, "orchestration-2": 5}
    assert len({task.task_uuid for task in created}) == 10
    assert [len(server.tasks) for server in servers] == [5, 5]


async def test_waiting_survives_a_transient_read_error(servers: list[ScriptedOrchestration]) -> None:
    servers[0].script.reads_until_complete = 3
    async with _manager([servers[0].url]) as manager:
        created = await manager.create_tasks_concurrent([_request(n) for n in range(3)])
        servers[0].script.get.extend(["503", "503"])
        finished = await manager.wait_for_tasks_completion([task.task_uuid for task in created], timeout=10)
    assert [task.status for task in finished] == ["complete"] * 3
    assert [task.task_uuid for task in finished] == [task.task_uuid for task in created]


async def test_waiting_survives_a_read_that_times_out_and_a_gateway_timeout(
    servers: list[ScriptedOrchestration],
) -> None:
    # A GET changes nothing on the server, so a read that timed out is as safe to repeat as a refused one.
    config = ClusterConfig(orchestration_urls=(servers[0].url,), request_timeout=HANG_S / 3)
    async with MultiInstanceTestManager.from_config(config, retry=FAST_RETRY) as manager:
        created = await manager.create_task(_request())
        servers[0].script.get.extend(["hang", "504"])
        finished = await manager.wait_for_task_completion(created.task_uuid, timeout=10)
    assert finished.status == "complete"
    assert servers[0].script.get == deque(), "both faults were served before the read that succeeded"


async def test_waiting_times_out_naming_the_unfinished_tasks(servers: list[ScriptedOrchestration]) -> None:
    servers[0].script.reads_until_complete = 10**6
    async with _manager([servers[0].url]) as manager:
        created = await manager.create_task(_request())
        with pytest.raises(TaskTimeoutError) as raised:
            await manager.wait_for_task_completion(created.task_uuid, timeout=0.3)
    assert created.task_uuid in raised.value.message
    assert "(pending)" in raised.value.message


async def test_an_unknown_task_fails_the_wait_at_once(servers: list[ScriptedOrchestration]) -> None:
    async with _manager([servers[0].url]) as manager:
        with pytest.raises(TaskApiError) as raised:
            await manager.wait_for_task_completion("00000000-0000-0000-0000-000000000000", timeout=30)
    assert raised.value.status_code == 404


async def test_consistency_check_names_the_instances_that_disagree(servers: list[ScriptedOrchestration]) -> None:
    # Both servers see the same task record, but one reports another status for it.
    async with _manager([servers[0].url, servers[1].url]) as manager:
        created = await manager.create_task(_request())
        servers[1].tasks[created.task_uuid] = servers[0].tasks[created.task_uuid]
        servers[1].script.status_override = "error"
        with pytest.raises(InconsistentTaskError) as raised:
            await manager.verify_task_consistency(created.task_uuid)
    message = str(raised.value)
    assert f"status: {servers[0].url}='complete', {servers[1].url}='error'" in message


async def test_wait_for_healthy_names_the_instance_that_is_not_ready(servers: list[ScriptedOrchestration]) -> None:
    servers[1].script.ready = False
    async with _manager([server.url for server in servers]) as manager:
        with pytest.raises(ClusterNotHealthyError) as raised:
            await manager.wait_for_healthy(timeout=0.3)
    assert f"{servers[1].url}/health/ready: HTTP 503" in raised.value.message
    assert servers[0].url not in raised.value.message


async def test_wait_for_healthy_returns_once_every_instance_is_ready(servers: list[ScriptedOrchestration]) -> None:
    async with _manager([server.url for server in servers]) as manager:
        await manager.wait_for_healthy(timeout=10)
        assert manager.cluster.is_up(0) and manager.cluster.is_up(1)


def test_the_blocking_manager_offers_the_same_calls_without_async(servers: list[ScriptedOrchestration]) -> None:
    config = ClusterConfig(orchestration_urls=(servers[0].url, servers[1].url))
    with BlockingManager.open(config, retry=FAST_RETRY) as manager:
        manager.wait_for_healthy(10)
        created = manager.create_tasks_concurrent([_request(n) for n in range(4)])
        finished = manager.wait_for_tasks_completion([task.task_uuid for task in created], timeout=10)
        assert manager.served_by_instance() == {"orchestration-1": 2, "orchestration-2": 2}
    assert {task.status for task in finished} == {"complete"}
    assert manager.orchestration_count() == 2
