"""A service instance's settings: command-line options, each with an environment variable as its default."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tasker_cluster.errors import ConfigError
from tasker_cluster.project import PROJECT_DIR_ENV
from tasker_cluster.services.common.request_body import DEFAULT_MAX_BODY_BYTES

Role = Literal["orchestration", "worker"]

# The name goes into the database session (`-c tasker.instance=NAME`), so it must need no quoting there.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_NAMESPACE = re.compile(r"^[a-z][a-z0-9_]{0,29}$")
# logging.setLevel raises ValueError on any other name: checked here, it would be a traceback at start-up.
_LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
# A body is held in memory whole, and jsonb holds at most 255 MB: far above any task, far below both.
_MAX_BODY_BYTES_CEILING = 64 * 1024 * 1024


@dataclass(frozen=True)
class ServiceSettings:
    role: Role
    name: str
    port: int
    host: str = "127.0.0.1"
    database_url: str | None = None
    pool_min: int = 2
    pool_max: int = 30
    # How long an HTTP request waits for a pooled connection before answering 503.
    pool_timeout: float = 5.0
    # Consumers wake on NOTIFY; this is only the fallback (and how soon delayed retries are noticed).
    poll_interval: float = 0.5
    # After a wake-up, how long a consumer waits for more messages before reading (seconds).
    batch_window: float = 0.025
    # A queue's consumers are rung at most this often by one instance (seconds); later wake-ups are deferred. A
    # NOTIFY is a committed, flushed transaction that signals every listening backend of the database, so a shorter
    # interval costs CPU on every process of the cluster under load (bench/README.md); a lone task's hops are rung
    # at once whatever the interval, as nothing was rung within it.
    wake_interval: float = 0.05
    batch_size: int = 50
    visibility_timeout: int = 30
    stop_grace: float = 8.0
    # How long start-up may wait for the database before the instance gives up (seconds).
    startup_timeout: float = 30.0
    log_level: str = "info"
    access_log: bool = True
    templates_dir: Path | None = None
    consumers: int = 1
    namespaces: tuple[str, ...] = field(default=("examples",))
    concurrency: int = 16
    # Larger request bodies are refused with 413 while they are read.
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ConfigError(
                f"instance name {self.name!r} is not valid",
                "use letters, digits, '-', '_' or '.', starting with a letter or digit (e.g. worker-a-1)",
            )
        for namespace in self.namespaces:
            if not _NAMESPACE.match(namespace):
                raise ConfigError(
                    f"namespace {namespace!r} is not valid",
                    "use lower-case letters, digits and '_', starting with a letter, at most 30 characters",
                )
        if self.log_level not in _LOG_LEVELS:
            raise ConfigError(
                f"log level {self.log_level!r} is not valid",
                f"set --log-level (or TASKER_LOG_LEVEL) to one of: {', '.join(_LOG_LEVELS)}",
            )
        if not 1 <= self.max_body_bytes <= _MAX_BODY_BYTES_CEILING:
            raise ConfigError(
                f"maximum body size {self.max_body_bytes} bytes is not valid",
                f"set --max-body-bytes (or TASKER_MAX_BODY_BYTES) from 1 to {_MAX_BODY_BYTES_CEILING}",
            )
        if not 1 <= self.pool_min <= self.pool_max:
            raise ConfigError(
                f"pool sizes min={self.pool_min} max={self.pool_max} are not valid", "use 1 <= --pool-min <= --pool-max"
            )


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _common_parser(role: Role) -> argparse.ArgumentParser:
    # argparse converts a string default with the option's `type`, so a bad environment value is reported like a
    # bad option instead of raising.
    parser = argparse.ArgumentParser(
        prog=f"python -m tasker_cluster.services.{role}",
        description=f"The reference {role} service. Every option defaults to the environment variable named.",
    )
    parser.add_argument("--port", type=int, default=_env("TASKER_INSTANCE_PORT"), help="TASKER_INSTANCE_PORT")
    parser.add_argument("--name", default=_env("TASKER_INSTANCE_ID", f"{role}-1"), help="TASKER_INSTANCE_ID")
    parser.add_argument("--host", default=_env("TASKER_BIND_ADDRESS", "127.0.0.1"), help="TASKER_BIND_ADDRESS")
    parser.add_argument("--database-url", default=_env("DATABASE_URL"), help="DATABASE_URL")
    parser.add_argument("--pool-min", type=int, default=_env("TASKER_POOL_MIN", "2"), help="TASKER_POOL_MIN")
    parser.add_argument("--pool-max", type=int, default=_env("TASKER_POOL_MAX", "30"), help="TASKER_POOL_MAX")
    parser.add_argument(
        "--pool-timeout",
        type=float,
        default=_env("TASKER_POOL_TIMEOUT", "5"),
        help="TASKER_POOL_TIMEOUT: seconds a request waits for a database connection before answering 503",
    )
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=_env("TASKER_POLL_INTERVAL", "0.5"),
        help="TASKER_POLL_INTERVAL: seconds between reads of a queue when no wake-up comes",
    )
    parser.add_argument(
        "--batch-window-ms",
        type=float,
        default=_env("TASKER_BATCH_WINDOW_MS", "25"),
        help="TASKER_BATCH_WINDOW_MS: after a wake-up, wait this long for more messages before reading",
    )
    parser.add_argument(
        "--wake-interval-ms",
        type=float,
        default=_env("TASKER_WAKE_INTERVAL_MS", "50"),
        help="TASKER_WAKE_INTERVAL_MS: ring a queue's consumers at most this often",
    )
    parser.add_argument(
        "--stop-grace",
        type=float,
        default=_env("TASKER_STOP_GRACE", "8"),
        help="TASKER_STOP_GRACE: seconds after SIGTERM to finish in-flight work before handing it back",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        default=_env("TASKER_MAX_BODY_BYTES", str(DEFAULT_MAX_BODY_BYTES)),
        help="TASKER_MAX_BODY_BYTES: larger request bodies are refused (413)",
    )
    parser.add_argument(
        "--startup-timeout",
        type=float,
        default=_env("TASKER_STARTUP_TIMEOUT", "30"),
        help="TASKER_STARTUP_TIMEOUT: seconds start-up waits for the database to answer before giving up",
    )
    parser.add_argument("--log-level", default=_env("TASKER_LOG_LEVEL", "info"), help="TASKER_LOG_LEVEL")
    parser.add_argument("--no-access-log", action="store_true", help="do not log one line per HTTP request")
    return parser


def _default_templates_dir() -> Path:
    project = _env(PROJECT_DIR_ENV)
    return (Path(project) if project else Path.cwd()) / "config" / "templates"


def parse_orchestration_settings(argv: Sequence[str] | None = None) -> ServiceSettings:
    parser = _common_parser("orchestration")
    parser.add_argument("--templates", type=Path, default=_env("TASKER_TEMPLATES_DIR"), help="TASKER_TEMPLATES_DIR")
    parser.add_argument("--consumers", type=int, default=1, help="result consumer loops")
    parser.add_argument("--batch-size", type=int, default=50, help="step results read per round trip")
    parser.add_argument(
        "--visibility-timeout",
        type=int,
        default=_env("TASKER_ORCHESTRATION_VISIBILITY_TIMEOUT", "10"),
        help="TASKER_ORCHESTRATION_VISIBILITY_TIMEOUT",
    )
    args = parser.parse_args(argv)
    return ServiceSettings(
        role="orchestration",
        templates_dir=Path(args.templates) if args.templates else _default_templates_dir(),
        consumers=args.consumers,
        batch_size=args.batch_size,
        visibility_timeout=args.visibility_timeout,
        **_common_fields(parser, args),
    )


def parse_worker_settings(argv: Sequence[str] | None = None) -> ServiceSettings:
    parser = _common_parser("worker")
    parser.add_argument(
        "--namespaces", default=_env("TASKER_WORKER_NAMESPACES", "examples"), help="TASKER_WORKER_NAMESPACES"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=_env("TASKER_WORKER_CONCURRENCY", "16"),
        help="TASKER_WORKER_CONCURRENCY: steps run at once",
    )
    parser.add_argument(
        "--visibility-timeout",
        type=int,
        default=_env("TASKER_WORKER_VISIBILITY_TIMEOUT", "5"),
        help="TASKER_WORKER_VISIBILITY_TIMEOUT: seconds before a dead worker's steps are run elsewhere",
    )
    args = parser.parse_args(argv)
    namespaces = tuple(ns.strip() for ns in args.namespaces.split(",") if ns.strip())
    if not namespaces:
        parser.error("--namespaces needs at least one namespace")
    return ServiceSettings(
        role="worker",
        namespaces=namespaces,
        concurrency=max(1, args.concurrency),
        batch_size=max(1, args.concurrency),
        visibility_timeout=max(1, args.visibility_timeout),
        **_common_fields(parser, args),
    )


def _common_fields(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict[str, object]:
    if args.port is None:
        parser.error("--port is required (or set TASKER_INSTANCE_PORT)")
    return {
        "name": args.name,
        "port": int(args.port),
        "host": args.host,
        "database_url": args.database_url,
        "pool_min": args.pool_min,
        "pool_max": args.pool_max,
        "pool_timeout": args.pool_timeout,
        "poll_interval": args.poll_interval,
        "batch_window": max(0.0, args.batch_window_ms) / 1000,
        "wake_interval": max(0.0, args.wake_interval_ms) / 1000,
        "stop_grace": args.stop_grace,
        "startup_timeout": max(0.0, args.startup_timeout),
        "log_level": args.log_level.lower(),
        "access_log": not args.no_access_log,
        "max_body_bytes": args.max_body_bytes,
    }
