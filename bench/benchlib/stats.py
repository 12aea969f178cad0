"""Medians with their min-max, and ratios of two contenders measured side by side."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Summary:
    median: float
    low: float
    high: float
    runs: int

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def ms(self) -> str:
        return f"{self.median * 1000:.1f} ms ({self.low * 1000:.1f}-{self.high * 1000:.1f})"

    def seconds(self) -> str:
        return f"{self.median:.3f} s ({self.low:.3f}-{self.high:.3f})"

    def times(self) -> str:
        return f"{self.median:.2f}x ({self.low:.2f}-{self.high:.2f})"


def summarize(values: Sequence[float]) -> Summary:
    if not values:
        raise ValueError("no values to summarize")
    return Summary(statistics.median(values), min(values), max(values), len(values))


def paired_ratio(numerator: Sequence[float], denominator: Sequence[float]) -> Summary:
    """Ratio of run i of A to run i of B: both ran back to back, so machine drift cancels out of each pair."""
    return summarize([a / b for a, b in zip(numerator, denominator, strict=True)])


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: a value that was actually observed."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]
