"""A base for platform emulators: real HTTP servers on 127.0.0.1 with fault injection.

Each platform's emulator subclasses :class:`EmulatorServer`, declares routes
and keeps its own state.  Tests (and ``genesis demo``) start it on an
ephemeral port and point an adapter's ``base_url`` at ``server.base_url``.

Faults apply to every route and model what real APIs do on a bad day:
timeouts, reset connections, 5xx, an HTML 502, 401/403/404, 429 with and
without ``Retry-After``, malformed JSON, a body of the wrong shape and a huge body.
Two more faults leave the answer valid but spoil one item of it (:data:`ITEM_FAULTS`):
the item naming ``Fault.target`` loses its name, or its value (``Fault.value``)
becomes a number.  ``Fault.methods`` limits a fault to some HTTP methods (the
contract kit fails writes only).

A platform's own rate limit is one hook, :meth:`EmulatorServer.rate_limiting`: a
:class:`RateLimit` that builds the platform's 429 and the headers every answer carries.
A test makes the next requests answer that 429 with :meth:`EmulatorServer.throttle_next`;
the emulator never refuses a request on its own (a suite must not depend on its speed).
"""

from __future__ import annotations

import copy
import json
import math
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs


@attrs.frozen
class Request:
    """One request as the emulator saw it (the Authorization header is kept only as a hash flag)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """Return the decoded JSON body (``None`` when empty)."""
        return json.loads(self.body) if self.body else None

    def param(self, name: str, default: str | None = None) -> str | None:
        """Return the first query parameter ``name``."""
        values = self.query.get(name)
        return values[0] if values else default


@attrs.frozen
class Response:
    """What a route returns."""

    status: int
    body: Any = None
    headers: dict[str, str] = attrs.Factory(dict)
    raw: bytes | None = None
    content_type: str = "application/json; charset=utf-8"

    def encode(self) -> bytes:
        """Return the body bytes."""
        if self.raw is not None:
            return self.raw
        if self.body is None:
            return b""
        return json.dumps(self.body).encode()


@attrs.frozen
class Fault:
    """A failure to inject: ``kind`` is one of :data:`FAULT_KINDS`; ``times`` = how many requests (None = all)."""

    kind: str
    times: int | None = None
    status: int | None = None
    retry_after: str | None = None
    delay: float = 0.0
    path: str | None = None  # regex; only requests whose path matches
    #: Only requests with one of these methods (upper case); ``None``: every method.
    methods: tuple[str, ...] | None = None
    #: For :data:`ITEM_FAULTS`: the variable whose item is spoiled, and its value as stored.
    target: str | None = None
    value: str | None = None


#: Faults that spoil one item of an otherwise valid answer (see :func:`spoil_item`).
ITEM_FAULTS = ("item_without_name", "non_string_value")

FAULT_KINDS = (
    "timeout", "reset", "status", "html502", "malformed_json", "wrong_shape", "huge", "rate_limit", *ITEM_FAULTS,
)
#: What the number that replaces a value is (``non_string_value``).
SPOILED_VALUE = 12345


def _names(text: object, target: str) -> bool:
    return isinstance(text, str) and (text == target or text.endswith("/" + target))


def _spoil(node: Any, fault: Fault) -> bool:
    """Spoil the first matching item inside ``node`` in place; return whether one was found."""
    target, value = fault.target or "", fault.value
    if isinstance(node, list):
        return any(_spoil(item, fault) for item in node)
    if not isinstance(node, dict):
        return False
    if fault.kind == "item_without_name":
        for field, held in node.items():
            if _names(held, target):  # {"key": TARGET, ...}: the item loses its name field
                del node[field]
                return True
        if target in node and (value is None or node[target] == value):  # {TARGET: value}: an empty name
            node[""] = node.pop(target)
            return True
    else:
        for field, held in node.items():
            if value is not None and held == value:
                node[field] = SPOILED_VALUE
                return True
    for field, held in node.items():
        if isinstance(held, str) and held[:1] in ("{", "[") and target in held:  # JSON inside a string
            try:
                inner = json.loads(held)
            except ValueError:
                continue
            if _spoil(inner, fault):
                node[field] = json.dumps(inner)
                return True
        elif _spoil(held, fault):
            return True
    return False


def spoil_item(response: Response, fault: Fault) -> Response | None:
    """Return ``response`` with the item of ``fault.target`` spoiled as ``fault.kind`` says; ``None`` if absent.

    ``item_without_name`` drops the field that names the target (``{"key": "TARGET", ...}``
    loses ``key``; a map ``{"TARGET": value}`` gets the name ``""``); ``non_string_value``
    replaces the field holding ``fault.value`` with :data:`SPOILED_VALUE`.  Names like
    ``/path/TARGET`` count (SSM), and JSON inside a string is looked into (a Secrets
    Manager ``SecretString``).
    """
    if response.raw is not None:  # a relayed answer: JSON whatever its Content-Type says (moto: text/html)
        try:
            body = json.loads(response.raw)
        except ValueError:
            return None
    else:
        body = copy.deepcopy(response.body)
    if not _spoil(body, fault):
        return None
    return attrs.evolve(response, body=body, raw=None)

Route = Callable[[Request, re.Match[str]], Response]


@attrs.frozen
class Throttle:
    """What :meth:`EmulatorServer.throttle_next` was last asked (the defaults before any call)."""

    #: The ``Retry-After`` the 429 should carry (``None``: the platform's default, often none).
    retry_after: str | None = None
    #: Seconds until the limit resets, for a platform that says so in a header or the body.
    reset: int | None = None


@attrs.frozen
class RateUsage:
    """What :attr:`RateLimit.headers` sees for one answer."""

    #: The platform's budget per window (:attr:`RateLimit.requests`).
    requests: int | None
    #: Answers counted in the current window, this one included.
    used: int
    #: Whole seconds until the window starts again (``None`` when the budget never refills).
    reset: int | None
    #: The status of the answer the headers go on (a fault or a route may answer 429 too).
    status: int
    #: Whether the answer is the rate limit's own 429 (:meth:`EmulatorServer.throttle_next`).
    throttled: bool
    #: What the last :meth:`EmulatorServer.throttle_next` asked (kept after the throttled answers).
    throttle: Throttle


@attrs.frozen
class RateLimit:
    """A platform's rate limit as its emulator reproduces it (:meth:`EmulatorServer.rate_limiting`).

    ``answer`` builds the platform's 429 (status, body, headers) from the last
    :class:`Throttle`; ``headers``, when given, the headers every answer carries (the
    rate limit's 429 included), counted ``requests`` per ``window`` seconds (``None``: the
    budget never refills).  Counting only feeds the headers: the emulator answers 429
    only while a test has throttled it.
    """

    answer: Callable[[Throttle], Response]
    headers: Callable[[RateUsage], Mapping[str, str]] | None = None
    requests: int | None = None
    window: float | None = None


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, a keep-alive client's delayed ACK
    # stalls every answer by ~40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        return  # keep test output clean; requests are recorded in server.emulator.requests

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        request = Request(self.command, split.path, parse_qs(split.query, keep_blank_values=True),
                          {k.lower(): v for k, v in self.headers.items()}, body)
        emulator = self.server.emulator
        response = emulator.handle(request)
        if response is None:  # "reset"/"timeout": drop the connection without an answer
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        payload = response.encode()
        self.send_response(response.status)
        if payload or response.status not in (204, 304):
            self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if payload and self.command != "HEAD":
            try:
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for a handler sleeping in a "timeout" fault
    allow_reuse_address = True
    emulator: EmulatorServer


class EmulatorServer:
    """A threaded HTTP server on 127.0.0.1 with routes, a bearer token and fault injection."""

    platform = "emulator"

    def __init__(self, *, token: str = "test-token", host: str = "127.0.0.1", port: int = 0) -> None:
        self.token = token
        self._host = host
        self._port = port
        self._routes: list[tuple[str, re.Pattern[str], Route]] = []
        self._faults: list[Fault] = []
        self._lock = threading.RLock()
        self.requests: list[Request] = []
        #: How many answers an item fault has spoiled (a test can tell "planted" from "not found").
        self.spoiled = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._throttled = 0
        self._throttle = Throttle()
        self._window_start = time.monotonic()
        self._window_used = 0
        self.register_routes()

    # -- to override -----------------------------------------------------------------
    def register_routes(self) -> None:
        """Add the platform's routes with :meth:`route`."""

    def authorized(self, request: Request) -> bool:
        """Return whether the request carries the emulator's token (``Bearer`` by default)."""
        return request.headers.get("authorization") == f"Bearer {self.token}"

    def unauthorized(self, request: Request) -> Response:
        """Return the platform's 401 response."""
        return Response(401, {"message": "Unauthorized"})

    def not_found(self, request: Request) -> Response:
        """Return the platform's 404 response."""
        return Response(404, {"message": "Not Found"})

    def wrong_shape(self, request: Request) -> Response:
        """Return valid JSON that is not what the documented endpoint returns."""
        return Response(200, {"unexpected": True, "items": "not-a-list"})

    def rate_limiting(self) -> RateLimit | None:
        """Return the platform's rate limit (``None``: the emulator has none); asked on every request."""
        return None

    # -- routes and faults --------------------------------------------------------------
    def route(self, method: str, pattern: str, handler: Route) -> None:
        """Serve ``method`` requests whose path fully matches the regex ``pattern``."""
        self._routes.append((method.upper(), re.compile(pattern), handler))

    def route_first(self, method: str, pattern: str, handler: Route) -> None:
        """Serve ``method`` requests matching ``pattern`` ahead of every route already declared.

        A test uses it to replace one answer of a running emulator (a wrong shape, a refusal).
        """
        with self._lock:
            self._routes.insert(0, (method.upper(), re.compile(pattern), handler))

    def inject(self, fault: Fault) -> None:
        """Add a fault; it applies to the next ``fault.times`` requests (all if ``None``)."""
        if fault.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {fault.kind!r}; known: {', '.join(FAULT_KINDS)}")
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        with self._lock:
            self._faults.clear()

    def _take_fault(self, request: Request) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self._faults):
                if fault.path and not re.search(fault.path, request.path):
                    continue
                if fault.methods is not None and request.method not in fault.methods:
                    continue
                if fault.times is not None:
                    remaining = fault.times - 1
                    if remaining <= 0:
                        del self._faults[i]
                    else:
                        self._faults[i] = attrs.evolve(fault, times=remaining)
                return fault
        return None

    def _fault_response(self, fault: Fault, request: Request) -> Response | None:
        kind = fault.kind
        if fault.delay and kind != "timeout":
            time.sleep(fault.delay)
        if kind == "timeout":
            time.sleep(fault.delay or 5.0)
            return None
        if kind == "reset":
            return None
        if kind == "status":
            status = fault.status or 500
            body = {"message": f"emulated error {status}"}
            return Response(status, body)
        if kind == "html502":
            return Response(502, raw=b"<html><body><h1>502 Bad Gateway</h1></body></html>",
                            content_type="text/html")
        if kind == "malformed_json":
            return Response(200, raw=b'{"truncated": [1, 2', content_type="application/json")
        if kind == "wrong_shape":
            return self.wrong_shape(request)
        if kind == "huge":
            return Response(200, raw=b'{"pad": "' + b"x" * (50 * 1024 * 1024) + b'"}')
        if kind in ITEM_FAULTS:  # only reached by a subclass calling this directly: no answer to spoil
            raise ValueError(f"{kind} spoils an answer: EmulatorServer.handle applies it")
        if kind == "rate_limit":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            return Response(fault.status or 429, {"message": "rate limit exceeded"}, headers=headers)
        raise AssertionError(kind)

    def throttle_next(self, requests: int = 1, *, retry_after: str | None = None, reset: int | None = None) -> None:
        """Answer the next ``requests`` requests with the rate limit's 429 (before auth, faults and routes).

        ``retry_after`` and ``reset`` reach :attr:`RateLimit.answer` and :attr:`RateLimit.headers`
        as a :class:`Throttle`; each platform uses what it sends.
        """
        if self.rate_limiting() is None:
            raise ValueError(f"the {self.platform} emulator has no rate limit (see EmulatorServer.rate_limiting)")
        with self._lock:
            self._throttled = requests
            self._throttle = Throttle(retry_after, reset)

    def handle(self, request: Request) -> Response | None:
        """Return the response for ``request`` (``None`` drops the connection).

        The rate limit's 429 while throttled, else :meth:`serve`; with the rate limit's headers.
        """
        limit = self.rate_limiting()
        if limit is None:
            return self.serve(request)
        with self._lock:
            throttled = self._throttled > 0
            if throttled:
                self._throttled -= 1
                self.requests.append(request)
            throttle = self._throttle
        response = limit.answer(throttle) if throttled else self.serve(request)
        if response is None or limit.headers is None:
            return response
        usage = self._count(limit, response.status, throttled)
        return attrs.evolve(response, headers={**limit.headers(usage), **response.headers})

    def _count(self, limit: RateLimit, status: int, throttled: bool) -> RateUsage:
        with self._lock:
            now = time.monotonic()
            if limit.window is not None and now - self._window_start >= limit.window:
                self._window_start, self._window_used = now, 0
            self._window_used += 1
            reset = None if limit.window is None else math.ceil(limit.window - (now - self._window_start))
            return RateUsage(limit.requests, self._window_used, reset, status, throttled, self._throttle)

    def serve(self, request: Request) -> Response | None:
        """Return the answer to a request the rate limit lets through: a fault's, else :meth:`answer`.

        Records the request.  Override it for a platform check that comes before faults and routes.
        """
        with self._lock:
            self.requests.append(request)
        fault = self._take_fault(request)
        if fault is not None and fault.kind in ITEM_FAULTS:
            return self.spoil(self.answer(request), fault)
        if fault is not None:
            return self._fault_response(fault, request)
        return self.answer(request)

    def spoil(self, response: Response, fault: Fault) -> Response:
        """Return ``response`` with one item spoiled by ``fault`` (unchanged when it holds no such item)."""
        spoiled = spoil_item(response, fault)
        if spoiled is None:
            return response
        with self._lock:
            self.spoiled += 1
        return spoiled

    def answer(self, request: Request) -> Response:
        """Return the platform's own answer to ``request`` (no fault): 401, a route's response or 404."""
        if not self.authorized(request):
            return self.unauthorized(request)
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if match and method == request.method:
                with self._lock:
                    return handler(request, match)
        return self.not_found(request)

    # -- lifecycle ----------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """Return ``http://127.0.0.1:PORT`` of the running server."""
        if self._server is None:
            raise RuntimeError("emulator is not running; call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}" if isinstance(host, str) else f"http://{host.decode()}:{port}"

    def start(self) -> EmulatorServer:
        """Start serving in a daemon thread and return ``self``."""
        if self._server is None:
            server = _Server((self._host, self._port), _Handler)
            server.emulator = self
            self._server = server
            # A short poll interval makes stop() quick (shutdown waits for the next poll).
            self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                            name=f"{self.platform}-emulator", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def run_until_interrupted(self, banner: str) -> int:
        """Start, print ``banner`` (``{url}`` is replaced by the base URL), serve until Ctrl-C; return 0."""
        self.start()
        print(banner.replace("{url}", self.base_url), flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()
        return 0

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def requests_matching(self, method: str, pattern: str) -> list[Request]:
        """Return the recorded requests with ``method`` whose path matches ``pattern``."""
        rx = re.compile(pattern)
        return [r for r in self.requests if r.method == method and rx.fullmatch(r.path)]


def paginate(items: list[Any], offset: int, limit: int) -> tuple[list[Any], int | None]:
    """Return one page of ``items`` and the next offset (``None`` at the end)."""
    page = items[offset:offset + limit]
    nxt = offset + limit
    return page, (nxt if nxt < len(items) else None)


def iter_routes(emulator: EmulatorServer) -> Iterable[tuple[str, str]]:
    """Return ``(method, pattern)`` for each route (for docs and tests)."""
    for method, pattern, _ in emulator._routes:
        yield method, pattern.pattern
