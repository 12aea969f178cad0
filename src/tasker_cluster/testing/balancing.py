"""Load-balancing strategies: which orchestration instance the next request goes to.

A strategy picks an index among `count` instances, given which of them are currently believed to be up. Instances
marked down (a connection failed, a probe failed) are passed over until a health probe re-admits them; when none is
up, the pick falls back to every instance so that the request fails with the real error instead of a guess.
"""

from __future__ import annotations

import itertools
import random
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


class LoadBalancingStrategy(Protocol):
    def choose(self, up: Sequence[bool]) -> int:
        """Index of the instance to use; `up[i]` says whether instance i is believed reachable."""
        ...


def _candidates(up: Sequence[bool]) -> list[int]:
    if not up:
        raise ValueError("no instances to choose from")
    alive = [index for index, is_up in enumerate(up) if is_up]
    return alive or list(range(len(up)))


@dataclass
class RoundRobin:
    """Each instance in turn; an instance marked down is skipped, so a retry lands on another one."""

    _counter: itertools.count[int] = field(default_factory=itertools.count, repr=False)

    def choose(self, up: Sequence[bool]) -> int:
        candidates = _candidates(up)
        # The counter walks the full ring, so the distribution stays even when everyone is up.
        turn = next(self._counter) % len(up)
        return min(candidates, key=lambda index: (index - turn) % len(up))


@dataclass
class Random:
    seed: int | None = None
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def choose(self, up: Sequence[bool]) -> int:
        return self._rng.choice(_candidates(up))


@dataclass(frozen=True)
class FirstHealthy:
    """The first instance that is up, in configuration order."""

    def choose(self, up: Sequence[bool]) -> int:
        return _candidates(up)[0]


@dataclass(frozen=True)
class Sticky:
    """Always the same instance for the same key (crc32, stable across processes, unlike `hash`)."""

    key: str

    def choose(self, up: Sequence[bool]) -> int:
        candidates = _candidates(up)
        home = zlib.crc32(self.key.encode()) % len(up)
        return min(candidates, key=lambda index: (index - home) % len(up))
