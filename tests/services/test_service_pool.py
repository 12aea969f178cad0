"""The services' pool against a real PostgreSQL: no connection the server closed is handed out, nothing waits while
the database is known down, and a statement whose connection ended is run again (a bounded number of times)."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest

from tasker_cluster.services.common.availability import Availability, DatabaseUnavailable
from tasker_cluster.services.common.database import RECONNECTS, retry_transaction
from tasker_cluster.services.common.pool import ServicePool, closed_by_server

pytestmark = pytest.mark.db

APP = "tasker-pool-test"


def terminate_pool_backends(url: str) -> int:
    """Terminate the pool's backends and wait until they have exited (so their goodbye was sent)."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity WHERE application_name = %s", (APP,)
        ).fetchone()
    assert row is not None
    return int(row[0])


async def open_pool(url: str, availability: Availability, size: int) -> ServicePool:
    pool = ServicePool(
        url,
        availability,
        min_size=size,
        max_size=size,
        kwargs={"autocommit": True, "application_name": APP},
        open=False,
    )
    await pool.open(wait=True, timeout=10)
    return pool


def test_a_connection_whose_backend_was_terminated_is_seen_closed_without_a_round_trip(empty_database_url: str) -> None:
    async def scenario() -> tuple[bool, bool]:
        conn = await psycopg.AsyncConnection.connect(empty_database_url, autocommit=True, application_name=APP)
        alive = closed_by_server(conn)
        terminate_pool_backends(empty_database_url)
        # The server's goodbye travels over loopback; poll until it has arrived rather than sleeping a fixed time.
        for _ in range(500):
            if closed_by_server(conn):
                return alive, True
            await asyncio.sleep(0.01)
        return alive, False

    assert asyncio.run(scenario()) == (False, True)


def test_after_every_idle_backend_was_terminated_each_request_gets_a_working_connection(
    empty_database_url: str,
) -> None:
    async def scenario() -> tuple[int, list[int], dict[str, int]]:
        pool = await open_pool(empty_database_url, Availability("test"), size=4)
        try:
            terminated = terminate_pool_backends(empty_database_url)
            answers = []
            for _ in range(8):
                async with pool.connection(timeout=10) as conn:
                    cursor = await conn.execute("SELECT 1")
                    row = await cursor.fetchone()
                    assert row is not None
                    answers.append(row[0])
            return terminated, answers, pool.get_stats()
        finally:
            await pool.close()

    terminated, answers, stats = asyncio.run(scenario())
    assert terminated == 4
    assert answers == [1] * 8
    print(f"\npool stats after 4 stale connections: {stats}")


def test_while_the_database_is_known_down_a_request_for_a_connection_is_refused_at_once(
    empty_database_url: str,
) -> None:
    async def scenario() -> tuple[str, int]:
        availability = Availability("127.0.0.1:1/nowhere")
        pool = await open_pool(empty_database_url, availability, size=1)
        try:
            availability.lost("Connection refused")
            with pytest.raises(DatabaseUnavailable) as refused:
                # A timeout this long would fail the test by pytest-timeout if the pool were waited on.
                await pool.getconn(timeout=600)
            availability.restored()
            async with pool.connection(timeout=10) as conn:
                cursor = await conn.execute("SELECT 1")
                row = await cursor.fetchone()
            assert row is not None
            return str(refused.value), row[0]
        finally:
            await pool.close()

    message, answer = asyncio.run(scenario())
    assert message == "the database at 127.0.0.1:1/nowhere does not answer: Connection refused"
    assert answer == 1


def test_a_statement_whose_connection_the_server_ended_is_run_again_a_bounded_number_of_times(
    empty_database_url: str,
) -> None:
    async def scenario() -> tuple[int, list[str], list[int]]:
        pool = await open_pool(empty_database_url, Availability("test"), size=2)
        calls: list[str] = []

        async def ends_its_connection_the_first_time() -> int:
            calls.append("once")
            async with pool.connection() as conn:
                # The backend terminates itself: the client gets FATAL 57P01, as from pg_terminate_backend.
                statement = "SELECT 1" if len(calls) > 1 else "SELECT pg_terminate_backend(pg_backend_pid())::int"
                cursor = await conn.execute(statement)
                row = await cursor.fetchone()
            assert row is not None
            return int(row[0])

        async def always_ends_its_connection() -> Any:
            calls.append("always")
            async with pool.connection() as conn:
                await conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")

        try:
            answer = await retry_transaction(ends_its_connection_the_first_time, "test")
            codes = []
            try:
                await retry_transaction(always_ends_its_connection, "test")
            except psycopg.OperationalError as error:
                codes.append(1 if error.sqlstate == "57P01" else 0)
            return answer, calls, codes
        finally:
            await pool.close()

    answer, calls, codes = asyncio.run(scenario())
    assert answer == 1
    assert calls == ["once", "once", *["always"] * (1 + RECONNECTS)]
    assert codes == [1]
