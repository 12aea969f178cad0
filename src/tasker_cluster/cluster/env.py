"""The cluster's environment for tests and tools: keys in `.env` and one generated config file per instance.

`.env` is edited only through python-dotenv (`set_key` rewrites one line and copies every other line, comments
included, byte for byte), so keys and comments a user added survive every run.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomli_w
from dotenv import set_key

from tasker_cluster.config.database import DATABASE_URL_KEY, LOCAL_MARKER_KEY
from tasker_cluster.proc.ports import LOOPBACK
from tasker_cluster.project import Project

if TYPE_CHECKING:
    from tasker_cluster.config.model import ClusterConfig, Instance

ORCHESTRATION_URLS = "TASKER_TEST_ORCHESTRATION_URLS"
WORKER_URLS = "TASKER_TEST_WORKER_URLS"
ORCHESTRATION_COUNT = "TASKER_ORCHESTRATION_INSTANCES"
WORKER_COUNT = "TASKER_WORKER_INSTANCES"
GENERATED_HEADER = "# Written by `cluster setup-env` from config/cluster.toml; edits here are overwritten.\n"


@dataclass(frozen=True)
class EnvironmentWritten:
    """What a run wrote: every owned key with its value, which of them changed, and the generated files."""

    env_file: Path
    values: dict[str, str]
    changed: list[str]
    database_url: str | None
    database_source: str
    generated: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)


def write_cluster_environment(config: ClusterConfig) -> EnvironmentWritten:
    """Bring `.env` and `config/generated/` in line with `config`; a second run with the same configuration changes
    nothing. Safe to call from `start-all` on every start."""
    from tasker_cluster.db.urls import record_local_url

    project = config.project
    existing = config.dotenv
    database_url, source = resolve_database_url(config)
    values = env_values(config)
    changed = [key for key, value in values.items() if existing.get(key) != value]
    for key in changed:
        set_key(project.env_file, key, values[key], quote_mode="never")
    if source in ("local", ".env") and database_url is not None:
        values[DATABASE_URL_KEY] = database_url
    if source == "local" and database_url is not None:
        # The marker that says the URL is the local server's is a key of .env like any other: listed and counted.
        values[LOCAL_MARKER_KEY] = database_url
        changed += [key for key in (DATABASE_URL_KEY, LOCAL_MARKER_KEY) if existing.get(key) != database_url]
        # The db module's writer also marks the URL as the local server's, so that after a change of [database]
        # the old URL is not taken for an external server. It writes nothing when both keys are current.
        record_local_url(project.env_file, database_url, existing)
    generated, removed = write_instance_files(config, _readable_url(project, database_url, source))
    return EnvironmentWritten(project.env_file, values, changed, database_url, source, generated, removed)


def env_values(config: ClusterConfig, url_of: Callable[[Instance], str] = attrgetter("url")) -> dict[str, str]:
    """The `.env` keys this tool owns, except DATABASE_URL: URL lists per role and per service, and a role's count
    only when the command line gave it. A count written otherwise would override config/cluster.toml from .env for
    good, and a later edit of the file would silently change nothing.

    `url_of` gives an instance's URL: its local one by default, an exported deployment's otherwise."""

    def urls(instances: Iterable[Instance]) -> str:
        return ",".join(url_of(instance) for instance in instances)

    values = {
        ORCHESTRATION_URLS: urls(config.by_role("orchestration")),
        WORKER_URLS: urls(config.by_role("worker")),
    }
    keys = {"orchestration": ORCHESTRATION_COUNT, "worker": WORKER_COUNT}
    for count in config.role_counts():
        if count.origin == "flag":
            values[keys[count.role]] = str(count.count)
    for service in config.services:
        key = service_urls_key(service.name)
        # A service named like its role ("orchestration") would collide with the role's list; the role list wins.
        if key not in (ORCHESTRATION_URLS, WORKER_URLS):
            values[key] = urls(i for i in config.instances if i.service == service.name)
    return values


def service_urls_key(service: str) -> str:
    """`worker-a` -> `TASKER_TEST_WORKER_A_URLS`, like the seed's per-language worker lists."""
    return f"TASKER_TEST_{service.upper().replace('-', '_')}_URLS"


def resolve_database_url(config: ClusterConfig) -> tuple[str | None, str]:
    """The URL instances use and where it comes from: "none" ([database] mode), "environment" or ".env" (an external
    server, kept as is), or "local" (the project's server; no URL before `db up` created it, since its password is
    made with it)."""
    database = config.database
    if database.mode == "none":
        return None, "none"
    if database.external_url is not None:
        return database.external_url, database.external_source or ".env"
    from tasker_cluster.db.urls import local_url

    return local_url(config.project, database.port, database.name), "local"


def _readable_url(project: Project, url: str | None, source: str) -> str | None:
    """The URL as the generated files hold it: without its password; the local server's names its password file
    (`passfile=`), which only the server's account and root can read, so the URL still works for them."""
    from tasker_cluster.db.credentials import password_file
    from tasker_cluster.db.location import existing_data_dir
    from tasker_cluster.db.urls import without_password

    if url is None:
        return None
    data_dir = existing_data_dir(project) if source == "local" else None
    return without_password(url, password_file(data_dir) if data_dir is not None else None)


def write_instance_files(config: ClusterConfig, database_url: str | None) -> tuple[list[Path], list[Path]]:
    """One TOML file per instance under `config/generated/`; files of instances no longer configured go."""
    project = config.project
    folder = project.generated_dir
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for instance in config.instances:
        path = project.generated_file(instance.name)
        write_if_changed(path, GENERATED_HEADER + tomli_w.dumps(instance_document(project, instance, database_url)))
        written.append(path)
    current = {path.name for path in written}
    removed = sorted(path for path in folder.glob("*.toml") if path.name not in current)
    for path in removed:
        path.unlink(missing_ok=True)
    return written, removed


def instance_document(project: Project, instance: Instance, database_url: str | None) -> dict[str, Any]:
    """Everything a tool needs to reach or re-run one instance, as the generated file holds it (`database_url`
    without a password: see `_readable_url`)."""
    env = {
        **instance.env,
        "TASKER_INSTANCE_ID": instance.name,
        "TASKER_INSTANCE_PORT": str(instance.port),
        "TASKER_BIND_ADDRESS": LOOPBACK,
        "TASKER_PROJECT_DIR": str(project.root),
    }
    if database_url is not None:
        env[DATABASE_URL_KEY] = database_url
    document: dict[str, Any] = {
        "name": instance.name,
        "service": instance.service,
        "role": instance.role,
        "index": instance.index,
        "port": instance.port,
        "url": instance.url,
        "bind_address": LOOPBACK,
        "probe": instance.probe,
        **_probe_document(instance),
        "log_file": str(project.log_file(instance.name)),
        "argv": list(instance.argv),
    }
    if database_url is not None:
        document["database_url"] = database_url
    document["env"] = env
    return document


def _probe_document(instance: Instance) -> dict[str, Any]:
    """How a tool probes the instance as `start-all` does: its URLs for "http", the argv for "exec", and the
    seconds a probe may take when the service sets them (TOML has no null for its kind's default)."""
    timeout = {} if instance.probe_timeout is None else {"probe_timeout": instance.probe_timeout}
    if instance.probe == "http":
        return {
            "health_url": instance.health_url,
            "ready_url": instance.ready_url,
            "health_path": instance.health_path,
            "ready_path": instance.ready_path,
            **timeout,
        }
    if instance.probe == "exec":
        return {"probe_argv": list(instance.probe_command), **timeout}
    return timeout


def write_if_changed(path: Path, text: str) -> None:
    """Unchanged files keep their modification time; changed ones are replaced atomically, never half-written."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except FileNotFoundError:
        pass
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, prefix=".tmp-", delete=False) as file:
        file.write(text)
    os.replace(file.name, path)
