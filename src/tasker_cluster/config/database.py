"""Step 5 of loading: the `[database]` table and which server DATABASE_URL means.

`db up` writes the local server's URL into .env as DATABASE_URL, so a URL found there is external only when it is
not one `db up` wrote: `db up` records its URL a second time under LOCAL_MARKER_KEY, which a user's hand-set
DATABASE_URL never matches.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from tasker_cluster.config.model import DatabaseSpec
from tasker_cluster.proc.ports import LOOPBACK

DATABASE_URL_KEY = "DATABASE_URL"
LOCAL_MARKER_KEY = "TASKER_LOCAL_DATABASE_URL"
SUPERUSER = "postgres"


def local_url(port: int, name: str) -> str:
    """The URL of the project's own server: trust authentication on loopback, as `db up` sets it up."""
    return f"postgresql://{SUPERUSER}@{LOOPBACK}:{port}/{name}"


def with_external_server(
    database: DatabaseSpec, dotenv: Mapping[str, str], environ: Mapping[str, str] = os.environ
) -> DatabaseSpec:
    """`database` with the external server DATABASE_URL names, if it names one (the environment beats .env)."""
    if database.mode == "none":
        return database
    from_environment = environ.get(DATABASE_URL_KEY)
    url = from_environment or dotenv.get(DATABASE_URL_KEY)
    if not url or url in (local_url(database.port, database.name), dotenv.get(LOCAL_MARKER_KEY)):
        return database
    return database._replace(external_url=url, external_source="environment" if from_environment else ".env")
