"""Values PostgreSQL can store exactly: checked where they enter (a request, a handler's result), not where they fail.

Its text and jsonb types hold no NUL character and no lone UTF-16 surrogate; jsonb holds no NaN or infinity (which
Python's JSON parsing gives for `NaN` or, read as a float, an overflowing `1e400`). A number read exactly (a
Decimal, see common/request_body.py) is stored as jsonb's numeric, which keeps its digits and decimal places but
has no negative zero and at most 131072 digits before the point and 16383 after (PostgreSQL's numeric limits).
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

_NUMERIC_MAX_INTEGER_DIGITS = 131072
_NUMERIC_MAX_FRACTION_DIGITS = 16383


def check_storable(value: Any, at: str = "") -> Any:
    """`value` unchanged, or ValueError saying what cannot be stored and where in it (`at ['key'][0]: ...`)."""
    if isinstance(value, str):
        _check_text(value, at)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{_where(at)}holds {value}: numbers must be finite")
    elif isinstance(value, Decimal):
        _check_number(value, at)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, at)
            check_storable(item, f"{at}[{key!r}]")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_storable(item, f"{at}[{index}]")
    return value


def _where(at: str) -> str:
    return f"at {at}: " if at else ""


def _check_text(text: str, at: str) -> None:
    if "\x00" in text:
        raise ValueError(f"{_where(at)}contains a NUL character (\\u0000), which cannot be stored")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(
            f"{_where(at)}contains a lone surrogate (\\u{ord(text[error.start]):04x}), which is not Unicode text"
        ) from None


def _check_number(number: Decimal, at: str) -> None:
    if number.is_zero() and number.is_signed():
        zero = abs(number)
        raise ValueError(
            f"{_where(at)}{number} is a negative zero: jsonb has none, it would return {zero}; send {zero}"
        )
    exponent = number.as_tuple().exponent
    if not number.is_finite() or not isinstance(exponent, int):
        raise ValueError(f"{_where(at)}holds {number}: numbers must be finite")
    if number.adjusted() >= _NUMERIC_MAX_INTEGER_DIGITS or -exponent > _NUMERIC_MAX_FRACTION_DIGITS:
        raise ValueError(
            f"{_where(at)}{number} cannot be stored exactly: PostgreSQL's numeric holds at most "
            f"{_NUMERIC_MAX_INTEGER_DIGITS} digits before the decimal point and {_NUMERIC_MAX_FRACTION_DIGITS} after"
        )
