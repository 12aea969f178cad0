"""Values PostgreSQL can store: checked where they enter (a request, a handler's result), not where they fail."""

from __future__ import annotations

import math
from typing import Any


def check_storable(value: Any) -> Any:
    """Raise ValueError for what PostgreSQL cannot store: its text and jsonb types hold no NUL character, and
    jsonb no NaN or infinity (which JSON parsing gives for `NaN` or an overflowing `1e400`)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("contains a NUL character (\\u0000), which cannot be stored")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"holds {value}: numbers must be finite")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_storable(key)
            check_storable(item)
    elif isinstance(value, list | tuple):
        for item in value:
            check_storable(item)
    return value
