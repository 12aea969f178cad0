"""Writing the local server's DATABASE_URL into .env, and masking passwords in URLs shown to the user."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from tasker_cluster.config.database import DATABASE_URL_KEY, LOCAL_MARKER_KEY


def record_local_url(env_file: Path, url: str, dotenv: Mapping[str, str]) -> None:
    """Write DATABASE_URL into .env, marked as the local server's (see `config.database`); other keys and comments
    survive. `dotenv` is .env as this command read it: nothing is written when both keys are already there."""
    if dotenv.get(DATABASE_URL_KEY) == url and dotenv.get(LOCAL_MARKER_KEY) == url:
        return
    from dotenv import set_key

    set_key(env_file, DATABASE_URL_KEY, url, quote_mode="never")
    set_key(env_file, LOCAL_MARKER_KEY, url, quote_mode="never")


def redact(url: str) -> str:
    """The URL with its password masked, for messages and status output."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)
