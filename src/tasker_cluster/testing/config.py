"""Which cluster a test suite talks to: URLs from the environment or the project's `.env`."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from dotenv import dotenv_values

from tasker_cluster.errors import ConfigError
from tasker_cluster.testing.balancing import LoadBalancingStrategy, RoundRobin

ORCHESTRATION_URLS_ENV = "TASKER_TEST_ORCHESTRATION_URLS"
WORKER_URLS_ENV = "TASKER_TEST_WORKER_URLS"


@dataclass(frozen=True)
class ClusterConfig:
    """The instances of one cluster and how the harness spreads requests over them."""

    orchestration_urls: tuple[str, ...]
    worker_urls: tuple[str, ...] = ()
    load_balancing: LoadBalancingStrategy = field(default_factory=RoundRobin)
    health_timeout: float = 5.0
    # The longest pause between two health probes; probing starts faster and backs off to this.
    health_retry_interval: float = 0.5
    request_timeout: float = 30.0

    def __post_init__(self) -> None:
        if not self.orchestration_urls:
            raise ConfigError(
                "a cluster needs at least one orchestration URL",
                f"pass orchestration_urls or set {ORCHESTRATION_URLS_ENV}",
            )
        for url in (*self.orchestration_urls, *self.worker_urls):
            _check_url(url)

    @classmethod
    def from_env(
        cls,
        env_file: Path | None = None,
        environ: Mapping[str, str] | None = None,
        **options: object,
    ) -> ClusterConfig:
        """URLs from the process environment, else from `env_file` (default: `./.env`); `options` set the rest."""
        values = _merged_values(env_file or Path(".env"), os.environ if environ is None else environ)
        orchestration = parse_url_list(values.get(ORCHESTRATION_URLS_ENV, ""))
        if not orchestration:
            raise ConfigError(
                f"{ORCHESTRATION_URLS_ENV} is not set in the environment or in {env_file or '.env'}",
                "run `cluster setup-env` to write it, or export it (comma-separated http://127.0.0.1:PORT)",
            )
        workers = parse_url_list(values.get(WORKER_URLS_ENV, ""))
        return cls(orchestration_urls=orchestration, worker_urls=workers, **options)  # type: ignore[arg-type]


def env_names_cluster(env_file: Path, environ: Mapping[str, str] | None = None) -> bool:
    """Whether the environment or `env_file` names orchestration URLs at all."""
    values = _merged_values(env_file, os.environ if environ is None else environ)
    return bool(parse_url_list(values.get(ORCHESTRATION_URLS_ENV, "")))


def read_env_file(path: Path) -> dict[str, str]:
    """The variables a dotenv file sets (a key without a value is left out). ConfigError when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "it is not UTF-8 text"
        raise ConfigError(
            f"--env-file {path}: cannot read it: {reason}",
            "pass the test.env an export wrote (cluster export compose prints its path)",
        ) from None
    return {key: value for key, value in dotenv_values(stream=io.StringIO(text)).items() if value is not None}


def parse_url_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip().rstrip("/") for part in text.split(",") if part.strip())


def _merged_values(env_file: Path, environ: Mapping[str, str]) -> dict[str, str]:
    # The process environment wins over the file, as with python-dotenv's load_dotenv(override=False).
    from_file = {key: value for key, value in dotenv_values(env_file).items() if value is not None}
    return {**from_file, **{key: environ[key] for key in (ORCHESTRATION_URLS_ENV, WORKER_URLS_ENV) if key in environ}}


def _check_url(url: str) -> None:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as error:
        raise ConfigError(f"invalid instance URL {url!r}: {error}", "use the form http://127.0.0.1:PORT") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigError(
            f"invalid instance URL {url!r}: needs http(s)://HOST:PORT", "use the form http://127.0.0.1:PORT"
        )
