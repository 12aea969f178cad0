"""The configuration as Kubernetes manifests: per service a StatefulSet and its headless Service, plus a load-balanced
Service for each orchestration service.

StatefulSets, not Deployments: pods keep the instances' names (`orchestration-1`, ...), so the records' `created_by`
and `processed_by` name the same instance across restarts. Ordinals start at 1 (`ordinals.start`, on by default
since Kubernetes 1.27) and `{index}` comes from the pod-index label (since 1.28): the manifests need Kubernetes
>= 1.28. DATABASE_URL comes from a Secret the user provides; it is never written into a manifest.
"""

from __future__ import annotations

import math
import re
from typing import Any, NamedTuple

from tasker_cluster.config.model import ClusterConfig, ServiceSpec
from tasker_cluster.errors import ConfigError
from tasker_cluster.proc.probes import request_target

from .environment import (
    BIND_ADDRESS,
    CONTAINER_BIND_ADDRESS,
    DATABASE_URL,
    INSTANCE_ID,
    INSTANCE_PORT,
    PROJECT_DIR,
    check_image,
    service_environment,
)
from .placeholders import IMAGE_PROJECT_DIR, IMAGE_PYTHON, placeholders_in, substitute

MINIMUM_VERSION = "1.28"
HEADLESS_SUFFIX = "-headless"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
INSTANCE_INDEX = "TASKER_INSTANCE_INDEX"
DATABASE_SECRET = "tasker-database"
DATABASE_SECRET_KEY = "DATABASE_URL"
PORT_NAME = "http"
# A StatefulSet's pods carry the label `controller-revision-hash: <name>-<10 characters>`, which must fit 63.
_STATEFULSET_NAME_LIMIT = 52
# A Secret's name is a DNS subdomain (RFC 1123); its keys are letters, digits, '-', '_' and '.'.
_SECRET_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
# The environment variable names every supported version accepts (1.34 relaxed the rule).
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_RESERVED = {INSTANCE_ID, INSTANCE_INDEX, INSTANCE_PORT, BIND_ADDRESS, PROJECT_DIR, DATABASE_URL}
_STARTUP_PERIOD_S = 2
_READINESS_PERIOD_S = 5
_LIVENESS_PERIOD_S = 10
_PROBE_TIMEOUT_S = 2
_PROBE_FAILURES = 3
# After SIGTERM the instance stops by its own deadline (TASKER_STOP_GRACE, inside stop_grace, as locally); the
# kubelet's SIGKILL comes later, since the pod's removal from the Services' endpoints races with that SIGTERM.
_GRACE_MARGIN_S = 5


class KubernetesOptions(NamedTuple):
    image: str
    project_name: str
    database_secret: str = DATABASE_SECRET
    database_secret_key: str = DATABASE_SECRET_KEY


def kubernetes_manifests(config: ClusterConfig, options: KubernetesOptions) -> dict[str, list[dict[str, Any]]]:
    """Per service (in configuration order), its resources as plain data: the headless Service, the load-balanced
    Service (orchestration only), the StatefulSet. ConfigError names what cannot be mapped and the fix."""
    check_image(options.image, "--image")
    _check_secret(options)
    manifests = {service.name: _service_resources(service, config, options) for service in config.services}
    _check_unique_names(config, manifests)
    return manifests


def headless_name(service: str) -> str:
    return service + HEADLESS_SUFFIX


def instance_url(service: ServiceSpec, index: int) -> str:
    """An instance's URL from inside the cluster (same namespace): its pod's DNS name under the headless Service."""
    return f"http://{service.name}-{index}.{headless_name(service.name)}:{service.base_port}"


def _service_resources(service: ServiceSpec, config: ClusterConfig, options: KubernetesOptions) -> list[dict[str, Any]]:
    _check_names(config, service)
    _check_env_names(config, service)
    labels = _labels(service, options)
    selector = _selector(service, options)
    ports = [{"name": PORT_NAME, "port": service.base_port, "targetPort": PORT_NAME}]
    resources = [
        _service(headless_name(service.name), labels, selector, ports, clusterIP="None", publishNotReadyAddresses=True)
    ]
    if service.role == "orchestration":
        resources.append(_service(service.name, labels, selector, ports, type="ClusterIP"))
    resources.append(_stateful_set(service, config, options, labels, selector))
    return resources


def _service(
    name: str, labels: dict[str, str], selector: dict[str, str], ports: list[dict[str, Any]], **spec: object
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": labels},
        # Not-ready pods keep their DNS names under the headless Service: each URL names one instance, ready or not.
        "spec": {**spec, "selector": selector, "ports": ports},
    }


def _stateful_set(
    service: ServiceSpec,
    config: ClusterConfig,
    options: KubernetesOptions,
    labels: dict[str, str],
    selector: dict[str, str],
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": service.name, "labels": labels},
        "spec": {
            "serviceName": headless_name(service.name),
            "replicas": service.count,
            "podManagementPolicy": "Parallel",
            "ordinals": {"start": 1},
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "terminationGracePeriodSeconds": math.ceil(service.stop_grace) + _GRACE_MARGIN_S,
                    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [_container(service, config, options)],
                },
            },
        },
    }


def _container(service: ServiceSpec, config: ClusterConfig, options: KubernetesOptions) -> dict[str, Any]:
    values = {
        "python": IMAGE_PYTHON,
        "port": str(service.base_port),
        "index": f"$({INSTANCE_INDEX})",
        "name": f"$({INSTANCE_ID})",
        "project_dir": IMAGE_PROJECT_DIR,
    }
    return {
        "name": service.name,
        "image": options.image,
        "imagePullPolicy": "IfNotPresent",
        "command": [substitute(arg, values, _escape) for arg in service.command],
        "env": _env(service, config, options, values),
        "ports": [{"name": PORT_NAME, "containerPort": service.base_port, "protocol": "TCP"}],
        **_probes(service, config),
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    }


def _env(
    service: ServiceSpec, config: ClusterConfig, options: KubernetesOptions, values: dict[str, str]
) -> list[dict[str, Any]]:
    # The downward API first: a later value may refer to an earlier variable as $(NAME), never to a later one.
    env: list[dict[str, Any]] = [_field(INSTANCE_ID, "metadata.name")]
    if "index" in _placeholders(service):
        env.append(_field(INSTANCE_INDEX, f"metadata.labels['{POD_INDEX_LABEL}']"))
    literal = service_environment(service, values, _escape, _RESERVED)
    literal.update(
        {
            INSTANCE_PORT: str(service.base_port),
            BIND_ADDRESS: CONTAINER_BIND_ADDRESS,
            PROJECT_DIR: IMAGE_PROJECT_DIR,
        }
    )
    env += [{"name": name, "value": value} for name, value in literal.items()]
    if config.database.mode == "local":
        secret = {"name": options.database_secret, "key": options.database_secret_key}
        env.append({"name": DATABASE_URL, "valueFrom": {"secretKeyRef": secret}})
    return env


def _field(name: str, path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def _probes(service: ServiceSpec, config: ClusterConfig) -> dict[str, Any]:
    """startup, readiness and liveness probes by the service's probe kind: httpGet of its health and ready paths,
    tcpSocket, or exec of its probe command; none for "none" (a pod without a readiness probe is Ready once its
    containers run)."""
    if service.probe == "none":
        return {}
    startup_failures = math.ceil(service.startup_timeout / _STARTUP_PERIOD_S)
    # timeoutSeconds is a whole number of seconds, at least 1: a shorter probe_timeout is rounded up.
    timeout = math.ceil(service.probe_timeout) if service.probe_timeout is not None else _PROBE_TIMEOUT_S
    health, ready = _handlers(service, config)
    return {
        "startupProbe": _probe(health, _STARTUP_PERIOD_S, startup_failures, timeout),
        "readinessProbe": _probe(ready, _READINESS_PERIOD_S, _PROBE_FAILURES, timeout),
        "livenessProbe": _probe(health, _LIVENESS_PERIOD_S, _PROBE_FAILURES, timeout),
    }


def _handlers(service: ServiceSpec, config: ClusterConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    """The (health, ready) handlers of the service's probe kind: its two paths, or one tcpSocket or exec for both."""
    if service.probe == "http":
        return {"httpGet": _http_get(service.health_path)}, {"httpGet": _http_get(service.ready_path)}
    handler = {"tcpSocket": {"port": PORT_NAME}} if service.probe == "tcp" else {"exec": _exec(service, config)}
    return handler, handler


def _http_get(path: str) -> dict[str, Any]:
    return {"path": request_target(path), "port": PORT_NAME}


def _exec(service: ServiceSpec, config: ClusterConfig) -> dict[str, Any]:
    """The exec probe's command. The kubelet expands no $(VAR) there (only in command, args and env), so a
    placeholder that needs the pod's own name or index cannot be written into it."""
    per_pod = sorted({"name", "index"} & {name for arg in service.probe_command for name in placeholders_in(arg)})
    if per_pod:
        raise ConfigError(
            f"{config.config_file}: services.{service.name}.probe_command: {{{per_pod[0]}}} cannot be written into a "
            "Kubernetes exec probe (the kubelet expands no variables in it)",
            f"read {INSTANCE_ID} (the pod's name, the instance's: it ends in its index) from the check's environment "
            f"instead of {{{per_pod[0]}}}",
        )
    values = {"python": IMAGE_PYTHON, "port": str(service.base_port), "project_dir": IMAGE_PROJECT_DIR}
    return {"command": [substitute(arg, values, lambda text: text) for arg in service.probe_command]}


def _probe(handler: dict[str, Any], period: int, failures: int, timeout: int) -> dict[str, Any]:
    return {
        **handler,
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": max(1, failures),
    }


def _labels(service: ServiceSpec, options: KubernetesOptions) -> dict[str, str]:
    return {**_selector(service, options), "app.kubernetes.io/component": service.role}


def _selector(service: ServiceSpec, options: KubernetesOptions) -> dict[str, str]:
    return {"app.kubernetes.io/name": service.name, "app.kubernetes.io/part-of": options.project_name}


def _placeholders(service: ServiceSpec) -> set[str]:
    return {name for text in (*service.command, *service.env.values()) for name in placeholders_in(text)}


def _escape(text: str) -> str:
    # Kubernetes expands $(NAME) in command, args and env values and reduces $$ to $: a literal $ is written $$.
    return text.replace("$", "$$")


def _check_names(config: ClusterConfig, service: ServiceSpec) -> None:
    if len(service.name) > _STATEFULSET_NAME_LIMIT:
        raise ConfigError(
            f"{config.config_file}: services.{service.name}: the name has {len(service.name)} characters; "
            f"a StatefulSet's name may have at most {_STATEFULSET_NAME_LIMIT}",
            "give the service a shorter name (its instances are named after it)",
        )


def _check_env_names(config: ClusterConfig, service: ServiceSpec) -> None:
    for key in service.env:
        if not _ENV_NAME.match(key):
            raise ConfigError(
                f"{config.config_file}: services.{service.name}.env.{key}: Kubernetes does not accept "
                "this environment variable name",
                "use letters, digits, '_', '-' and '.', not starting with a digit (e.g. MY_SETTING)",
            )


def _check_secret(options: KubernetesOptions) -> None:
    if not _SECRET_NAME.match(options.database_secret) or len(options.database_secret) > 253:
        raise ConfigError(
            f"--database-secret {options.database_secret!r} is not a valid Secret name",
            "use lower-case letters, digits, '-' and '.', starting and ending with a letter or digit "
            "(e.g. tasker-database)",
        )
    if not _SECRET_KEY.match(options.database_secret_key):
        raise ConfigError(
            f"--database-secret-key {options.database_secret_key!r} is not a valid key of a Secret",
            "use letters, digits, '-', '_' and '.' (e.g. DATABASE_URL, or uri for a CloudNativePG app secret)",
        )


def _check_unique_names(config: ClusterConfig, manifests: dict[str, list[dict[str, Any]]]) -> None:
    owners: dict[tuple[str, str], str] = {}
    for service, resources in manifests.items():
        for resource in resources:
            key = (resource["kind"], resource["metadata"]["name"])
            if key in owners:
                raise ConfigError(
                    f"{config.config_file}: services.{service}: its {key[0]} would be named {key[1]}, "
                    f"like the one of services.{owners[key]}",
                    f"rename services.{service} (names ending in {HEADLESS_SUFFIX} are taken by headless Services)",
                )
            owners[key] = service
