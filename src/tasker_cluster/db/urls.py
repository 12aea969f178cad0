"""Which DATABASE_URL a project uses: an external one from the environment or .env, or the local server's.

`db up` writes the local URL into .env, so a URL found there is external only when it is not one `db up` wrote:
`db up` records its URL a second time under LOCAL_MARKER_KEY, which a user's hand-set DATABASE_URL never matches.
Free of pydantic and psycopg: status-quick uses it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from tasker_cluster.proc.ports import LOOPBACK

DATABASE_URL_KEY = "DATABASE_URL"
LOCAL_MARKER_KEY = "TASKER_LOCAL_DATABASE_URL"
SUPERUSER = "postgres"


def local_url(port: int, name: str) -> str:
    return f"postgresql://{SUPERUSER}@{LOOPBACK}:{port}/{name}"


def _dotenv(env_file: Path) -> dict[str, str]:
    if not env_file.is_file():
        return {}
    from dotenv import dotenv_values

    return {key: value for key, value in dotenv_values(env_file).items() if value is not None}


def external_url(env_file: Path, port: int, name: str) -> str | None:
    """DATABASE_URL from the process environment, else .env, unless it is this project's local server."""
    dotenv = _dotenv(env_file)
    url = os.environ.get(DATABASE_URL_KEY) or dotenv.get(DATABASE_URL_KEY)
    if not url or url in (local_url(port, name), dotenv.get(LOCAL_MARKER_KEY)):
        return None
    return url


def record_local_url(env_file: Path, url: str) -> None:
    """Write DATABASE_URL into .env; other keys and comments survive. No write when it is already there."""
    dotenv = _dotenv(env_file)
    if dotenv.get(DATABASE_URL_KEY) == url and dotenv.get(LOCAL_MARKER_KEY) == url:
        return
    from dotenv import set_key

    set_key(env_file, DATABASE_URL_KEY, url, quote_mode="never")
    set_key(env_file, LOCAL_MARKER_KEY, url, quote_mode="never")


def redact(url: str) -> str:
    """The URL with its password masked, for messages and status output."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)
