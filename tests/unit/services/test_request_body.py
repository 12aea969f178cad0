"""The nesting depth of a request body, counted from its text before any recursive parse (common/request_body.py)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tasker_cluster.services.common.request_body import nesting_depth

# Strings full of what could fool a count of brackets: brackets, quotes and backslashes, escaped by json.dumps.
TRICKY_TEXT = st.text(alphabet='[]{}"\\ ax\n', max_size=8)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | TRICKY_TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TRICKY_TEXT, children, max_size=3),
    max_leaves=30,
)


def depth_of(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    return 0


@given(JSON_VALUES, st.booleans())
def test_the_depth_counted_from_the_text_is_the_depth_of_the_parsed_value(value: Any, spaced: bool) -> None:
    text = json.dumps(value, indent=1 if spaced else None, ensure_ascii=False)
    assert nesting_depth(text) == depth_of(value)


def test_brackets_inside_strings_do_not_count() -> None:
    assert nesting_depth(r'{"a": "[[[{{{", "b\"[": ["\\", "]"]}') == 2
