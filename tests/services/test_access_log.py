"""An instance's access log leaves out successful probes and keeps everything else (read from its log file).

`cluster status` probes `/health` and `/health/ready` of every instance, `status --watch` twice a second, an
orchestrator and a metrics scraper every few seconds: with a line each, `cluster logs -n 2` showed only probes.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from service_instances import spawn_service

from tasker_cluster.proc.probes import probe

pytestmark = pytest.mark.services

ACCESS_LINE = re.compile(r'uvicorn\.access: \S+ - "(\w+) (\S+) HTTP/1\.1" (\d+)$')


def access_lines(log: str) -> list[tuple[str, str, int]]:
    found = (ACCESS_LINE.search(line) for line in log.splitlines())
    return [(match[1], match[2], int(match[3])) for match in found if match]


def test_successful_probes_are_not_access_logged_while_failures_and_other_requests_are(
    migrated_database_url: str, tmp_path: Path
) -> None:
    instance = spawn_service("orchestration", "orchestration-1", migrated_database_url, tmp_path)
    try:
        instance.wait_ready()
        for _ in range(3):
            # What `cluster status` does for each instance.
            assert probe(f"{instance.url}/health", 5.0).status_code == 200
            assert probe(f"{instance.url}/health/ready", 5.0).status_code == 200
        with httpx.Client(base_url=instance.url, timeout=10.0) as client:
            statuses = [
                client.get("/metrics").status_code,
                client.head("/health").status_code,
                client.get("/health/ready?verbose=1").status_code,
                client.get("/v1/templates").status_code,
                client.get("/health/detailed").status_code,
                client.post("/health").status_code,
                client.get("/health/").status_code,
                client.get("/v1/templates").status_code,
            ]
    finally:
        assert instance.terminate() == 0
    assert statuses == [200, 200, 200, 200, 200, 405, 404, 200]
    assert access_lines(instance.log()) == [
        ("GET", "/v1/templates", 200),
        ("GET", "/health/detailed", 200),
        ("POST", "/health", 405),
        ("GET", "/health/", 404),
        ("GET", "/v1/templates", 200),
    ]


def test_at_log_level_debug_successful_probes_are_access_logged_too(migrated_database_url: str, tmp_path: Path) -> None:
    instance = spawn_service(
        "orchestration", "orchestration-1", migrated_database_url, tmp_path, ["--log-level", "debug"]
    )
    try:
        instance.wait_ready()
        assert probe(f"{instance.url}/health", 5.0).status_code == 200
    finally:
        assert instance.terminate() == 0
    assert ("GET", "/health", 200) in access_lines(instance.log())
