"""Concurrent probes: one-shot health checks, and waiting until instances answer their ready probe.

An instance is probed by its service's probe kind: an HTTP GET of its ready and health paths (the default), a TCP
connect to its port, a command's exit code (`proc/exec_probe.py`), or not at all ("none": ready once it has stayed
up for its `stay_up` window).

Probes are plain GETs on loopback, one thread each: the request is a request line and three headers written to a
socket, and the answer is parsed by httptools (llhttp, the parser uvicorn serves with). httpx, and even the standard
library's http.client (email and ssl come with it), cost start-all more CPU to import than its own work
(bench/README.md, "Probes"), CPU taken from the very instances `start-all` waits for. Every probe of a batch starts
at once and the batch shares one deadline, so N hung instances cost one timeout, not N. What the network says
reaches start-all through a `Prober`, which tests script.
"""

from __future__ import annotations

import errno
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal, NamedTuple, Protocol
from urllib.parse import SplitResult, quote, urljoin, urlsplit

from tasker_cluster.proc.clock import SYSTEM_CLOCK, Clock

if TYPE_CHECKING:
    from httptools import HttpResponseParser

    from tasker_cluster.proc.ports import PortHolder

_FIRST_PAUSE, _MAX_PAUSE = 0.005, 0.05
# An instance that has answered "not ready" for a second is one that takes its time (it waits for its database, it
# warms up): it is then probed at most every quarter second, not 20 times a second. Each probe is a request it must
# answer while it starts, and a line in the log of a server that logs every request; compose's healthcheck interval
# is 30 s by default and a Kubernetes readiness probe's 10 s.
_PATIENT_AFTER, _PATIENT_PAUSE = 1.0, 0.25
# A ready probe that hangs must not eat the whole startup window in one go.
_READY_REQUEST_TIMEOUT = 1.0
# Until an instance listens, a refused TCP connect tells far more cheaply than an HTTP request that it is not
# ready; this often, readiness is noticed within a few ms of the port opening.
_LISTEN_PAUSE = 0.005
_CONNECT_TIMEOUT = 0.05
# How long past its deadline a target's own thread may take to report (a request cut at the deadline).
_REPORT_GRACE = 0.1
# Health answers are a few bytes of JSON; a server that streams more is not read to the end, nor one whose headers
# never end (http.client stopped at a 64 KiB line or 100 headers).
_BODY_LIMIT = 64 * 1024
_HEAD_LIMIT = 64 * 1024
_READ_SIZE = 16 * 1024
# Kept as they are in a request target: what RFC 3986 allows in a path and a query (pchar, "/" and "?"), and `%`
# of what is encoded already.
_TARGET_SAFE = "/?%:@!$&'()*+,;=~"
# Servers that bind `localhost` often get [::1] alone. While the IPv4 loopback refuses, the IPv6 one is tried this
# often; listening there on two checks this far apart (not a server about to bind both) ends the wait.
_OTHER_LOOPBACK_PAUSE = 0.25
IPV6_LOOPBACK = "::1"
# Redirects followed to name a ready path's final target.
_MAX_REDIRECTS = 5

# An exec probe pays a process start (an interpreter's, often), which takes seconds on a loaded machine: the 1 s of
# an HTTP request would kill checks that were about to pass.
EXEC_TIMEOUT = 5.0

ReadyOutcome = Literal["ready", "exited", "timeout", "redirect", "wrong-address", "probe-error"]


class ProbeResult(NamedTuple):
    """One probe's answer, by `kind`: "http" a GET's status (`location` of a redirect); "tcp" a connect (answered
    when it connected); "exec" a command's `exit_code` and the last line it printed (`output`). `latency_ms` is the
    probe's duration; `error` what kept it from an answer ("refused", "timeout", the OS error's name);
    `cannot_run` that an exec probe's command could not be started at all (not found, not executable), so that no
    later run can answer either."""

    status_code: int | None
    latency_ms: float | None
    error: str | None
    location: str | None = None
    kind: str = "http"
    exit_code: int | None = None
    output: str = ""
    cannot_run: bool = False

    @property
    def ok(self) -> bool:
        if self.kind == "exec":
            return self.exit_code == 0
        if self.kind == "tcp":
            return self.error is None
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def answered(self) -> bool:
        if self.kind == "exec":
            return self.exit_code is not None
        if self.kind == "tcp":
            return self.error is None
        return self.status_code is not None

    @property
    def text(self) -> str:
        """The answer as the HEALTH column shows it: `200`, `tcp open`, `tcp refused`, `exec exit 0`,
        `exec exit 3: <its last line>`, `exec timeout`."""
        if self.kind == "http":
            return str(self.status_code) if self.answered else str(self.error)
        if not self.answered:
            return f"{self.kind} {self.error}"
        if self.kind == "tcp":
            return "tcp open"
        return f"exec exit {self.exit_code}" + (f": {self.output}" if self.output and not self.ok else "")

    @property
    def redirect(self) -> bool:
        return self.status_code is not None and 300 <= self.status_code < 400 and bool(self.location)


NOT_ANSWERED = ProbeResult(None, None, "timeout")


class Prober(Protocol):
    """What the network says about an instance: the real `NETWORK`, or a test's scripted answers."""

    def get(self, url: str, timeout: float) -> ProbeResult:
        """One GET of `url`; `timeout` in seconds."""
        ...

    def connect(self, address: tuple[str, int], timeout: float) -> ProbeResult:
        """A TCP probe: one connect to `address`, closed at once."""
        ...

    def run(self, argv: Sequence[str], timeout: float, cwd: str, env: dict[str, str]) -> ProbeResult:
        """An exec probe: `argv` run to its end or killed at `timeout`."""
        ...

    def listening(self, address: tuple[str, int]) -> bool:
        """False only while nothing listens at `address` (an IPv4 or IPv6 host)."""
        ...

    def port_free(self, port: int) -> bool: ...

    def port_holder(self, port: int) -> PortHolder:
        """What holds a taken port, or why it cannot be named."""
        ...


class Network:
    """The real network: HTTP GETs, connect(), bind() and psutil."""

    def get(self, url: str, timeout: float) -> ProbeResult:
        return probe(url, timeout)

    def connect(self, address: tuple[str, int], timeout: float) -> ProbeResult:
        return connect(address, timeout)

    def run(self, argv: Sequence[str], timeout: float, cwd: str, env: dict[str, str]) -> ProbeResult:
        from tasker_cluster.proc.exec_probe import run_probe_command

        return run_probe_command(argv, timeout, cwd, env)

    def listening(self, address: tuple[str, int]) -> bool:
        return _accepts(address)

    def port_free(self, port: int) -> bool:
        from tasker_cluster.proc.ports import is_port_free

        return is_port_free(port)

    def port_holder(self, port: int) -> PortHolder:
        from tasker_cluster.proc.ports import port_holder

        return port_holder(port)


NETWORK = Network()


def attempt_timeout(kind: str, probe_timeout: float | None) -> float:
    """Seconds one ready probe of `kind` may take during a start: the service's `probe_timeout` when it sets one,
    else 5 s for "exec" (EXEC_TIMEOUT) and 1 s for an HTTP request or a TCP connect."""
    if probe_timeout is not None:
        return probe_timeout
    return EXEC_TIMEOUT if kind == "exec" else _READY_REQUEST_TIMEOUT


class ReadyTarget(NamedTuple):
    """An instance to wait for: `exit_code` says whether it has already exited (None while it runs).

    `probe` is its kind: "http" GETs `url` (with `health_url`, the health path is probed once the instance is
    ready, so a status table can be drawn from the answers without probing again); "tcp" connects to `url`'s host
    and port; "exec" runs `command` in `cwd` with `env`; "none" counts it ready once it has run `stay_up` seconds
    from being added (at most its whole `timeout`), so that one that exits at once is seen to exit.
    Each probe may take `probe_timeout` seconds (None: its kind's default, `attempt_timeout`).
    """

    name: str
    url: str
    timeout: float
    exit_code: Callable[[], int | None]
    health_url: str | None = None
    probe: str = "http"
    command: tuple[str, ...] = ()
    cwd: str = "."
    env: dict[str, str] | None = None
    probe_timeout: float | None = None
    stay_up: float = 0.0

    @property
    def attempt_timeout(self) -> float:
        return attempt_timeout(self.probe, self.probe_timeout)


class ReadyResult(NamedTuple):
    """How a wait ended: ready, exited, timeout, "redirect" (the ready path answers 3xx; `final_url` is where its
    redirects lead), "wrong-address" (it listens on the IPv6 loopback only, while its URL is IPv4) or "probe-error"
    (its probe command cannot be started: `last_probe.cannot_run`)."""

    name: str
    outcome: ReadyOutcome
    elapsed: float
    last_probe: ProbeResult | None
    health: ProbeResult | None = None
    final_url: str | None = None


def probe(url: str, timeout: float) -> ProbeResult:
    """One GET of `url` (HTTP/1.1, `Connection: close`); `timeout` (seconds) bounds the connect and each read, as a
    socket timeout does. The body is read, up to _BODY_LIMIT bytes, and dropped: a server is not cut off mid-answer.
    Interim answers (100 Continue and kin) are skipped; a 101 is an answer.

    Never raises for what the server does: `error` names it ("refused", "timeout", "closed" before an answer,
    "not HTTP", "headers too long", or the OS error's name).
    """
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    started = time.perf_counter()
    try:
        address = (host, parts.port or 80)
        request = _request(parts, host).encode("ascii")
        # connect() with the literal address: create_connection's getaddrinfo would load the idna codec.
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(address)
            sock.sendall(request)
            answer = _read_answer(sock)
    except ConnectionRefusedError:
        return ProbeResult(None, None, "refused")
    except TimeoutError:
        return NOT_ANSWERED
    except (OSError, ValueError) as error:
        # ValueError: a URL that cannot be requested (a bad port, a character a request line cannot hold).
        return ProbeResult(None, None, type(error).__name__)
    if answer.error is not None or answer.status is None:
        return ProbeResult(None, None, answer.error or "closed")
    location = answer.location if 300 <= answer.status < 400 else None
    return ProbeResult(answer.status, (time.perf_counter() - started) * 1000, None, location)


def connect(address: tuple[str, int], timeout: float) -> ProbeResult:
    """A TCP probe, as Kubernetes' tcpSocket: open when a connection is made within `timeout` seconds (then closed
    at once); never raises ("refused", "timeout" or the OS error's name)."""
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    started = time.perf_counter()
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except ConnectionRefusedError:
            return ProbeResult(None, None, "refused", kind="tcp")
        except TimeoutError:
            return ProbeResult(None, None, "timeout", kind="tcp")
        except (OSError, OverflowError) as error:
            return ProbeResult(None, None, type(error).__name__, kind="tcp")
    return ProbeResult(None, (time.perf_counter() - started) * 1000, None, kind="tcp")


def request_target(path: str) -> str:
    """A configured `health_path` / `ready_path` (with its query, if any) as an HTTP request target: spaces and
    non-ASCII letters percent-encoded, what RFC 3986 allows in a path and a query (and `%` of what is encoded
    already) kept. The local probes send it so, and the exports write it so into healthchecks and probes."""
    return quote(path, safe=_TARGET_SAFE)


def _request(parts: SplitResult, host: str) -> str:
    """The GET of `parts`: its path and query, and the Host header a server expects (the port unless it is 80;
    IPv6 in brackets)."""
    target = request_target(parts.path or "/") + (f"?{request_target(parts.query)}" if parts.query else "")
    authority = f"[{host}]" if ":" in host else host
    if parts.port is not None and parts.port != 80:
        authority += f":{parts.port}"
    return f"GET {target} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: tasker-cluster\r\nConnection: close\r\n\r\n"


def _read_answer(sock: socket.socket) -> _Answer:
    """Read one answer from `sock` until it is complete, the server closes, or a limit is passed (_HEAD_LIMIT
    before the headers end, _BODY_LIMIT of body after). OSError and TimeoutError as the socket raises them."""
    # Imported at the first use, not with the module: start-all spawns its instances before it needs HTTP.
    from httptools import HttpParserError, HttpParserUpgrade, HttpResponseParser

    answer = _Answer(HttpResponseParser)
    parser = answer.parser
    # Small health servers end lines with a bare LF; a probe reads one answer on a connection it closes, so there is
    # no request to smuggle for which llhttp's strictness is meant.
    parser.set_dangerous_leniencies(lenient_optional_cr_before_lf=True)
    received = 0
    while not answer.complete:
        chunk = sock.recv(_READ_SIZE)
        if not chunk:
            break
        received += len(chunk)
        try:
            parser.feed_data(chunk)
        except (HttpParserError, HttpParserUpgrade):
            # After a 101's headers llhttp stops: what follows is another protocol. Before them: not HTTP.
            if answer.status is None:
                answer.error = "not HTTP"
            break
        if answer.status is None and received > _HEAD_LIMIT:
            answer.error = "headers too long"
            break
        if answer.body_bytes > _BODY_LIMIT:
            break
    return answer


class _Answer:
    """An answer as its parser (`parser_class(self)`: httptools calls back here) reports it: its final status (None
    until its headers end), its Location header, whether it is complete, its body's size so far; `error` when it is
    not an answer."""

    def __init__(self, parser_class: Callable[[_Answer], HttpResponseParser]) -> None:
        self.parser = parser_class(self)
        self.status: int | None = None
        self.location: str | None = None
        self.complete = False
        self.body_bytes = 0
        self.error: str | None = None

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"location":
            self.location = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            # An interim answer: the final one follows on the same connection.
            self.location = None
            return
        self.status = status

    def on_body(self, body: bytes) -> None:
        self.body_bytes += len(body)

    def on_message_complete(self) -> None:
        self.complete = self.status is not None


def final_target(prober: Prober, url: str, answer: ProbeResult, timeout: float) -> str:
    """Where `url`'s redirects lead, `answer` being its first: followed up to _MAX_REDIRECTS times, and only on the
    same server (a redirect elsewhere is named, never requested: probes stay on loopback)."""
    server = urlsplit(url).netloc
    for _ in range(_MAX_REDIRECTS):
        if not answer.redirect or answer.location is None:
            break
        url = urljoin(url, answer.location)
        if urlsplit(url).netloc != server:
            break
        answer = prober.get(url, timeout)
    return url


class ProbeBatch:
    """Runs every probe at once from construction (each is called with `timeout`); `results` waits at most
    `timeout` from then.

    A socket timeout bounds each phase of a request (connect, write, read) by `timeout`, not their sum: a server
    that drips its answer would take longer, so a probe still running at the deadline counts as not answered. Its
    daemon thread ends with its request or with the program.
    """

    def __init__(self, probes: Sequence[Callable[[float], ProbeResult]], timeout: float) -> None:
        self._results: list[ProbeResult | None] = [None] * len(probes)
        self._threads: list[threading.Thread] = []
        self._deadline = time.monotonic() + timeout
        for position, one in enumerate(probes):
            thread = threading.Thread(target=self._probe_into, args=(one, timeout, position), daemon=True)
            thread.start()
            self._threads.append(thread)

    def results(self) -> list[ProbeResult]:
        for thread in self._threads:
            thread.join(max(self._deadline - time.monotonic(), 0.0))
        return [result or NOT_ANSWERED for result in self._results]

    def _probe_into(self, one: Callable[[float], ProbeResult], timeout: float, position: int) -> None:
        self._results[position] = one(timeout)


class ReadinessWatch:
    """Waits for instances to answer their ready probe, each from the moment it is `add`ed.

    Made before spawning, so that each instance is watched as soon as it is spawned. One thread checks, every few
    ms, whether not-yet-listening instances accept connections (an instance probed by "none" is ready there once it
    has stayed up its window: all such windows run at once, not one after the other); an instance that does gets a
    thread of its own for HTTP or TCP probes with a short backoff. An exec probe needs no port: its thread starts at
    once. `on_result` is called once per target, from those threads, one call at a time.
    """

    def __init__(
        self, on_result: Callable[[ReadyResult], None], *, prober: Prober = NETWORK, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self._on_result = on_result
        self._prober = prober
        self._clock = clock
        self._lock = threading.Lock()
        self._report_lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._waiters: list[_Waiter] = []
        self._listening: list[_Waiter] = []
        self._closing = False
        self._stopping = threading.Event()
        # The first unexpected error of any of the watch's threads, raised again by `results`.
        self._error: BaseException | None = None
        self._listener: threading.Thread | None = None

    def add(self, target: ReadyTarget) -> None:
        waiter = _Waiter(target, self._clock.monotonic())
        if target.probe == "exec":
            with self._lock:
                self._waiters.append(waiter)
            threading.Thread(target=self._guarded(self._probe_until_ready), args=(waiter,), daemon=True).start()
            return
        with self._lock:
            self._waiters.append(waiter)
            self._listening.append(waiter)
            if self._listener is None:
                self._listener = threading.Thread(target=self._guarded(self._watch_listening), daemon=True)
                self._listener.start()
            self._wake.notify()

    def results(self) -> list[ReadyResult]:
        """Every added target's result, in the order added, once each is ready, has exited or ran out of time."""
        with self._lock:
            self._closing = True
            self._wake.notify()
            waiters = list(self._waiters)
        results = []
        for waiter in waiters:
            if self._error is None:
                waiter.done.wait(max(waiter.deadline + _REPORT_GRACE - self._clock.monotonic(), 0.0))
            if self._error is not None:
                raise self._error
            self._finish(waiter, "timeout")
            # The health probe follows the ready answer at once; its own timeout bounds this wait. One that still
            # has not answered (a server that drips its answer) is reported without it.
            waiter.probed.wait(waiter.target.attempt_timeout + _REPORT_GRACE)
            self._report_health(waiter, None)
            assert waiter.result is not None
            results.append(waiter.result)
        return results

    def close(self) -> None:
        """Stop watching (a start that failed half-way): the watch's threads end at their next check."""
        self._stopping.set()
        with self._lock:
            self._closing = True
            self._wake.notify()

    def _guarded(self, body: Callable[..., None]) -> Callable[..., None]:
        """`body` for a thread: an unexpected error ends every wait at once and reaches `results`' caller."""

        def run(*args: object) -> None:
            try:
                body(*args)
            except BaseException as error:
                with self._report_lock:
                    self._error = self._error or error
                    for waiter in self._waiters:
                        waiter.done.set()
                        waiter.probed.set()

        return run

    def _watch_listening(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                while not self._listening and not self._closing:
                    self._wake.wait()
                if not self._listening:
                    return
                pending = list(self._listening)
            for waiter in pending:
                if self._listening_step(waiter):
                    with self._lock:
                        self._listening.remove(waiter)
            self._clock.sleep(_LISTEN_PAUSE)

    def _listening_step(self, waiter: _Waiter) -> bool:
        """True once the waiter leaves the listening phase: it listens, exited, listens at the other loopback
        only, or ran out of time."""
        if waiter.target.exit_code() is not None:
            self._finish(waiter, "exited")
        elif waiter.target.probe == "none":
            if self._clock.monotonic() < waiter.started + min(waiter.target.stay_up, waiter.target.timeout):
                return False
            self._finish(waiter, "ready")
        elif self._prober.listening(waiter.address):
            threading.Thread(target=self._guarded(self._probe_until_ready), args=(waiter,), daemon=True).start()
        elif self._listens_elsewhere_only(waiter):
            waiter.last = ProbeResult(None, None, "refused", kind=waiter.target.probe)
            self._finish(waiter, "wrong-address")
        elif self._clock.monotonic() >= waiter.deadline:
            waiter.last = ProbeResult(None, None, "refused", kind=waiter.target.probe)
            self._finish(waiter, "timeout")
        else:
            return False
        return True

    def _listens_elsewhere_only(self, waiter: _Waiter) -> bool:
        """True once the IPv6 loopback has accepted on two checks _OTHER_LOOPBACK_PAUSE apart, IPv4 refusing."""
        now = self._clock.monotonic()
        if waiter.address[0] == IPV6_LOOPBACK or now < waiter.next_other_check:
            return False
        waiter.next_other_check = now + _OTHER_LOOPBACK_PAUSE
        if not self._prober.listening((IPV6_LOOPBACK, waiter.address[1])):
            waiter.other_listening = 0
            return False
        waiter.other_listening += 1
        return waiter.other_listening >= 2

    def _probe_until_ready(self, waiter: _Waiter) -> None:
        pause = _FIRST_PAUSE
        patient_from = self._clock.monotonic() + _PATIENT_AFTER
        while not self._stopping.is_set() and not waiter.done.is_set():
            remaining = waiter.deadline - self._clock.monotonic()
            if waiter.target.exit_code() is not None:
                self._finish(waiter, "exited")
                return
            if remaining <= 0:
                self._finish(waiter, "timeout")
                return
            answer = self._check(waiter.target, waiter.address, remaining)
            # A probe cut short by the end of the startup window says less than the answer before it: that one
            # stays the last, for the timeout's message.
            cut = not answer.answered and self._clock.monotonic() >= waiter.deadline
            if not (cut and waiter.last is not None and waiter.last.answered):
                waiter.last = answer
            if waiter.last.cannot_run:
                # Not found or not executable: no later run can succeed, so the startup window is not waited out.
                self._finish(waiter, "probe-error")
                return
            if waiter.last.redirect:
                # A redirect never turns into a ready answer by waiting: the ready path itself is wrong.
                waiter.final_url = final_target(
                    self._prober, waiter.target.url, waiter.last, waiter.target.attempt_timeout
                )
                self._finish(waiter, "redirect")
                return
            if waiter.last.ok:
                if waiter.target.probe != "http":
                    # One check serves as readiness and liveness probe alike: its answer is the health too.
                    waiter.health = waiter.last
                self._finish(waiter, "ready")
                if _health_follows(waiter.target):
                    health = self._prober.get(waiter.target.health_url or "", waiter.target.attempt_timeout)
                    self._report_health(waiter, health)
                return
            self._clock.sleep(min(pause, max(waiter.deadline - self._clock.monotonic(), 0.0)))
            pause = min(pause * 2, _MAX_PAUSE if self._clock.monotonic() < patient_from else _PATIENT_PAUSE)

    def _check(self, target: ReadyTarget, address: tuple[str, int], remaining: float) -> ProbeResult:
        """One ready probe of `target`'s kind, cut at the end of its startup window."""
        timeout = min(target.attempt_timeout, remaining)
        if target.probe == "tcp":
            return self._prober.connect(address, timeout)
        if target.probe == "exec":
            return self._prober.run(target.command, timeout, target.cwd, target.env or {})
        return self._prober.get(target.url, timeout)

    def _finish(self, waiter: _Waiter, outcome: ReadyOutcome) -> None:
        with self._report_lock:
            if waiter.result is not None:
                return
            elapsed = self._clock.monotonic() - waiter.started
            waiter.result = ReadyResult(
                waiter.target.name, outcome, elapsed, waiter.last, waiter.health, final_url=waiter.final_url
            )
            waiter.done.set()
            if outcome == "ready" and _health_follows(waiter.target):
                # Reported with its health answer (`_report_health`): a start says at once what it found.
                return
            waiter.probed.set()
            self._on_result(waiter.result)

    def _report_health(self, waiter: _Waiter, health: ProbeResult | None) -> None:
        """Report a ready HTTP target with the answer of its health path (None: none came in time), once."""
        with self._report_lock:
            if waiter.probed.is_set() or waiter.result is None:
                return
            waiter.health = health
            waiter.result = waiter.result._replace(health=health)
            waiter.probed.set()
            self._on_result(waiter.result)


def _health_follows(target: ReadyTarget) -> bool:
    """Whether the health path is probed once the ready path answered (an HTTP target with a `health_url`)."""
    return target.probe == "http" and target.health_url is not None


class _Waiter:
    """One target's progress; `result` is set once, under the watch's report lock."""

    def __init__(self, target: ReadyTarget, started: float) -> None:
        self.target = target
        self.started = started
        self.deadline = started + target.timeout
        parts = urlsplit(target.url)
        self.address = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.last: ProbeResult | None = None
        self.health: ProbeResult | None = None
        self.result: ReadyResult | None = None
        self.final_url: str | None = None
        self.next_other_check = started
        self.other_listening = 0
        self.done = threading.Event()
        self.probed = threading.Event()


def _accepts(address: tuple[str, int]) -> bool:
    """False only while nothing listens: any other answer (even a full backlog's silence) is for HTTP to judge."""
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # A loopback connect is answered at once, unless a full backlog drops it: no reason to stall the others.
        sock.settimeout(_CONNECT_TIMEOUT)
        return sock.connect_ex(address) != errno.ECONNREFUSED
