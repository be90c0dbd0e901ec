"""A fault-injecting HTTP proxy in front of a real S3 server (moto's), for the fault tests.

The proxy (stdlib only, a thread on 127.0.0.1) forwards every request unchanged upstream and,
when a rule matches, answers 503/500/403 itself, drops the connection without a response,
cuts the response body off halfway, or holds the request unanswered (``"hold"``: until
``released`` is set, at most :data:`HOLD_SECONDS`), so a test can kill a process mid-transfer.
Nothing patches boto3 or botocore.
"""

from __future__ import annotations

import http.client
import http.server
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

HOLD_SECONDS = 30.0

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade", "expect"}
ERROR_BODY = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
    "<RequestId>fault-proxy</RequestId></Error>"
)
FAULTS = {
    "503": (503, "SlowDown", "Please reduce your request rate."),
    "500": (500, "InternalError", "We encountered an internal error. Please try again."),
    "403": (403, "AccessDenied", "Access Denied"),
}  # permanent: botocore does not retry it


@dataclass(frozen=True)
class Seen:
    """One request the proxy received and what it did with it ("forwarded", "503", "500", "403", "drop",
    "truncate": forwarded, but the response body cut off halfway and the connection closed)."""

    method: str
    path: str
    query: dict[str, list[str]]
    outcome: str
    at: float  # time.monotonic() when it arrived


@dataclass
class Rule:
    """Answer ``action`` instead of forwarding, for the next ``times`` requests that match."""

    matches: Callable[[str, str, dict[str, list[str]]], bool]
    action: str
    times: int
    fired: int = 0


@dataclass
class FaultProxy:
    url: str
    upstream: tuple[str, int]
    rules: list[Rule] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # "hold" keeps a request unanswered until this is set (or HOLD_SECONDS pass), then drops it.
    released: threading.Event = field(default_factory=threading.Event)

    def add(self, matches: Callable[[str, str, dict[str, list[str]]], bool], action: str, times: int) -> None:
        assert action in (*FAULTS, "drop", "truncate", "hold"), action
        with self.lock:
            self.rules.append(Rule(matches, action, times))

    def decide(self, method: str, path: str, query: dict[str, list[str]]) -> str:
        with self.lock:
            outcome = "forwarded"
            for rule in self.rules:
                if rule.fired < rule.times and rule.matches(method, path, query):
                    rule.fired += 1
                    outcome = rule.action
                    break
            self.seen.append(Seen(method, path, query, outcome, time.monotonic()))
            return outcome

    def requests(self, method: str, path: str, **query: str) -> list[Seen]:
        """The requests seen with this method and path whose query has these values."""
        with self.lock:
            return [
                s
                for s in self.seen
                if s.method == method and s.path == path and all(s.query.get(k) == [v] for k, v in query.items())
            ]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's pool expects; also answers Expect: 100-continue
    proxy: FaultProxy

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def _read_body(self) -> bytes:
        """The request body as sent on the wire: Content-Length bytes, or the raw chunked stream."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raw = bytearray()
            while True:
                line = self.rfile.readline()
                raw += line
                size = int(line.split(b";")[0].strip(), 16)
                if size == 0:
                    break
                raw += self.rfile.read(size + 2)  # data and its CRLF
            while True:  # trailers, then the empty line
                line = self.rfile.readline()
                raw += line
                if line in (b"\r\n", b"\n", b""):
                    return bytes(raw)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _handle(self) -> None:
        body = self._read_body()
        split = urlsplit(self.path)
        outcome = self.proxy.decide(self.command, split.path, parse_qs(split.query, keep_blank_values=True))
        if outcome == "hold":
            self.proxy.released.wait(HOLD_SECONDS)
            self.close_connection = True
            return
        if outcome == "drop":
            self.close_connection = True  # the server closes the socket; no status line was written
            return
        if outcome in FAULTS:
            status, code, message = FAULTS[outcome]
            self._reply(
                status, [("Content-Type", "application/xml")], ERROR_BODY.format(code=code, message=message).encode()
            )
            return
        upstream = http.client.HTTPConnection(*self.proxy.upstream, timeout=60)
        try:
            # The Host header goes through as the client sent it (part of the SigV4 signature).
            upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in HOP_BY_HOP:
                    upstream.putheader(name, value)
            upstream.endheaders()
            if body:
                upstream.send(body)
            response = upstream.getresponse()
            data = response.read()
            headers = [
                (k, v)
                for k, v in response.getheaders()
                if k.lower() not in HOP_BY_HOP | {"transfer-encoding", "content-length", "date", "server"}
            ]
            if self.command == "HEAD" and response.getheader("Content-Length"):
                headers.append(("Content-Length", response.getheader("Content-Length", "0")))
            self._reply(response.status, headers, data, reason=response.reason, truncate=outcome == "truncate")
        finally:
            upstream.close()

    def _reply(
        self,
        status: int,
        headers: list[tuple[str, str]],
        data: bytes,
        reason: str | None = None,
        truncate: bool = False,
    ) -> None:
        self.send_response(status, reason)
        for name, value in headers:
            self.send_header(name, value)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data[: len(data) // 2] if truncate else data)
        if truncate:  # the announced length never arrives: the client sees the body cut off
            self.wfile.flush()
            self.close_connection = True

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


@contextmanager
def serve(upstream: str) -> Iterator[FaultProxy]:
    """A proxy on a free loopback port in front of the server at ``upstream``; stopped on exit."""
    target = urlsplit(upstream)
    state = FaultProxy(url="", upstream=(target.hostname or "127.0.0.1", target.port or 80))
    handler = type("Handler", (_Handler,), {"proxy": state})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="fault-proxy", daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.released.set()  # no held request outlives the test
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
