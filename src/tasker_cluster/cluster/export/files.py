"""Writing an export: each YAML file as plain data (PyYAML) under a header, and the deployment's env file.

The env file holds the `TASKER_TEST_*` URL lists of the deployment (and the instance counts), so the harness can
target it: `set -a; . DIR/<env file>; set +a; cluster test cluster`. Keys a user added to it survive an export.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote

import yaml
from dotenv import dotenv_values, set_key

from tasker_cluster.cluster.env import env_values, write_if_changed
from tasker_cluster.config.model import ClusterConfig
from tasker_cluster.errors import ClusterError
from tasker_cluster.proc.ports import LOOPBACK

from .compose import DATABASE_USER, PASSWORD_VARIABLE, ComposeOptions, compose_document
from .environment import DATABASE_URL
from .kubernetes import KubernetesOptions, instance_url, kubernetes_manifests

COMPOSE_FILE = "compose.yaml"
# Compose reads `.env` beside the compose file for its `${...}` values (here the database password).
COMPOSE_ENV_FILE = ".env"
KUBERNETES_ENV_FILE = "cluster.env"
_HEADER = "# Written by `cluster export {target}` from {source}; the next export overwrites it.\n"
_COMPOSE_ENV_HEADER = (
    "# `cluster export compose` keeps these keys current and your own keys as they are. Compose reads\n"
    "# POSTGRES_PASSWORD from here; the TASKER_TEST_* lists and DATABASE_URL let the harness target the deployment.\n"
)
_KUBERNETES_ENV_HEADER = (
    "# `cluster export kubernetes` keeps these keys current and your own keys as they are. The URLs resolve inside\n"
    "# the cluster's namespace: run the harness in a pod there (or port-forward and set your own URLs).\n"
)


class Exported(NamedTuple):
    """What an export wrote: the files (in order), the stale ones it removed, and the env file's keys."""

    target: str
    folder: Path
    files: list[Path]
    removed: list[Path]
    env_file: Path
    env_keys: list[str]


def export_compose(config: ClusterConfig, folder: Path, options: ComposeOptions) -> Exported:
    """`folder/compose.yaml` and `folder/.env` (database password, kept across exports, and the URL lists)."""
    document = compose_document(config, options)
    _prepare(folder)
    path = folder / COMPOSE_FILE
    write_if_changed(path, _header("compose", config) + _dump([document]))
    env_file = folder / COMPOSE_ENV_FILE
    values = env_values(config)
    if config.database.mode == "local":
        password = _existing(env_file, PASSWORD_VARIABLE) or secrets.token_urlsafe(18)
        values[PASSWORD_VARIABLE] = password
        values[DATABASE_URL] = host_database_url(config, password)
    _write_env(env_file, _COMPOSE_ENV_HEADER, values)
    return Exported("compose", folder, [path, env_file], [], env_file, list(values))


def export_kubernetes(config: ClusterConfig, folder: Path, options: KubernetesOptions) -> Exported:
    """`folder/<service>.yaml` per service and `folder/cluster.env` (the URL lists, for a pod in the namespace);
    manifests an earlier export wrote for services no longer in the configuration are removed."""
    manifests = kubernetes_manifests(config, options)
    _prepare(folder)
    header = _header("kubernetes", config)
    written = []
    for service, resources in manifests.items():
        path = folder / f"{service}.yaml"
        write_if_changed(path, header + _dump(resources))
        written.append(path)
    removed = _remove_stale(folder, header, written)
    env_file = folder / KUBERNETES_ENV_FILE
    specs = {service.name: service for service in config.services}
    values = env_values(config, lambda instance: instance_url(specs[instance.service], instance.index))
    _write_env(env_file, _KUBERNETES_ENV_HEADER, values)
    return Exported("kubernetes", folder, [*written, env_file], removed, env_file, list(values))


def host_database_url(config: ClusterConfig, password: str) -> str:
    """The compose database as tools on the host reach it: its port published on loopback."""
    database = config.database
    return f"postgresql://{DATABASE_USER}:{quote(password, safe='')}@{LOOPBACK}:{database.port}/{database.name}"


def _prepare(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ClusterError(f"{folder} is not a folder", "pass -o with a folder to write the export into") from None
    except OSError as error:
        raise ClusterError(f"cannot create {folder}: {error.strerror}", "pass -o with a writable folder") from None


def _header(target: str, config: ClusterConfig) -> str:
    source = config.config_file
    return _HEADER.format(target=target, source=f"{source.parent.name}/{source.name}")


class _PlainDumper(yaml.SafeDumper):
    """Writes a mapping used twice (a pod's labels are its StatefulSet's) out twice, without YAML anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _dump(documents: Iterable[Any]) -> str:
    return yaml.dump_all(
        documents, Dumper=_PlainDumper, sort_keys=False, default_flow_style=False, width=120, allow_unicode=True
    )


def _remove_stale(folder: Path, header: str, current: list[Path]) -> list[Path]:
    """YAML files an earlier export of the same kind wrote (recognised by their first line) that are not current."""
    stale = []
    for path in sorted(folder.glob("*.yaml")):
        if path not in current and _first_line(path) == header:
            path.unlink()
            stale.append(path)
    return stale


def _first_line(path: Path) -> str:
    with path.open(encoding="utf-8", errors="replace") as file:
        return file.readline()


def _existing(env_file: Path, key: str) -> str | None:
    return dotenv_values(env_file).get(key) if env_file.is_file() else None


def _write_env(env_file: Path, header: str, values: dict[str, str]) -> None:
    if not env_file.is_file():
        # Readable by its owner only: the compose one holds the database password.
        with os.fdopen(os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
            file.write(header)
    existing = dotenv_values(env_file)
    for key, value in values.items():
        if existing.get(key) != value:
            set_key(env_file, key, value, quote_mode="never")
