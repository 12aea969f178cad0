"""The URLs of the project's database: the local server's (its password read from its data folder), recording it
in .env, and keeping passwords out of what others see (`redact` for output, `without_password` for files).

The configuration says which server is meant (`DatabaseSpec`: the local one at a port, or an external URL); this
module turns "the local one" into a URL. That URL carries the application role's password: only `cluster db url`
and .env (0600) hold it, everything shown goes through `redact`. Free of pydantic and psycopg: status-quick uses it.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tasker_cluster.config.database import DATABASE_URL_KEY, LOCAL_MARKER_KEY
from tasker_cluster.config.model import DatabaseSpec
from tasker_cluster.db.credentials import APP_ROLE, read_credentials
from tasker_cluster.db.location import existing_data_dir
from tasker_cluster.errors import ClusterError
from tasker_cluster.proc.ports import LOOPBACK
from tasker_cluster.project import Project

MASK = "***"
_URL_PASSWORD = re.compile(r"(://[^:/@]+:)[^@]*@")
# `password=...` in a key=value connection string or in a URL's query; a quoted value may hold spaces.
_PARAMETER_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]+)")


def server_url(user: str, password: str, port: int, database: str) -> str:
    """A URL of the local server; the generated passwords are URL-safe, so they need no quoting."""
    return f"postgresql://{user}:{password}@{LOOPBACK}:{port}/{database}"


def local_url(project: Project, port: int, name: str) -> str | None:
    """The application role's URL of the project's own server; None while it has no data folder with passwords
    (before the first `db up`, or a folder from before passwords that `db up` has yet to convert). Reads the
    password file: a command calls it once."""
    data_dir = existing_data_dir(project)
    credentials = read_credentials(data_dir) if data_dir is not None else None
    if credentials is None:
        return None
    return server_url(APP_ROLE, credentials.app_password, port, name)


def database_url(project: Project, database: DatabaseSpec) -> str | None:
    """The URL instances get as DATABASE_URL, password included: the external server's, else the local one's;
    None when `mode` is "none". ClusterError when the local server has not been created yet (its password is made
    with it)."""
    if database.mode == "none":
        return None
    if database.external_url is not None:
        return database.external_url
    found = local_url(project, database.port, database.name)
    if found is None:
        raise ClusterError(
            "the project's local database has not been created yet, so it has no URL (its password is made with it)",
            "run `cluster db up` (or `cluster start-all`), then ask again",
        )
    return found


def record_local_url(env_file: Path, url: str, dotenv: Mapping[str, str]) -> None:
    """Write DATABASE_URL into .env, marked as the local server's (see `config.database`); other keys and comments
    survive. `dotenv` is .env as this command read it: nothing is written when both keys are already there.

    The URL holds a password, so .env is made readable by its owner only, before the password goes in
    (python-dotenv keeps an existing file's mode, and creates a new one 0600)."""
    if env_file.exists() and stat.S_IMODE(env_file.stat().st_mode) & 0o077:
        os.chmod(env_file, 0o600)
    if dotenv.get(DATABASE_URL_KEY) == url and dotenv.get(LOCAL_MARKER_KEY) == url:
        return
    from dotenv import set_key

    set_key(env_file, DATABASE_URL_KEY, url, quote_mode="never")
    set_key(env_file, LOCAL_MARKER_KEY, url, quote_mode="never")


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
