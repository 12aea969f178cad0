"""What every exported instance finds in its environment, and what the exporters name and check alike."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from tasker_cluster.cluster.start import instance_deadlines
from tasker_cluster.config.model import ServiceSpec
from tasker_cluster.errors import ConfigError

from .placeholders import substitute

# Set by the exporter for every instance; a service's `env` cannot override them (as with `start-all`).
INSTANCE_ID = "TASKER_INSTANCE_ID"
INSTANCE_PORT = "TASKER_INSTANCE_PORT"
BIND_ADDRESS = "TASKER_BIND_ADDRESS"
PROJECT_DIR = "TASKER_PROJECT_DIR"
DATABASE_URL = "DATABASE_URL"
# Loopback stays the local default; in a container the port must be reachable from outside its namespace.
CONTAINER_BIND_ADDRESS = "0.0.0.0"

# An image reference: [registry[:port]/]path[:tag][@digest], lower-case path (the distribution spec's grammar,
# simplified to what every engine accepts).
_IMAGE = re.compile(
    r"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)


def service_environment(
    service: ServiceSpec, values: Mapping[str, str], escape: Callable[[str], str], reserved: set[str]
) -> dict[str, str]:
    """The instance deadlines, then the service's own `env` with its placeholders mapped; keys in `reserved`
    are left out, for the exporter to set."""
    env = instance_deadlines(service.stop_grace, service.startup_timeout)
    env.update({key: substitute(value, values, escape) for key, value in service.env.items()})
    return {key: value for key, value in env.items() if key not in reserved}


def check_image(image: str, option: str) -> str:
    if not _IMAGE.match(image):
        raise ConfigError(
            f"{option} {image!r} is not an image reference",
            f"pass {option} like localhost/tasker-cluster:latest or registry.example.com/team/tasker:1.0",
        )
    return image


def project_name(folder: str) -> str:
    """The project folder's name as a DNS label (compose project names and Kubernetes label values accept it)."""
    name = re.sub(r"[^a-z0-9-]+", "-", folder.lower()).strip("-")[:63].rstrip("-")
    return name or "tasker"
