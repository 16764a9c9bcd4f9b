"""A fault-injecting HTTP proxy on 127.0.0.1, in front of the loopback S3 server.

Clients point their endpoint at `FaultProxy.url`; every request is relayed to the upstream
server unless a rule picks it for a fault. Faults act on one request at a time, so a test can
break exactly "the PUT of donors.json" or "everything for the next 3 requests":

- `RESET`: the connection is reset before the request reaches the server;
- `LOSE_RESPONSE`: the request reaches the server (the object lands), its answer is lost (reset);
- `STALL`: the request is accepted and held unanswered (a black hole) until `release()` or the
  proxy stops, and never reaches the server;
- `STALL_RESPONSE`: the request reaches the server, its answer is held until `release()`;
- `SLOW_DOWN`: S3's 503 "SlowDown" answer, the request never reaches the server.

Rules can be added and removed while a run talks to the proxy (from the test's thread, or from
`after()` callbacks that fire once a matching request has been answered), e.g. "an outage that
starts right after the upload of donors.json". `wait_for()` blocks until a matching request
arrives, so a test can act at an exact point of a run without timing assumptions.
"""

from __future__ import annotations

import contextlib
import enum
import random
import re
import socket
import socketserver
import struct
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field


class Fault(enum.Enum):
    RESET = "reset"
    LOSE_RESPONSE = "lose_response"
    STALL = "stall"
    STALL_RESPONSE = "stall_response"
    SLOW_DOWN = "slow_down"


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # the URL path, unquoted: /bucket/key

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class Rule:
    fault: Fault
    pattern: re.Pattern[str]  # searched in "METHOD /bucket/key"
    times: int | None  # how many requests it still breaks (None: until removed)
    chance: float = 1.0  # the share of matching requests it breaks, drawn from `draw`
    draw: random.Random = field(default_factory=lambda: random.Random(0))

    def takes(self, request: Request) -> bool:
        if not ((self.times is None or self.times > 0) and self.pattern.search(str(request))):
            return False
        return self.chance >= 1.0 or self.draw.random() < self.chance


@dataclass
class _Trigger:
    pattern: re.Pattern[str]
    action: Callable[[], None]
    fired: bool = False


@dataclass
class Seen:
    request: Request
    fault: Fault | None


SLOW_DOWN_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)


@dataclass
class _State:
    upstream: tuple[str, int]
    rules: list[Rule] = field(default_factory=list)
    triggers: list[_Trigger] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Condition = field(default_factory=threading.Condition)
    released: threading.Event = field(default_factory=threading.Event)


class FaultProxy:
    def __init__(self, upstream_url: str):
        parsed = urllib.parse.urlsplit(upstream_url)
        self._state = _State(upstream=(parsed.hostname, parsed.port))
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = self._state
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._state.released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    # --- rules ------------------------------------------------------------------------------

    def inject(self, fault: Fault, pattern: str = "", times: int | None = None, chance: float = 1.0, seed: int = 0) -> Rule:
        """Break requests whose "METHOD /bucket/key" matches `pattern` (a regex; "" is every
        request) with `fault`: the next `times` of them or until removed, each with probability
        `chance` (a seeded draw, so a run of faults can be repeated)."""
        rule = Rule(fault, re.compile(pattern), times, chance, random.Random(seed))
        with self._state.lock:
            self._state.rules.append(rule)
        return rule

    def outage(self) -> Rule:
        """Every request reset, until the rule is removed."""
        return self.inject(Fault.RESET)

    def remove(self, rule: Rule) -> None:
        with self._state.lock:
            if rule in self._state.rules:
                self._state.rules.remove(rule)

    def clear(self) -> None:
        """No more faults; held requests are let go (their connections reset)."""
        with self._state.lock:
            self._state.rules.clear()
            self._state.triggers.clear()
        self.release()

    def release(self) -> None:
        """Let go of every stalled request (its connection is reset); later stalls hold again."""
        with self._state.lock:
            self._state.released.set()
            self._state.released = threading.Event()

    def after(self, pattern: str, action: Callable[[], None]) -> None:
        """Run `action` once, right after the first request matching `pattern` has been answered."""
        with self._state.lock:
            self._state.triggers.append(_Trigger(re.compile(pattern), action))

    # --- what happened ----------------------------------------------------------------------

    @property
    def seen(self) -> list[Seen]:
        with self._state.lock:
            return list(self._state.seen)

    def requests(self, pattern: str = "") -> list[Seen]:
        return [item for item in self.seen if re.search(pattern, str(item.request))]

    def wait_for(self, pattern: str, timeout: float = 60.0) -> Seen:
        """The first request matching `pattern` (waiting for it to arrive)."""
        compiled = re.compile(pattern)
        with self._state.lock:
            found = self._state.lock.wait_for(
                lambda: next((s for s in self._state.seen if compiled.search(str(s.request))), None), timeout
            )
        if found is None:
            raise TimeoutError(f"no request matching {pattern!r} within {timeout} s")
        return found


@contextlib.contextmanager
def fault_proxy(upstream_url: str) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream_url).start()
    try:
        yield proxy
    finally:
        proxy.stop()


# --- the relay ------------------------------------------------------------------------------


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    state: _State


class _Closed(Exception):
    """The peer closed the connection."""


def _read_head(stream) -> tuple[bytes, dict[str, str]] | None:
    """(start line + headers as sent, lower-cased headers) of one HTTP/1.1 message; None when
    the peer closed the connection before a new message."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        line = stream.readline(65537)
        if not line:
            if head:
                raise _Closed()
            return None
        head += line
    headers = {}
    for line in head.decode("latin-1").split("\r\n")[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return head, headers


def _read_body(stream, headers: dict[str, str], until_close: bool = False) -> bytes:
    """The body as sent (chunks and trailers included). Without a length, a response's body
    (`until_close`) runs until the server closes the connection; a request's is empty."""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size_line = stream.readline(65537)
            body += size_line
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                line = None
                while line not in (b"\r\n", b""):  # trailers, then the empty line
                    line = stream.readline(65537)
                    body += line
                return body
            body += stream.read(size + 2)
    if until_close and "content-length" not in headers:
        headers["connection"] = "close"
        return stream.read()
    length = int(headers.get("content-length", "0"))
    body = stream.read(length) if length else b""
    if len(body) < length:
        raise _Closed()
    return body


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        state = self.server.state
        upstream: socket.socket | None = None
        try:
            while True:
                message = _read_head(self.rfile)
                if message is None:
                    return
                head, headers = message
                if headers.get("expect", "").lower() == "100-continue":
                    # The client waits for this before it sends its body.
                    self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                    self.wfile.flush()
                body = _read_body(self.rfile, headers)
                method, target = head.split(b" ", 2)[:2]
                request = Request(method.decode(), urllib.parse.unquote(urllib.parse.urlsplit(target.decode()).path))
                fault, released = self._pick_fault(state, request)
                if fault is Fault.RESET:
                    return self._reset()
                if fault is Fault.STALL:
                    released.wait()
                    return self._reset()
                if fault is Fault.SLOW_DOWN:
                    self._answer(503, SLOW_DOWN_BODY)
                    continue
                response, upstream = self._relay(state, upstream, head + body, method)
                if fault is Fault.LOSE_RESPONSE:
                    return self._reset()
                if fault is Fault.STALL_RESPONSE:
                    released.wait()
                    return self._reset()
                response_head, response_headers, response_body = response
                self.wfile.write(response_head + response_body)
                self.wfile.flush()
                self._fire_triggers(state, request)
                if response_headers.get("connection", "").lower() == "close":
                    return  # the server closed its side: so does the proxy (the client reconnects)
        except (_Closed, ConnectionError, OSError):
            return
        finally:
            if upstream is not None:
                upstream.close()

    def _relay(self, state: _State, upstream: socket.socket | None, message: bytes, method: bytes):
        """(the server's response, the upstream connection to reuse). A kept-alive connection the
        server has closed meanwhile is replaced once, as an HTTP client does."""
        for attempt in range(2):
            if upstream is None:
                upstream = socket.create_connection(state.upstream)
            try:
                upstream.sendall(message)
                response = self._read_response(upstream.makefile("rb"), method)
            except (_Closed, ConnectionError):
                upstream.close()
                upstream = None
                if attempt:
                    raise
                continue
            if response[1].get("connection", "").lower() == "close":
                upstream.close()
                upstream = None
            return response, upstream
        raise _Closed()

    @staticmethod
    def _read_response(stream, method: bytes) -> tuple[bytes, dict[str, str], bytes]:
        while True:
            message = _read_head(stream)
            if message is None:
                raise _Closed()
            head, headers = message
            status = int(head.split(b" ", 2)[1])
            if status < 200:
                continue  # an interim 100 Continue of the server: the client had the proxy's
            if method == b"HEAD" or status in (204, 304):
                return head, headers, b""
            return head, headers, _read_body(stream, headers, until_close=True)

    @staticmethod
    def _pick_fault(state: _State, request: Request) -> tuple[Fault | None, threading.Event]:
        with state.lock:
            rule = next((r for r in state.rules if r.takes(request)), None)
            if rule is not None and rule.times is not None:
                rule.times -= 1
            fault = rule.fault if rule else None
            state.seen.append(Seen(request, fault))
            state.lock.notify_all()
            return fault, state.released

    @staticmethod
    def _fire_triggers(state: _State, request: Request) -> None:
        with state.lock:
            due = [t for t in state.triggers if not t.fired and t.pattern.search(str(request))]
            for trigger in due:
                trigger.fired = True
        for trigger in due:
            trigger.action()

    def _answer(self, status: int, body: bytes) -> None:
        reason = {503: "Slow Down"}.get(status, "Error")
        self.wfile.write(
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        self.wfile.flush()

    def _reset(self) -> None:
        """Close with a TCP reset (SO_LINGER 0), as a failing network path does."""
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
