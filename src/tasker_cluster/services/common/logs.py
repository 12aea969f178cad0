"""Log format for service instances: one line per event on stderr, which the lifecycle tool writes to a file.

uvicorn's access log has one line per request, except a successful probe: `/health`, `/health/ready` and `/metrics`
are called every few seconds on every instance (by `cluster status`, an orchestrator's liveness and readiness probes,
a metrics scraper), and their lines would bury every other (`status --watch` alone wrote two dozen a second). A
probe that fails (4xx, 5xx: a not-ready 503 included) is logged, as is every other request; `--log-level debug`
logs successful probes too. This is what services on uvicorn commonly do (a filter on the `uvicorn.access` logger).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Collection

from tasker_cluster.services.common.health_views import PROBE_PATHS

_FORMAT = "%(asctime)s.%(msecs)03d %(levelname)s %(name)s: %(message)s"
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"
# Libraries that are chatty at INFO about things an operator never acts on.
_QUIET = ("psycopg", "psycopg.pool", "uvicorn.error")
_ACCESS_LOGGER = "uvicorn.access"


class SuccessfulProbeFilter(logging.Filter):
    """Drops uvicorn's access line of a GET or HEAD of one of `paths` (its query string aside) answered below 400.

    uvicorn logs each request as `'%s - "%s %s HTTP/%s" %d'` with the arguments (client, method, path with query,
    HTTP version, status); a record of any other shape passes.
    """

    def __init__(self, paths: Collection[str]) -> None:
        super().__init__()
        self.paths = frozenset(paths)

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not isinstance(args, tuple) or len(args) != 5:
            return True
        _, method, target, _, status = args
        path = str(target).partition("?")[0]
        probe = method in ("GET", "HEAD") and path in self.paths
        return not (probe and isinstance(status, int) and status < 400)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT, _DATE_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    access = logging.getLogger(_ACCESS_LOGGER)
    access.filters[:] = [] if root.level <= logging.DEBUG else [SuccessfulProbeFilter(PROBE_PATHS)]
