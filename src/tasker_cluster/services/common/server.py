"""Run a service instance: bind its port, prepare the database, serve HTTP, and exit 0 after a clean SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import importlib.util
import logging
import signal
import socket
import sys
from collections.abc import Callable, Generator, Sequence
from types import FrameType

import uvicorn

from tasker_cluster.errors import ClusterError
from tasker_cluster.services.common.logs import configure_logging
from tasker_cluster.services.common.service import Service
from tasker_cluster.services.common.settings import ServiceSettings

log = logging.getLogger("tasker.server")


class _Server(uvicorn.Server):
    """uvicorn's server, with two changes to how it stops.

    uvicorn re-raises a captured SIGTERM once it has shut down, so the process would die with 143 after a clean
    stop: signals are routed to `handle_exit` by `serve_service` instead (which also covers the start-up window).
    And uvicorn notices a stop request on its next 100 ms tick: here the request itself wakes the loop.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._exit_requested = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        self._exit_requested.set()

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864_000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._exit_requested.wait(), 0.1)


def bind_socket(settings: ServiceSettings) -> socket.socket:
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise ClusterError(
                f"port {settings.port} on {settings.host} is already in use",
                "stop what holds it (`cluster status` shows the cluster's instances) or use another --port",
            ) from error
        raise ClusterError(
            f"cannot bind {settings.host}:{settings.port}: {error.strerror}", "use another --host or --port"
        ) from error
    return sock


async def serve_service(service: Service, sock: socket.socket) -> int:
    settings = service.settings
    config = uvicorn.Config(
        service.app,
        lifespan="off",
        log_config=None,
        access_log=settings.access_log,
        # httptools when installed (measured: ~8% less CPU for the whole cluster), else h11. The event loop is
        # chosen by run_service.
        http="auto",
        ws="none",
        server_header=False,
        # Longer than clients keep idle connections (httpx: 5 s, uvicorn's default too): when both sides time out
        # together, a client can send on a connection the server is closing and get a read error.
        timeout_keep_alive=30,
        # Half the grace for open HTTP requests; the rest is the consumers' (Service.stop).
        timeout_graceful_shutdown=max(1, int(settings.stop_grace / 2)),
    )
    server = _Server(config)

    def handle_stop_signal(sig: int) -> None:
        # Stop taking work at once; HTTP shuts down next, then in-flight work gets the rest of the grace period.
        service.request_stop()
        server.handle_exit(sig, None)

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, handle_stop_signal, sig)
    await service.start()
    try:
        await server.serve(sockets=[sock])
    finally:
        await service.stop(grace=settings.stop_grace / 2)
    return 0 if server.started else 1


def _event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when it is installed (less CPU per request and per query), else asyncio's own."""
    if importlib.util.find_spec("uvloop") is None:
        return None
    import uvloop

    return uvloop.new_event_loop


def run_service(
    parse_settings: Callable[[Sequence[str] | None], ServiceSettings],
    make_service: Callable[[ServiceSettings], Service],
    argv: Sequence[str] | None = None,
) -> int:
    """The whole life of an instance; an expected failure is one line on stderr and a non-zero exit code.

    A SIGTERM before the instance serves (while it waits for the database) ends it at once with exit code 0.
    """
    # As a container's PID 1, the default SIGTERM action does nothing: without a handler, a stop during the wait
    # for the database would last the whole grace period and end in SIGKILL. serve_service installs its own.
    previous = signal.signal(signal.SIGTERM, _stop_during_start_up)
    try:
        settings = parse_settings(argv)
        configure_logging(settings.log_level)
        sock = bind_socket(settings)
        service = make_service(settings)
        service.prepare()
        with asyncio.Runner(loop_factory=_event_loop_factory()) as runner:
            return runner.run(serve_service(service, sock))
    except ClusterError as error:
        fix = f"; fix: {error.fix}" if error.fix else ""
        sys.stderr.write(f"error: {error.message}{fix}\n")
        return error.exit_code
    except _StopDuringStartUp:
        log.info("stopped by SIGTERM during start-up")
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


class _StopDuringStartUp(Exception):
    """SIGTERM arrived before the instance served anything."""


def _stop_during_start_up(sig: int, frame: FrameType | None) -> None:
    raise _StopDuringStartUp
