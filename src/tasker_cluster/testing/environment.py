"""The environment a test cluster starts from: the machine's basics, none of the caller's settings.

A throwaway cluster must not pick up what the shell that runs the tests exported: a `DATABASE_URL` would make it
migrate and write tasks into the user's database, `TASKER_*_INSTANCES` would change its size, and instance settings
(`TASKER_POOL_MAX`, `TASKER_WORKER_CONCURRENCY`, ...) its behaviour; libpq reads `PG*` variables too. So its
processes get an allow-list, as `env -i` with a PATH would, never the caller's environment minus a deny-list that
the next setting would slip through.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from tasker_cluster.db.binaries import SEARCH_ENV

# Where programs and the interpreter's modules are, whose files these are, and how text is encoded: what any
# process needs to run the same here as in the caller's shell. SEARCH_ENV only says where PostgreSQL is installed.
KEPT = frozenset(
    {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE"}
    | {SEARCH_ENV}
)
KEPT_PREFIXES = ("LC_",)


def clean_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables of `environ` (default: this process's) that KEPT and KEPT_PREFIXES allow, nothing else."""
    source = os.environ if environ is None else environ
    return {key: value for key, value in source.items() if key in KEPT or key.startswith(KEPT_PREFIXES)}
