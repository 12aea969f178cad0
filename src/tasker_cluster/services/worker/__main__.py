"""`python -m tasker_cluster.services.worker --port N --name NAME --namespaces a,b`"""

from __future__ import annotations

import sys

from tasker_cluster.services.common.server import run_service
from tasker_cluster.services.common.settings import parse_worker_settings
from tasker_cluster.services.worker.service import WorkerService


def main() -> None:
    sys.exit(run_service(parse_worker_settings, WorkerService))


if __name__ == "__main__":
    main()
