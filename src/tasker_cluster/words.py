"""Counted nouns in output: "1 instance", "5 instances", never "instance(s)"."""

from __future__ import annotations


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """`count` and `noun` in the number the count takes: the singular for exactly one, else `plural` (default:
    `noun` + "s")."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"
