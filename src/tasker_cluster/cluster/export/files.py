"""Writing an export: each YAML file as plain data (PyYAML) under a header, and the deployment's test env file.

The test env file holds the `TASKER_TEST_*` URL lists of the deployment (and the instance counts; for compose, the
DATABASE_URL its database answers on from the host), so the harness can target it for one run without a shell
exporting them: `cluster test cluster --running --env-file DIR/<test env file>`. It is never where the local CLI
looks (the project's own `.env`): an export refuses to write there. Keys a user added to an env file survive.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote

import yaml
from dotenv import dotenv_values, set_key, unset_key

from tasker_cluster.cluster.env import env_values, write_if_changed
from tasker_cluster.config.model import ClusterConfig
from tasker_cluster.db.credentials import APP_ROLE
from tasker_cluster.errors import ClusterError
from tasker_cluster.proc.ports import LOOPBACK

from .compose import APP_PASSWORD_VARIABLE, INITDB_FOLDER, PASSWORD_VARIABLE, ComposeOptions, compose_document
from .environment import DATABASE_URL
from .kubernetes import KubernetesOptions, instance_url, kubernetes_manifests

COMPOSE_FILE = "compose.yaml"
# Compose reads `.env` beside the compose file for its `${...}` values (here the database passwords).
COMPOSE_ENV_FILE = ".env"
COMPOSE_TEST_ENV_FILE = "test.env"
KUBERNETES_ENV_FILE = "cluster.env"
APP_ROLE_SCRIPT = Path(__file__).with_name(INITDB_FOLDER) / "app-role.sh"
_HEADER = "# Written by `cluster export {target}` from {source}; the next export overwrites it.\n"
_COMPOSE_ENV_HEADER = (
    "# `cluster export compose` keeps these keys current and your own keys as they are. Compose reads the\n"
    "# database's passwords from here: POSTGRES_PASSWORD the superuser's, TASKER_DATABASE_PASSWORD the instances'.\n"
)
_COMPOSE_TEST_ENV_HEADER = (
    "# `cluster export compose` keeps these keys current and your own keys as they are. For one harness run:\n"
    "# `cluster test cluster --running --env-file <this file>`. Not for a shell's environment: there DATABASE_URL\n"
    "# would steer every local `cluster` command to the deployment's database.\n"
)
_KUBERNETES_ENV_HEADER = (
    "# `cluster export kubernetes` keeps these keys current and your own keys as they are. The URLs resolve inside\n"
    "# the cluster's namespace: run the harness in a pod there (or port-forward and set your own URLs).\n"
)


class Exported(NamedTuple):
    """What an export wrote: the files (in order), the stale ones it removed, and the env file's keys; the project
    name the deployment runs under, and the Secret its manifests read DATABASE_URL from (None: they read none)."""

    target: str
    folder: Path
    files: list[Path]
    removed: list[Path]
    env_file: Path
    env_keys: list[str]
    project_name: str
    database_secret: str | None = None


def export_compose(config: ClusterConfig, folder: Path, options: ComposeOptions) -> Exported:
    """`folder/compose.yaml` and `folder/test.env` (the URL lists); with a database also `folder/initdb/app-role.sh`
    (the application role, made on the database's first start) and `folder/.env` (both database passwords, made
    once and kept across exports). ClusterError when `folder` is the project's own (its `.env` is the local CLI's)."""
    document = compose_document(config, options)
    _refuse_project_env(config, folder / COMPOSE_ENV_FILE)
    _prepare(folder)
    path = folder / COMPOSE_FILE
    write_if_changed(path, _header("compose", config) + _dump([document]))
    written = [path]
    test_env_file = folder / COMPOSE_TEST_ENV_FILE
    values = env_values(config)
    if config.database.mode == "local":
        env_file = folder / COMPOSE_ENV_FILE
        passwords = {
            variable: _existing(env_file, variable) or secrets.token_urlsafe(24)
            for variable in (PASSWORD_VARIABLE, APP_PASSWORD_VARIABLE)
        }
        _write_env(env_file, _COMPOSE_ENV_HEADER, passwords)
        # Exports before test.env kept these in .env too, where they would shadow nothing but still go stale.
        _forget(env_file, [*values, DATABASE_URL])
        values[DATABASE_URL] = host_database_url(config, passwords[APP_PASSWORD_VARIABLE])
        written += [_write_script(folder / INITDB_FOLDER, APP_ROLE_SCRIPT), env_file]
    _write_env(test_env_file, _COMPOSE_TEST_ENV_HEADER, values)
    return Exported("compose", folder, [*written, test_env_file], [], test_env_file, list(values), options.project_name)


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
    secret = options.database_secret if config.database.mode == "local" else None
    return Exported(
        "kubernetes", folder, [*written, env_file], removed, env_file, list(values), options.project_name, secret
    )


def host_database_url(config: ClusterConfig, password: str) -> str:
    """The compose database as tools on the host reach it, as the application role: its port published on loopback."""
    database = config.database
    return f"postgresql://{APP_ROLE}:{quote(password, safe='')}@{LOOPBACK}:{database.port}/{database.name}"


def _refuse_project_env(config: ClusterConfig, env_file: Path) -> None:
    if env_file.resolve() == config.project.env_file.resolve():
        raise ClusterError(
            f"the export would write compose's {COMPOSE_ENV_FILE} into the project's own {env_file}, which every "
            "local `cluster` command reads",
            "pass -o with a folder of its own (the default is deploy/compose)",
        )


def _write_script(folder: Path, script: Path) -> Path:
    folder.mkdir(exist_ok=True)
    target = folder / script.name
    write_if_changed(target, script.read_text())
    # Executable: the image runs it rather than sourcing it into its own entry point.
    os.chmod(target, 0o755)
    return target


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


def _forget(env_file: Path, keys: Iterable[str]) -> None:
    existing = dotenv_values(env_file)
    for key in keys:
        if key in existing:
            unset_key(env_file, key, quote_mode="never")


def _write_env(env_file: Path, header: str, values: dict[str, str]) -> None:
    if not env_file.is_file():
        # Readable by its owner only: the compose one holds the database password.
        with os.fdopen(os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
            file.write(header)
    existing = dotenv_values(env_file)
    for key, value in values.items():
        if existing.get(key) != value:
            set_key(env_file, key, value, quote_mode="never")
