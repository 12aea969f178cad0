"""How an instance follows the database's availability: driven through seams (a scripted connect, recorded sleeps,
a fake clock), no server."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest

from tasker_cluster.services.common.availability import Availability, DatabaseUnavailable, cause
from tasker_cluster.services.common.wakeup import NotificationListener


class ListeningConnection:
    """Accepts the LISTEN statements, which are all the listener sends before it hands the connection back."""

    def __init__(self) -> None:
        self.statements: list[Any] = []

    async def execute(self, statement: Any) -> None:
        self.statements.append(statement)


class ScriptedServer:
    """Refuses `refusals` connection attempts, then accepts."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.attempts = 0

    async def connect(self) -> Any:
        self.attempts += 1
        if self.attempts <= self.refusals:
            raise psycopg.OperationalError(
                'connection failed: connection to server at "127.0.0.1", port 5433 failed: Connection refused'
            )
        return ListeningConnection()


def reconnect_through(refusals: int) -> tuple[list[float], Availability, NotificationListener, ScriptedServer]:
    server = ScriptedServer(refusals)
    pauses: list[float] = []
    seen_down: list[bool] = []
    availability = Availability("127.0.0.1:5433/tasker")

    async def pause(seconds: float) -> None:
        seen_down.append(not availability.available)
        pauses.append(seconds)

    listener = NotificationListener("", ["q1", "q2"], availability, connect=server.connect, sleep=pause)

    async def scenario() -> None:
        await listener.reconnect()

    asyncio.run(scenario())
    assert all(seen_down), "reported down from the first refused attempt on"
    return pauses, availability, listener, server


@pytest.mark.parametrize("refusals", [3, 2_000])
def test_the_database_is_tried_at_one_fixed_interval_however_long_the_outage(refusals: int) -> None:
    pauses, availability, listener, server = reconnect_through(refusals)

    assert server.attempts == refusals + 1
    assert len(pauses) == refusals
    assert len(set(pauses)) == 1, f"the interval changed during the outage: {sorted(set(pauses))}"
    assert 0 < pauses[0] <= 0.5
    assert availability.available and availability.reason == ""
    assert listener.connected


def test_the_database_answering_at_the_first_attempt_never_counts_as_down() -> None:
    pauses, availability, _listener, _server = reconnect_through(0)

    assert pauses == []
    assert availability.available


def test_every_queue_is_rung_once_the_database_answers_again() -> None:
    _pauses, _availability, listener, _server = reconnect_through(5)

    rung = [wakeup._event.is_set() for wakeup in listener.wakeups.values()]
    assert rung == [True, True]


def test_while_down_requests_are_refused_with_the_cause_and_readiness_says_for_how_long() -> None:
    now = [100.0]
    availability = Availability("127.0.0.1:5433/tasker", clock=lambda: now[0])
    error = psycopg.OperationalError(
        'connection failed: connection to server at "127.0.0.1", port 5433 failed: Connection refused\n'
        "\tIs the server running on that host and accepting TCP/IP connections?"
    )

    availability.require()
    availability.lost(cause(error))
    now[0] += 2.5
    availability.lost("the database system is starting up")
    with pytest.raises(DatabaseUnavailable) as refused:
        availability.require()
    described = availability.describe()
    availability.restored()

    assert (
        str(refused.value)
        == "the database at 127.0.0.1:5433/tasker does not answer: the database system is starting up"
    )
    assert described == "127.0.0.1:5433/tasker has not answered for 2.5 s: the database system is starting up"
    assert availability.available and availability.down_for() == 0.0
    availability.require()
