"""Which DATABASE_URL a project uses: an external one from the environment or .env, or the local server's.

`db up` writes the local URL into .env, so a URL found there is external only when it is not one `db up` wrote:
`db up` records its URL a second time under LOCAL_MARKER_KEY, which a user's hand-set DATABASE_URL never matches.
The local URL carries the application role's password, read from the server's password file; it is printed only by
`cluster db url`, everything else shows it through `redact`. Free of pydantic and psycopg: status-quick uses it.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tasker_cluster.db.credentials import APP_ROLE, read_credentials
from tasker_cluster.db.location import existing_data_dir
from tasker_cluster.proc.ports import LOOPBACK
from tasker_cluster.project import Project

DATABASE_URL_KEY = "DATABASE_URL"
LOCAL_MARKER_KEY = "TASKER_LOCAL_DATABASE_URL"
MASK = "***"
_URL_PASSWORD = re.compile(r"(://[^:/@]+:)[^@]*@")
# `password=...` in a key=value connection string or in a URL's query; a quoted value may hold spaces.
_PARAMETER_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]+)")


def server_url(user: str, password: str, port: int, database: str) -> str:
    """A URL of the local server; the generated passwords are URL-safe, so they need no quoting."""
    return f"postgresql://{user}:{password}@{LOOPBACK}:{port}/{database}"


def local_url(project: Project, port: int, name: str) -> str | None:
    """The application role's URL of the project's own server; None while it has no data folder with passwords
    (before the first `db up`, or a folder from before passwords that `db up` has yet to convert)."""
    data_dir = existing_data_dir(project)
    credentials = read_credentials(data_dir) if data_dir is not None else None
    if credentials is None:
        return None
    return server_url(APP_ROLE, credentials.app_password, port, name)


def _dotenv(env_file: Path) -> dict[str, str]:
    if not env_file.is_file():
        return {}
    from dotenv import dotenv_values

    return {key: value for key, value in dotenv_values(env_file).items() if value is not None}


def external_url(project: Project, port: int, name: str) -> str | None:
    """DATABASE_URL from the process environment, else .env, unless it is this project's local server."""
    dotenv = _dotenv(project.env_file)
    url = os.environ.get(DATABASE_URL_KEY) or dotenv.get(DATABASE_URL_KEY)
    if not url or url == dotenv.get(LOCAL_MARKER_KEY) or url == local_url(project, port, name):
        return None
    return url


def record_local_url(env_file: Path, url: str) -> None:
    """Write DATABASE_URL into .env; other keys and comments survive. No write when it is already there.

    The URL holds a password, so .env is made readable by its owner only (python-dotenv keeps a file's mode)."""
    dotenv = _dotenv(env_file)
    if dotenv.get(DATABASE_URL_KEY) != url or dotenv.get(LOCAL_MARKER_KEY) != url:
        from dotenv import set_key

        set_key(env_file, DATABASE_URL_KEY, url, quote_mode="never")
        set_key(env_file, LOCAL_MARKER_KEY, url, quote_mode="never")
    if stat.S_IMODE(env_file.stat().st_mode) & 0o077:
        os.chmod(env_file, 0o600)


def redact(url: str) -> str:
    """The URL (or key=value connection string) with its password masked, for messages and status output."""
    return _PARAMETER_PASSWORD.sub(rf"\1{MASK}", _URL_PASSWORD.sub(rf"\1{MASK}@", url))


def without_password(url: str, passfile: Path | None = None) -> str:
    """The URL with no password in it, for files others may read; `passfile` adds libpq's `passfile=` parameter
    naming the file that holds the password (the local server's), so the URL still logs in for whoever can read
    that file. A key=value connection string loses its `password=` only."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        return _PARAMETER_PASSWORD.sub("", url).strip()
    userinfo, at, host = parts.netloc.rpartition("@")
    netloc = f"{userinfo.split(':', 1)[0]}{at}{host}"
    query = [(key, value) for key, value in parse_qsl(parts.query) if key != "password"]
    if passfile is not None:
        query.append(("passfile", str(passfile)))
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query, safe="/")))
