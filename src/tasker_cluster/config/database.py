"""Step 5 of loading: the `[database]` table and which server DATABASE_URL means.

`db up` writes the local server's URL into .env as DATABASE_URL, and records it a second time under
LOCAL_MARKER_KEY; a URL is external only when it is not the one so marked, which a user's hand-set DATABASE_URL never
matches. The marker alone decides: the local server's URL carries a password kept in its data folder, which is the
database layer's to read (`db/urls.py`), so configuration never needs it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from tasker_cluster.config.model import DatabaseSpec

DATABASE_URL_KEY = "DATABASE_URL"
LOCAL_MARKER_KEY = "TASKER_LOCAL_DATABASE_URL"


def with_external_server(
    database: DatabaseSpec, dotenv: Mapping[str, str], environ: Mapping[str, str] = os.environ
) -> DatabaseSpec:
    """`database` with the external server DATABASE_URL names, if it names one (the environment beats .env)."""
    if database.mode == "none":
        return database
    from_environment = environ.get(DATABASE_URL_KEY)
    url = from_environment or dotenv.get(DATABASE_URL_KEY)
    if not url or url == dotenv.get(LOCAL_MARKER_KEY):
        return database
    return database._replace(external_url=url, external_source="environment" if from_environment else ".env")
