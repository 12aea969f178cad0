"""queries.sql: every query the code asks for exists, and queue tables are bound as quoted identifiers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tasker_cluster.services.common.queries import QUERIES_FILE, parse_queries, query, queue_query

SERVICES = Path(__file__).resolve().parents[2] / "src" / "tasker_cluster" / "services"


def test_every_query_named_in_the_code_is_defined_in_queries_sql() -> None:
    defined = set(parse_queries(QUERIES_FILE.read_text()))
    named = set()
    for source in SERVICES.rglob("*.py"):
        named |= set(re.findall(r'query\("([a-z_]+)"', source.read_text()))
    assert named, "the scan found no query names: the pattern no longer matches the code"
    assert named <= defined, f"named but not defined: {sorted(named - defined)}"


def test_a_query_name_defined_twice_is_an_error() -> None:
    text = "-- name: a --\nSELECT 1;\n-- name: a --\nSELECT 2;\n"
    with pytest.raises(ValueError, match="defined twice"):
        parse_queries(text)


def test_each_query_runs_to_the_next_header_and_keeps_its_description() -> None:
    parsed = parse_queries("-- preamble\n-- name: one --\n-- the first\nSELECT 1;\n\n-- name: two --\nSELECT 2;\n")
    assert parsed == {"one": "-- the first\nSELECT 1;", "two": "SELECT 2;"}


def test_a_queue_query_binds_the_queue_table_as_a_quoted_identifier() -> None:
    text = queue_query("claim_steps", "worker_examples_queue")
    assert 'pgmq."q_worker_examples_queue"' in text
    assert "{queue_table}" not in text
    # Literal braces are written doubled for str.format and come out single.
    assert "{36}" in text and "{{36}}" in query("claim_steps")
