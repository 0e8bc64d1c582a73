"""A small threaded HTTP server that the X and Reddit stand-ins build on.

It answers like a web API on 127.0.0.1 (ephemeral port), records every
request, and injects faults: scripted ones (the next N matching requests
get a 429, a 500, a hang longer than the client's timeout, a dropped
connection or broken JSON) and a seeded random fault rate for soak runs.
The clients under test (tweepy, praw) talk real HTTP to it.
"""
from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

# What a random fault can be; `fault_rate` picks among these.
RANDOM_FAULTS = ("500", "502", "503", "429", "malformed")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]  # last value of each parameter
    headers: dict[str, str]  # lower-case names
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # from the route pattern
    route: str | None = None  # the matched route pattern: one rate-limit bucket each
    state: dict[str, Any] = field(default_factory=dict)  # what hooks learn about the request

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(self.body.decode("utf-8", "replace")).items()}


@dataclass
class Reply:
    status: int
    body: Any = None  # dict/list -> JSON; bytes/str sent as they are
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"

    def payload(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body, ensure_ascii=False).encode()


@dataclass
class Fault:
    # An HTTP status as text ("429", "500"); "timeout" (no answer, nothing done);
    # "lost" (done, but no answer: the crash case for exactly-once sending);
    # "drop" (connection closed); "malformed" (a JSON body cut short).
    kind: str
    times: int = 1
    method: str | None = None
    path: str | None = None  # regex searched in the path
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None

    def matches(self, req: Request) -> bool:
        return ((self.method is None or self.method == req.method)
                and (self.path is None or re.search(self.path, req.path) is not None))


class Hang(Exception):
    """Raised inside a handler to hold the connection without answering."""


class ApiServer:
    """Routes, faults and request log; subclasses add state and endpoints."""

    hang_seconds = 30.0  # longer than any client timeout we configure in tests

    def __init__(self, *, seed: int = 0, fault_rate: float = 0.0):
        self.fault_rate = fault_rate
        self.random = random.Random(seed)
        self.lock = threading.RLock()
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self.errors: list[str] = []  # handler crashes (bugs in the stand-in)
        self.injected: list[str] = []  # the faults served, scripted or random
        self.record = True  # benchmarks turn the request log off
        self.clock: Callable[[], float] = time.time  # tests move time forward for rate-limit windows
        self._routes: list[tuple[str, str, re.Pattern, Callable[[Request], Reply]]] = []
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------
    def start(self) -> "ApiServer":
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the real APIs
            # Headers and body go out in separate writes; with Nagle's algorithm
            # and delayed ACKs each answer would wait ~40 ms on the client.
            disable_nagle_algorithm = True

            def _any(self) -> None:
                standin._handle(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any

            def log_message(self, *args: Any) -> None:  # quiet test output
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll interval makes stop() quick (tests start one per test).
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases hanging handlers
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def serve_until_interrupted(self, banner: str) -> None:
        """For `python -m collectors.standins.<api>`: print how to reach it, block until Ctrl-C."""
        print(banner, flush=True)
        try:
            self._stopping.wait()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> "ApiServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server, "start() the stand-in first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # --- routes and faults -----------------------------------------------
    def route(self, method: str, pattern: str, handler: Callable[[Request], Reply]) -> None:
        """`pattern` is a path with {name} placeholders (one path segment each)."""
        regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")
        self._routes.append((method, pattern, regex, handler))

    def fail(self, kind: str | int, *, times: int = 1, method: str | None = None, path: str | None = None,
             headers: dict[str, str] | None = None, body: Any = None) -> None:
        """Script a fault for the next `times` requests matching method/path."""
        with self.lock:
            self.faults.append(Fault(str(kind), times, method, path, headers or {}, body))

    def requests_to(self, method: str, path_regex: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.method == method and re.search(path_regex, r.path)]

    def _take_fault(self, req: Request) -> Fault | None:
        with self.lock:
            fault = next((f for f in self.faults if f.matches(req)), None)
            if fault is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
            elif self.fault_rate and self.random.random() < self.fault_rate:
                fault = Fault(self.random.choice(RANDOM_FAULTS))
            if fault is not None:
                self.injected.append(f"{fault.kind} {req.method} {req.path}")
            return fault

    # --- hooks for subclasses --------------------------------------------
    def before(self, req: Request) -> Reply | None:
        """Checks every request passes first (authentication, rate limit)."""
        return None

    def fault_reply(self, req: Request, fault: Fault) -> Reply:
        """How this API answers an injected status fault."""
        return Reply(int(fault.kind), fault.body if fault.body is not None else {"error": int(fault.kind)},
                     dict(fault.headers))

    def after(self, req: Request, reply: Reply) -> Reply:
        """Last look at every reply (headers every response carries)."""
        return reply

    # --- the request cycle -----------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        req = Request(h.command, parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()},
                      {k.lower(): v for k, v in h.headers.items()}, body)
        if self.record:
            with self.lock:
                self.requests.append(req)
        try:
            reply = self._answer(req)
        except Hang:
            self._stopping.wait(self.hang_seconds)
            h.close_connection = True
            return
        if reply is None:  # "drop": close without a response
            h.close_connection = True
            return
        data = reply.payload()
        h.send_response(reply.status)
        h.send_header("Content-Type", reply.content_type)
        h.send_header("Content-Length", str(len(data)))
        for k, v in reply.headers.items():
            h.send_header(k, v)
        if req.headers.get("connection", "").lower() == "close":
            # Say so, as real servers do (prawcore asks it of token requests);
            # otherwise the client pools a connection we are about to close.
            h.send_header("Connection", "close")
        h.end_headers()
        h.wfile.write(data)

    def _answer(self, req: Request) -> Reply | None:
        handler = self._match(req)
        fault = self._take_fault(req)
        if fault and fault.kind == "timeout":
            raise Hang()
        if fault and fault.kind == "drop":
            return None
        if fault and fault.kind.isdigit():
            return self.after(req, self.fault_reply(req, fault))
        try:
            reply = self.before(req) or (handler(req) if handler else self.not_found(req))
        except Exception as e:  # a stand-in bug: answer like a server would, keep it for the test
            with self.lock:
                self.errors.append(f"{req.method} {req.path}: {e!r}")
            reply = Reply(500, {"error": 500})
        if fault and fault.kind == "lost":
            raise Hang()  # it took effect, but the answer never arrives
        if fault and fault.kind == "malformed":
            # A body cut short, as a proxy that drops the connection mid-way leaves it.
            data = reply.payload() or b'{"data": []}'
            reply = Reply(reply.status, data[: max(1, len(data) // 2)], reply.headers, reply.content_type)
        return self.after(req, reply)

    def _match(self, req: Request) -> Callable[[Request], Reply] | None:
        for method, pattern, regex, handler in self._routes:
            m = regex.match(req.path)
            if m and method == req.method:
                req.params, req.route = m.groupdict(), pattern
                return handler
        return None

    def not_found(self, req: Request) -> Reply:
        return Reply(404, {"error": 404})
