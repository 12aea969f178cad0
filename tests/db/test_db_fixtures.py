"""The shared database fixtures give each test its own database, with or without PGMQ."""

from __future__ import annotations

import psycopg
import pytest

pytestmark = pytest.mark.db


def test_database_url_has_pgmq_and_can_send_and_read(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SELECT pgmq.create('fixture_probe')")
        conn.execute("SELECT pgmq.send('fixture_probe', '{\"n\": 1}'::jsonb)")
        row = conn.execute("SELECT message FROM pgmq.read('fixture_probe', 30, 1)").fetchone()
    assert row is not None and row[0] == {"n": 1}


def test_each_database_url_is_a_fresh_database(database_url: str) -> None:
    # The previous test created a queue; a fresh clone of the template must not have it.
    with psycopg.connect(database_url) as conn:
        queues = conn.execute("SELECT queue_name FROM pgmq.list_queues()").fetchall()
    assert queues == []


def test_empty_database_url_has_no_pgmq(empty_database_url: str) -> None:
    with psycopg.connect(empty_database_url) as conn:
        row = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'pgmq'").fetchone()
    assert row is None
