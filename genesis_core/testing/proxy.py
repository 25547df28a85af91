"""A fault-injecting HTTP proxy on 127.0.0.1 in front of a real server.

Adapters of platforms whose real server software runs in the tests (moto for AWS,
OpenBao for Vault) point at a :class:`FaultProxy` instead of the server itself.
Without a fault it forwards every request unchanged (method, path, query, headers
including ``Host``, so a SigV4 signature still matches, and body) and relays the
answer; with a fault injected it answers exactly as an
:class:`~genesis_core.testing.emulator.EmulatorServer` would (an item fault spoils the
upstream answer), so the contract
kit's fault table applies to a real server too.  It records every request in
``requests``, like an emulator.
"""

from __future__ import annotations

import http.client
from typing import Any
from urllib.parse import urlencode, urlsplit

from .emulator import ITEM_FAULTS, EmulatorServer, Request, Response

__all__ = ["FaultProxy"]

#: Headers that describe one connection, never forwarded (RFC 9110 section 7.6.1).
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
                         "trailer", "transfer-encoding", "upgrade"})
#: Answer headers the proxy's own server writes itself.
_REWRITTEN = frozenset({"content-length", "content-type", "date", "server"})


class FaultProxy(EmulatorServer):
    """Forward requests to ``upstream`` (``http://host:port``) unless an injected fault applies."""

    platform = "proxy"

    def __init__(self, upstream: str, *, host: str = "127.0.0.1", port: int = 0,
                 upstream_timeout: float = 60.0) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise ValueError(f"FaultProxy forwards to http://HOST:PORT, got {upstream!r}")
        self.upstream = upstream
        self._upstream_host = parts.hostname
        self._upstream_port = parts.port
        self.upstream_timeout = upstream_timeout
        super().__init__(token="", host=host, port=port)

    def handle(self, request: Request) -> Response | None:
        """Record ``request``; answer with a pending fault, else with the upstream server's answer."""
        with self._lock:
            self.requests.append(request)
        fault = self._take_fault(request)
        if fault is not None and fault.kind in ITEM_FAULTS:
            return self.spoil(self.forward(request), fault)
        if fault is not None:
            return self._fault_response(fault, request)
        return self.forward(request)

    def forward(self, request: Request) -> Response:
        """Send ``request`` to the upstream server unchanged and return its answer."""
        target = request.path
        if request.query:
            target += "?" + urlencode(request.query, doseq=True)
        headers = {name: value for name, value in request.headers.items() if name not in _HOP_BY_HOP}
        connection = http.client.HTTPConnection(self._upstream_host, self._upstream_port,
                                                timeout=self.upstream_timeout)
        try:
            connection.request(request.method, target, body=request.body or None, headers=headers)
            answer = connection.getresponse()
            body = answer.read()
            relayed: dict[str, Any] = {name: value for name, value in answer.getheaders()
                                       if name.lower() not in _HOP_BY_HOP | _REWRITTEN}
            content_type = answer.getheader("Content-Type") or "application/octet-stream"
            return Response(answer.status, raw=body, headers=relayed, content_type=content_type)
        except OSError as exc:
            return Response(502, {"message": f"proxy: upstream {self.upstream} unreachable ({type(exc).__name__})"})
        finally:
            connection.close()
