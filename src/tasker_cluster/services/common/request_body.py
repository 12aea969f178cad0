"""A request body read within a size limit and parsed as JSON that keeps every number exactly.

Refusals (ApiError): 413 once more than the limit has arrived (the declared Content-Length is checked first, a chunked
body while it is read); 400 for a body that is not UTF-8 JSON (RFC 8259 §8.1); 422 for an object with a key twice
(RFC 8259 §4 leaves its meaning to the parser: Python keeps the last value, PostgreSQL's jsonb too, the sender may
have meant the first), for NaN or Infinity, which are not JSON, and for arrays and objects nested deeper than
MAX_NESTING_DEPTH (RFC 8259 §9 lets a parser limit it).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from itertools import accumulate
from typing import Any

from starlette.requests import Request

from tasker_cluster.services.common.problems import ApiError

# The default limit: far above any task request, far below what would stall an instance (issue 17 measured a 200 MB
# body taking 19 s and 1.3 GB).
DEFAULT_MAX_BODY_BYTES = 1024 * 1024

# Levels of arrays and objects, the body's own object being the first: System.Text.Json's default (serde_json's is
# 128), far beyond any task's context, and far below where the walks a body goes through break: Python's JSON parser,
# pydantic and the storable check recurse once per level under a recursion limit of 1000 shared with the server's
# own frames (a body 985 levels deep raised RecursionError), PostgreSQL's jsonb parser under its max_stack_depth.
MAX_NESTING_DEPTH = 64

# A JSON string with its escapes, and a run of anything but brackets.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_BRACKET_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, or ApiError(413) as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit, f"declares {int(declared)} bytes")
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            # The rest is read and dropped by the server (uvicorn keeps the connection), so the client gets this
            # answer rather than a connection reset in the middle of its upload.
            raise _too_large(limit, f"is over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int, what: str) -> ApiError:
    return ApiError(
        413,
        f"the request body {what}; this instance accepts at most {limit} bytes",
        "send a smaller body (or start the instance with a larger --max-body-bytes)",
    )


class _DuplicateKeyError(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        keys = [key for key, _ in pairs]
        raise _DuplicateKeyError(next(key for index, key in enumerate(keys) if key in keys[:index]))
    return found


def _integer(text: str) -> int | Decimal:
    # -0 would be read as 0, and Python refuses integers of more than 4300 digits: a Decimal keeps both exactly
    # for the checks that follow (common/storable.py).
    if text == "-0" or len(text) > 4000:
        return Decimal(text)
    return int(text)


def _not_json(constant: str) -> Any:
    raise ValueError(constant)


def decode_body(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ApiError(
            400, f"the request body is not UTF-8 text (byte {error.start})", "send JSON encoded in UTF-8"
        ) from None


def nesting_depth(text: str) -> int:
    """How many levels of arrays and objects the JSON text `text` nests (0 for a lone number or string), found by
    counting brackets outside strings, without recursion. For text that is not JSON the count is of its brackets
    outside well-formed strings."""
    brackets = _NOT_BRACKETS.sub("", _STRING.sub("", text))
    return max(accumulate(map(_BRACKET_STEP.__getitem__, brackets)), default=0)


def parse_json(text: str) -> Any:
    """The JSON value of `text`: objects as dicts, integers as ints, every other number as an exact Decimal."""
    depth = nesting_depth(text)
    if depth > MAX_NESTING_DEPTH:
        # Refused before the parse: every walk that follows recurses once per level.
        raise ApiError(
            422,
            f"the request body is nested deeper than {MAX_NESTING_DEPTH} levels: its arrays and objects nest "
            f"{depth} levels deep",
            f"flatten it: at most {MAX_NESTING_DEPTH} levels of arrays and objects, the body's own object counting "
            "as the first",
        )
    try:
        return json.loads(
            text, object_pairs_hook=_unique_keys, parse_float=Decimal, parse_int=_integer, parse_constant=_not_json
        )
    except _DuplicateKeyError as error:
        raise ApiError(
            422,
            f"the request body has the key {error.key!r} twice in one object",
            "send each key once: which value was meant cannot be known",
        ) from None
    except json.JSONDecodeError as error:
        raise ApiError(
            400,
            f"the request body is not JSON: {error.msg} (line {error.lineno}, column {error.colno})",
            "send one JSON object",
        ) from None
    except ValueError as error:
        raise ApiError(
            422, f"the request body holds {error}, which is not a JSON number", "send finite numbers only"
        ) from None
