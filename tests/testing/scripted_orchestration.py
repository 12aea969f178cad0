"""A small, real orchestration API server (stdlib http.server on a free loopback port) whose answers a test
scripts: 503 with Retry-After, a dropped connection after the task was created, tasks that finish after N reads.

It keeps the one server-side fact the harness must never break: an idempotency key maps to exactly one task.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tasker_cluster.proc.ports import LOOPBACK

HANG_S = 0.6


@dataclass
class ServerScript:
    """What the server does next. Each deque is consumed one entry per request of that kind; empty means "ok"."""

    # "ok" | "503" | "503-retry-after-1" | "drop" | "422" | "hang" (creates and answers after HANG_S)
    post: deque[str] = field(default_factory=deque)
    get: deque[str] = field(default_factory=deque)  # "ok" | "503" | "504" | "hang" (answers after HANG_S)
    reads_until_complete: int = 1
    ready: bool = True
    status_override: str | None = None


class ScriptedOrchestration:
    def __init__(self, name: str, port: int = 0) -> None:
        self.name = name
        self.script = ServerScript()
        self.tasks: dict[str, dict[str, Any]] = {}
        self.by_key: dict[str, str] = {}
        self.reads: dict[str, int] = {}
        self.post_times: list[float] = []
        # Every request line received ("GET /health/ready"), health probes included.
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((LOOPBACK, port), _handler_for(self))
        self._server.daemon_threads = True
        # A short poll interval: shutdown() waits up to one interval, which would dominate every test's teardown.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self._server.server_address[1]}"

    def start(self) -> ScriptedOrchestration:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def create(self, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        with self._lock:
            key = body.get("idempotency_key")
            if key and key in self.by_key:
                return self.tasks[self.by_key[key]], False
            task_uuid = str(uuid.uuid4())
            task = {
                "task_uuid": task_uuid,
                "namespace": body["namespace"],
                "name": body["name"],
                "version": body.get("version", "1.0.0"),
                "context": body.get("context", {}),
                "status": "pending",
                "created_by": self.name,
                "steps": [{"name": "a", "status": "pending", "attempts": 0}],
            }
            self.tasks[task_uuid] = task
            if key:
                self.by_key[key] = task_uuid
            return task, True

    def read(self, task_uuid: str) -> dict[str, Any] | None:
        with self._lock:
            task = self.tasks.get(task_uuid)
            if task is None:
                return None
            self.reads[task_uuid] = self.reads.get(task_uuid, 0) + 1
            if self.reads[task_uuid] >= self.script.reads_until_complete:
                task["status"] = "complete"
                task["steps"] = [{"name": "a", "status": "complete", "attempts": 1, "result": 2}]
            view = json.loads(json.dumps(task))
        if self.script.status_override:
            view["status"] = self.script.status_override
        return view


def _handler_for(server: ScriptedOrchestration) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test's output is the assertions."""

        def parse_request(self) -> bool:
            parsed = super().parse_request()
            if parsed:
                server.requests.append(f"{self.command} {self.path}")
            return parsed

        def do_GET(self) -> None:
            if self.path == "/health":
                self._send(200, {"status": "ok", "instance": server.name})
            elif self.path == "/health/ready":
                self._send(200 if server.script.ready else 503, {"ready": server.script.ready})
            elif self.path.startswith("/v1/tasks/"):
                action = server.script.get.popleft() if server.script.get else "ok"
                if action == "503":
                    self._send(503, {"detail": "busy"}, {"Retry-After": "0"})
                    return
                if action == "504":
                    self._send(504, {"detail": "a proxy in front timed out"})
                    return
                if action == "hang":
                    # Slower than the client's timeout: the client gives up on this read.
                    time.sleep(HANG_S)
                task = server.read(self.path.removeprefix("/v1/tasks/"))
                self._send(200, task) if task else self._send(404, {"detail": "unknown task"})
            else:
                self._send(404, {"detail": "no such path"})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            server.post_times.append(time.monotonic())
            action = server.script.post.popleft() if server.script.post else "ok"
            if action == "503":
                self._send(503, {"detail": "pool exhausted"}, {"Retry-After": "0"})
            elif action == "503-retry-after-1":
                self._send(503, {"detail": "pool exhausted"}, {"Retry-After": "1"})
            elif action == "422":
                self._send(422, {"detail": "invalid body"})
            elif action == "hang":
                # A paused or overloaded instance: the request is served, too late for a client that gave up.
                time.sleep(HANG_S)
                task, created = server.create(body)
                self._send(201 if created else 200, task)
            elif action == "drop":
                # The task is created, then the answer is lost: the client cannot know whether it worked.
                server.create(body)
                self.close_connection = True
                self.connection.close()
            else:
                task, created = server.create(body)
                self._send(201 if created else 200, task)

        def _send(self, status: int, payload: object, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

    return Handler


def scripted_topology(orchestration: int = 2, workers: int = 1) -> str:
    """A config/cluster.toml whose instances are this program: no database, starts in a fraction of a second."""
    command = f'["{{python}}", "{Path(__file__).resolve()}", "--port", "{{port}}", "--name", "{{name}}"]'
    return f"""
[database]
mode = "none"

[services.orchestration]
role = "orchestration"
count = {orchestration}
command = {command}
startup_timeout = 20
stop_grace = 5

[services.worker-a]
role = "worker"
count = {workers}
command = {command}
startup_timeout = 20
stop_grace = 5
"""


def main() -> None:
    """Run as a cluster instance: `python scripted_orchestration.py --port N --name NAME` (a topology's command)."""
    import argparse
    import signal

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", required=True)
    args = parser.parse_args()
    server = ScriptedOrchestration(args.name, port=args.port).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
