"""`python -m tasker_cluster.services.orchestration --port N --name NAME [--templates DIR]`"""

from __future__ import annotations

import sys

from tasker_cluster.services.common.server import run_service
from tasker_cluster.services.common.settings import parse_orchestration_settings
from tasker_cluster.services.orchestration.service import OrchestrationService


def main() -> None:
    sys.exit(run_service(parse_orchestration_settings, OrchestrationService))


if __name__ == "__main__":
    main()
