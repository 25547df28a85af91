"""genesis_core.testing.proxy and .servers: forwarding unchanged, faults instead, child-process servers."""

from __future__ import annotations

import socket
import sys
import urllib.request
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from genesis_core.testing import (
    Fault,
    FaultProxy,
    Request,
    Response,
    ServerProcess,
    ServerStartError,
    free_port,
    missing_server,
)
from genesis_core.testing.emulator import EmulatorServer


class Echo(EmulatorServer):
    """Answers every request with what it received."""

    def handle(self, request: Request) -> Response | None:
        with self._lock:
            self.requests.append(request)
        return Response(201 if request.method == "POST" else 200,
                        {"method": request.method, "path": request.path, "query": request.query,
                         "body": request.body.decode(), "host": request.headers.get("host"),
                         "signature": request.headers.get("x-signature")},
                        headers={"X-Upstream": "echo"})


@pytest.fixture
def upstream() -> Iterator[Echo]:
    server = Echo(token="")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def proxy(upstream: Echo) -> Iterator[FaultProxy]:
    server = FaultProxy(upstream.base_url)
    server.start()
    yield server
    server.stop()


def test_requests_are_forwarded_unchanged_and_answers_relayed(upstream: Echo, proxy: FaultProxy) -> None:
    answer = httpx.post(f"{proxy.base_url}/v1/a%2Fb/data", params={"x": "1", "y": ["2", "3"]},
                        content=b'{"k": "v"}', headers={"X-Signature": "sig", "Content-Type": "application/json"})
    assert answer.status_code == 201
    assert answer.headers["x-upstream"] == "echo"
    assert answer.json() == {"method": "POST", "path": "/v1/a%2Fb/data", "query": {"x": ["1"], "y": ["2", "3"]},
                             "body": '{"k": "v"}', "host": proxy.base_url.removeprefix("http://"),
                             "signature": "sig"}
    assert [r.path for r in proxy.requests] == [r.path for r in upstream.requests] == ["/v1/a%2Fb/data"]


def test_a_fault_is_answered_by_the_proxy_without_forwarding(upstream: Echo, proxy: FaultProxy) -> None:
    proxy.inject(Fault("status", status=503, times=1))
    assert httpx.get(f"{proxy.base_url}/x").status_code == 503
    assert upstream.requests == []
    assert httpx.get(f"{proxy.base_url}/x").status_code == 200
    assert len(upstream.requests) == 1 and len(proxy.requests) == 2
    proxy.inject(Fault("reset"))
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{proxy.base_url}/x")


def test_an_unreachable_upstream_is_a_502() -> None:
    server = FaultProxy(f"http://127.0.0.1:{free_port()}")
    server.start()
    try:
        answer = httpx.get(f"{server.base_url}/x")
    finally:
        server.stop()
    assert answer.status_code == 502 and "unreachable" in answer.json()["message"]


def test_the_upstream_must_be_plain_http_with_a_port() -> None:
    with pytest.raises(ValueError):
        FaultProxy("https://example.com")


def test_free_port_pair_leaves_the_next_port_free() -> None:
    port = free_port(pair=True)
    for candidate in (port, port + 1):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", candidate))


def test_a_server_process_starts_serves_and_stops(tmp_path: Any) -> None:
    port = free_port()

    def ready() -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as answer:
            return bool(answer.status == 200)

    server = ServerProcess("http.server", [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
                           ready=ready, cwd=tmp_path)
    server.start(timeout=30)
    assert server.running and ready()
    server.close()
    assert not server.running and not server.log_path.exists()
    with pytest.raises(OSError):
        ready()


def test_a_server_that_exits_reports_its_log() -> None:
    server = ServerProcess("failing", [sys.executable, "-c", "import sys; print('cannot bind'); sys.exit(3)"],
                           ready=lambda: False)
    with pytest.raises(ServerStartError) as caught:
        server.start(timeout=30)
    assert "failing exited with status 3: cannot bind" in str(caught.value)
    server.close()


def test_a_missing_server_fails_in_ci_and_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception) as failed:
        missing_server("moto_server not found: pip install 'moto[server]'")
    assert "moto_server not found" in str(failed.value) and "CI must have it" in str(failed.value)
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception) as skipped:
        missing_server("moto_server not found")
    assert "moto_server not found" in str(skipped.value)
