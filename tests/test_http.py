"""genesis_core.http and the emulator's fault kinds, against real servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import email.utils
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from genesis_core.errors import PlatformError
from genesis_core.http import (
    USER_AGENT,
    Endpoint,
    RetryPolicy,
    default_client,
    parse_json,
    rate_limit_wait,
    request,
    shape_error,
    status_error,
)
from genesis_core.testing.emulator import (
    FAULT_KINDS,
    EmulatorServer,
    Fault,
    RateLimit,
    RateUsage,
    Request,
    Response,
    Throttle,
    iter_routes,
    paginate,
)

TOKEN = "tok-9f8e7d6c5b4a"
ENDPOINT = Endpoint("render-prod", "RENDER_API_KEY", "render service srv-1")


class ItemsEmulator(EmulatorServer):
    """A small API: ``GET /items``, ``POST /items`` (201), ``GET /limited`` (GitHub-style 403 limit)."""

    platform = "items"

    def __init__(self, **kwargs: Any) -> None:
        self.items: list[str] = ["a", "b"]
        self.limited_left = 0
        super().__init__(**kwargs)

    def register_routes(self) -> None:
        self.route("GET", "/items", lambda req, m: Response(200, {"items": self.items}))
        self.route("POST", "/items", self._add)
        self.route("GET", "/limited", self._limited)
        self.route("GET", "/redirect", lambda req, m: Response(302, headers={"Location": "/items"}))
        self.route("GET", "/empty", lambda req, m: Response(204))

    def _add(self, req: Request, match: Any) -> Response:
        self.items.append(req.json()["name"])
        return Response(201, {"ok": True})

    def _limited(self, req: Request, match: Any) -> Response:
        if self.limited_left > 0:
            self.limited_left -= 1
            return Response(403, {"message": "API rate limit exceeded"},
                            headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "3"})
        return Response(200, {"items": []})


@pytest.fixture
def emulator() -> Iterator[ItemsEmulator]:
    with ItemsEmulator(token=TOKEN) as server:
        yield server


class Sleeps:
    """A ``sleep`` that records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def call(url: str, *, method: str = "GET", token: str = TOKEN, attempts: int = 3, sleep: Sleeps | None = None,
         timeout: float | None = None, max_bytes: int | None = None, **kwargs: Any) -> tuple[httpx.Response, bytes]:
    """Return ``request(...)`` run on a fresh default client."""
    policy = RetryPolicy(attempts=attempts, **({"max_bytes": max_bytes} if max_bytes else {}))

    async def main() -> tuple[httpx.Response, bytes]:
        async with default_client() as client:
            return await request(client, ENDPOINT, method, url, headers={"Authorization": f"Bearer {token}"},
                                 retry=policy, sleep=sleep or Sleeps(),
                                 timeout=httpx.Timeout(timeout) if timeout else None, **kwargs)

    return asyncio.run(main())


def call_error(url: str, **kwargs: Any) -> PlatformError:
    with pytest.raises(PlatformError) as info:
        call(url, **kwargs)
    assert TOKEN not in str(info.value)
    return info.value


# -- request(): success, retries, rate limits ----------------------------------------------

def test_ok_response_returns_the_body(emulator: ItemsEmulator) -> None:
    response, body = call(f"{emulator.base_url}/items")
    assert response.status_code == 200
    assert parse_json(ENDPOINT, body) == {"items": ["a", "b"]}
    assert emulator.requests[0].headers["user-agent"] == USER_AGENT


def test_json_body_and_accepted_statuses(emulator: ItemsEmulator) -> None:
    response, _ = call(f"{emulator.base_url}/items", method="POST", json_body={"name": "c"}, ok=(200, 201))
    assert response.status_code == 201
    assert emulator.items == ["a", "b", "c"]
    assert emulator.requests[-1].json() == {"name": "c"}


def test_a_status_outside_ok_is_an_error_even_if_2xx(emulator: ItemsEmulator) -> None:
    err = call_error(f"{emulator.base_url}/items", method="POST", json_body={"name": "c"})
    assert (err.status, str(err)) == (201, "render-prod: unexpected HTTP 201")


def test_one_server_error_is_retried_after_a_backoff(emulator: ItemsEmulator) -> None:
    emulator.inject(Fault("status", status=503, times=1))
    sleeps = Sleeps()
    response, _ = call(f"{emulator.base_url}/items", sleep=sleeps)
    assert response.status_code == 200
    assert len(emulator.requests) == 2
    assert len(sleeps.delays) == 1 and 0.25 <= sleeps.delays[0] <= 0.5


def test_server_errors_stop_after_the_attempts(emulator: ItemsEmulator) -> None:
    emulator.inject(Fault("status", status=500))
    sleeps = Sleeps()
    err = call_error(f"{emulator.base_url}/items", attempts=3, sleep=sleeps)
    assert len(emulator.requests) == 3
    assert len(sleeps.delays) == 2
    assert (err.platform, err.status, err.retryable) == ("render-prod", 500, True)
    assert str(err) == "render-prod: server error (HTTP 500) (emulated error 500) after retries"


@pytest.mark.parametrize(("status", "message"), [
    (401, "render-prod: authentication failed (HTTP 401) (emulated error 401): "
          "check that RENDER_API_KEY holds a valid token"),
    (403, "render-prod: permission denied (HTTP 403) (emulated error 403): "
          "check that the token in RENDER_API_KEY may access render service srv-1"),
    (404, "render-prod: not found (HTTP 404) (emulated error 404): "
          "check render service srv-1 and that the token can see it"),
    (400, "render-prod: unexpected HTTP 400 (emulated error 400)"),
])
def test_client_errors_are_not_retried_and_say_what_to_check(emulator: ItemsEmulator, status: int,
                                                              message: str) -> None:
    emulator.inject(Fault("status", status=status))
    err = call_error(f"{emulator.base_url}/items")
    assert len(emulator.requests) == 1
    assert (str(err), err.status, err.retryable) == (message, status, False)


def test_a_wrong_token_is_a_401_naming_the_credential(emulator: ItemsEmulator) -> None:
    err = call_error(f"{emulator.base_url}/items", token="not-the-token")
    assert err.status == 401
    assert "RENDER_API_KEY" in str(err)
    assert "not-the-token" not in str(err)


def test_rate_limit_waits_for_retry_after(emulator: ItemsEmulator) -> None:
    emulator.inject(Fault("rate_limit", retry_after="7", times=2))
    sleeps = Sleeps()
    response, _ = call(f"{emulator.base_url}/items", sleep=sleeps)
    assert response.status_code == 200
    assert sleeps.delays == [7.0, 7.0]


def test_rate_limit_without_retry_after_waits_one_second(emulator: ItemsEmulator) -> None:
    emulator.inject(Fault("rate_limit", times=1))
    sleeps = Sleeps()
    call(f"{emulator.base_url}/items", sleep=sleeps)
    assert sleeps.delays == [1.0]


def test_rate_limit_longer_than_the_maximum_wait_fails_at_once(emulator: ItemsEmulator) -> None:
    emulator.inject(Fault("rate_limit", retry_after="3600"))
    sleeps = Sleeps()
    err = call_error(f"{emulator.base_url}/items", sleep=sleeps)
    assert sleeps.delays == []
    assert str(err) == ("render-prod: rate limited (HTTP 429): the limit resets in 3600s, "
                        "longer than the 60s Genesis waits")


def test_rate_limit_that_persists_is_an_error(emulator: ItemsEmulator) -> None:
    emulator.inject(Fault("rate_limit", retry_after="0"))
    err = call_error(f"{emulator.base_url}/items", attempts=2)
    assert (err.status, err.retryable) == (429, True)
    assert str(err).startswith("render-prod: rate limited (HTTP 429)")


def test_github_style_403_rate_limit_waits_for_the_reset(emulator: ItemsEmulator) -> None:
    emulator.limited_left = 1
    sleeps = Sleeps()
    response, _ = call(f"{emulator.base_url}/limited", sleep=sleeps)
    assert response.status_code == 200
    assert sleeps.delays == [3.0]


# -- request(): network faults and bodies -------------------------------------------------

def test_timeout_is_a_retryable_platform_error(emulator: ItemsEmulator) -> None:
    emulator.inject(Fault("timeout", delay=1.0))
    err = call_error(f"{emulator.base_url}/items", attempts=1, timeout=0.2)
    assert str(err) == "render-prod: timed out talking to 127.0.0.1"
    assert err.retryable is True


def test_timeout_once_then_ok_is_retried(emulator: ItemsEmulator) -> None:
    emulator.inject(Fault("timeout", delay=1.0, times=1))
    response, _ = call(f"{emulator.base_url}/items", attempts=2, timeout=0.2)
    assert response.status_code == 200


def test_reset_connection_is_a_network_error(emulator: ItemsEmulator) -> None:
    emulator.inject(Fault("reset"))
    err = call_error(f"{emulator.base_url}/items", attempts=2)
    assert str(err).startswith("render-prod: network error talking to 127.0.0.1 (")
    assert len(emulator.requests) == 2


def test_connection_refused_is_an_error_naming_host_and_port() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    err = call_error(f"http://127.0.0.1:{port}/items", attempts=1)
    assert str(err) == (f"render-prod: could not connect to 127.0.0.1:{port} "
                        "(connection refused or unreachable)")


def test_html_502_is_retried_then_reported_without_the_page(emulator: ItemsEmulator) -> None:
    emulator.inject(Fault("html502"))
    err = call_error(f"{emulator.base_url}/items", attempts=2)
    assert str(err) == "render-prod: server error (HTTP 502) after retries"
    assert len(emulator.requests) == 2


def test_malformed_json_is_a_parse_error(emulator: ItemsEmulator) -> None:
    emulator.inject(Fault("malformed_json"))
    _, body = call(f"{emulator.base_url}/items")
    with pytest.raises(PlatformError, match=r"^render-prod: malformed JSON in the response$"):
        parse_json(ENDPOINT, body)


def test_invalid_utf8_is_a_parse_error() -> None:
    with pytest.raises(PlatformError, match="malformed JSON"):
        parse_json(ENDPOINT, b'{"a": "\xff\xfe"}')


def test_wrong_shape_fault_uses_the_emulators_wrong_shape(emulator: ItemsEmulator) -> None:
    emulator.inject(Fault("wrong_shape"))
    _, body = call(f"{emulator.base_url}/items")
    assert parse_json(ENDPOINT, body) == {"unexpected": True, "items": "not-a-list"}
    assert str(shape_error(ENDPOINT, "no items")) == "render-prod: unexpected response shape: no items"


def test_huge_body_is_refused(emulator: ItemsEmulator) -> None:
    emulator.inject(Fault("huge"))
    err = call_error(f"{emulator.base_url}/items")
    assert str(err).startswith("render-prod: response too large (")


def test_body_over_the_limit_without_content_length_is_refused() -> None:
    class Chunkless(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # the body ends when the connection closes

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"pad": "' + b"x" * 5000 + b'"}')

        def log_message(self, *args: Any) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Chunkless)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        _, body = call(url)
        assert len(body) == 5011
        err = call_error(url, max_bytes=1000)
        assert str(err) == "render-prod: response too large (over 1000 bytes)"
    finally:
        server.shutdown()
        server.server_close()


def test_large_error_body_still_reports_the_status(emulator: ItemsEmulator) -> None:
    big = Response(500, raw=b"<html>" + b"x" * 200_000 + b"</html>", content_type="text/html")
    emulator.route("GET", "/big-error", lambda req, m: big)
    err = call_error(f"{emulator.base_url}/big-error", attempts=2)
    assert str(err) == "render-prod: server error (HTTP 500) after retries"
    assert len(emulator.requests_matching("GET", "/big-error")) == 2


def test_redirects_are_not_followed(emulator: ItemsEmulator) -> None:
    err = call_error(f"{emulator.base_url}/redirect")
    assert err.status == 302


def test_empty_204_body(emulator: ItemsEmulator) -> None:
    response, body = call(f"{emulator.base_url}/empty", ok=(204,))
    assert (response.status_code, body) == (204, b"")


def test_unknown_route_and_method_get_the_emulators_404(emulator: ItemsEmulator) -> None:
    err = call_error(f"{emulator.base_url}/nothing-here")
    assert "(Not Found)" in str(err)
    assert call_error(f"{emulator.base_url}/items", method="DELETE").status == 404


# -- status_error and rate_limit_wait without a server ------------------------------------

def _response(status: int, headers: dict[str, str] | None = None, content: bytes = b"") -> httpx.Response:
    return httpx.Response(status, headers=headers or {}, content=content)


def test_status_error_uses_the_platforms_message_shortened() -> None:
    long_message = "word " * 100
    response = _response(422, {"content-type": "application/json"}, b'{"error": {"message": "bad\\n value"}}')
    assert str(status_error(ENDPOINT, response)) == "render-prod: unexpected HTTP 422 (bad value)"
    body = f'{{"message": "{long_message}"}}'.encode()
    response = _response(422, {"content-type": "application/json"}, body)
    assert len(status_error(ENDPOINT, response).reason) < 200


def test_status_error_ignores_non_json_bodies() -> None:
    response = _response(500, {"content-type": "text/plain"}, b"secret stack trace")
    assert str(status_error(ENDPOINT, response)) == "render-prod: server error (HTTP 500) after retries"


def test_status_error_without_a_credential_name() -> None:
    err = status_error(Endpoint("local"), _response(401))
    assert str(err) == "local: authentication failed (HTTP 401): check that the API token holds a valid token"


@pytest.mark.parametrize(("status", "headers", "expected"), [
    (200, {"retry-after": "5"}, None),
    (429, {}, 1.0),
    (429, {"retry-after": "0"}, 0.0),
    (429, {"retry-after": " 12 "}, 12.0),
    (429, {"retry-after": "soon"}, 1.0),
    (429, {"ratelimit-reset": "9"}, 9.0),
    (429, {"x-ratelimit-reset": "30"}, 30.0),
    (403, {}, None),
    (403, {"x-ratelimit-remaining": "5", "x-ratelimit-reset": "30"}, None),
    (403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "30"}, 30.0),
    (403, {"ratelimit-remaining": "0", "ratelimit-reset": "4"}, 4.0),
    (403, {"x-ratelimit-remaining": "0"}, None),
])
def test_rate_limit_wait(status: int, headers: dict[str, str], expected: float | None) -> None:
    assert rate_limit_wait(_response(status, headers), now=1_700_000_000.0) == expected


def test_rate_limit_wait_epoch_reset_and_http_date() -> None:
    now = 1_700_000_000.0
    assert rate_limit_wait(_response(403, {"x-ratelimit-remaining": "0",
                                           "x-ratelimit-reset": str(int(now) + 42)}), now=now) == 42.0
    assert rate_limit_wait(_response(429, {"x-ratelimit-reset": str(int(now) - 5)}), now=now) == 0.0
    date = email.utils.formatdate(now + 90, usegmt=True)
    assert rate_limit_wait(_response(429, {"retry-after": date}), now=now) == 90.0
    past = email.utils.formatdate(now - 90, usegmt=True)
    assert rate_limit_wait(_response(429, {"retry-after": past}), now=now) == 0.0


@given(st.integers(min_value=0, max_value=10**6))
def test_retry_after_seconds_are_taken_as_given(seconds: int) -> None:
    assert rate_limit_wait(_response(429, {"retry-after": str(seconds)})) == float(seconds)


@given(st.integers(min_value=1, max_value=40), st.floats(min_value=0.01, max_value=5),
       st.floats(min_value=0.01, max_value=60))
def test_backoff_is_bounded_with_jitter(attempt: int, base: float, cap: float) -> None:
    policy = RetryPolicy(backoff_base=base, backoff_max=cap)
    full = min(cap, base * 2 ** (attempt - 1))
    assert full / 2 <= policy.backoff(attempt) <= full


def test_default_client_settings() -> None:
    async def main() -> httpx.AsyncClient:
        async with default_client(timeout=3.0) as client:
            return client

    client = asyncio.run(main())
    assert client.headers["user-agent"] == USER_AGENT
    assert client.follow_redirects is False
    assert client.timeout == httpx.Timeout(3.0, connect=3.0)


# -- the emulator --------------------------------------------------------------------------

def test_faults_apply_the_given_number_of_times(emulator: ItemsEmulator) -> None:
    emulator.inject(Fault("status", status=404, times=2))
    for _ in range(2):
        assert call_error(f"{emulator.base_url}/items").status == 404
    assert call(f"{emulator.base_url}/items")[0].status_code == 200


def test_faults_can_target_a_path(emulator: ItemsEmulator) -> None:
    emulator.inject(Fault("status", status=404, path=r"^/limited$"))
    assert call(f"{emulator.base_url}/items")[0].status_code == 200
    assert call_error(f"{emulator.base_url}/limited").status == 404


def test_clear_faults(emulator: ItemsEmulator) -> None:
    emulator.inject(Fault("status", status=500))
    emulator.clear_faults()
    assert call(f"{emulator.base_url}/items")[0].status_code == 200


def test_faults_come_before_auth(emulator: ItemsEmulator) -> None:
    emulator.inject(Fault("status", status=503, times=1))
    err = call_error(f"{emulator.base_url}/items", token="wrong", attempts=2)
    assert err.status == 401
    assert [r.path for r in emulator.requests] == ["/items", "/items"]


def test_unknown_fault_kind_is_refused(emulator: ItemsEmulator) -> None:
    with pytest.raises(ValueError, match="unknown fault kind 'explode'; known: timeout, reset"):
        emulator.inject(Fault("explode"))
    assert set(FAULT_KINDS) == {"timeout", "reset", "status", "html502", "malformed_json", "wrong_shape",
                                "huge", "rate_limit", "item_without_name", "non_string_value"}


def test_requests_are_recorded_with_query_and_matching(emulator: ItemsEmulator) -> None:
    call(f"{emulator.base_url}/items", params={"limit": 5, "cursor": ""})
    recorded = emulator.requests_matching("GET", "/it.*")
    assert len(recorded) == 1
    assert recorded[0].param("limit") == "5"
    assert recorded[0].param("cursor") == ""
    assert recorded[0].param("missing", "d") == "d"
    assert emulator.requests_matching("POST", "/items") == []
    assert ("GET", "/items") in list(iter_routes(emulator))


def test_base_url_needs_a_running_server() -> None:
    server = ItemsEmulator()
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.base_url
    server.start()
    first = server.base_url
    assert server.start().base_url == first  # idempotent
    server.stop()
    server.stop()


def test_paginate() -> None:
    items = list(range(7))
    assert paginate(items, 0, 3) == ([0, 1, 2], 3)
    assert paginate(items, 3, 3) == ([3, 4, 5], 6)
    assert paginate(items, 6, 3) == ([6], None)
    assert paginate(items, 0, 7) == (items, None)
    assert paginate([], 0, 3) == ([], None)


def test_error_detail_never_echoes_a_sent_value_or_a_credential() -> None:
    from genesis_core.http import scrub_detail

    sent = {"key": "DATABASE_URL", "value": "postgres://app:hunter2-secret@db/app"}
    detail = "value 'postgres://app:hunter2-secret@db/app' is invalid for DATABASE_URL"
    scrubbed = scrub_detail(detail, sent)
    assert "hunter2" not in scrubbed and "<hidden>" in scrubbed
    assert scrub_detail("token ghp_abcdefghijklmnopqrstuvwxyz0123456789 revoked") == "token <hidden> revoked"
    assert scrub_detail("Not Found") == "Not Found"


def test_httpx_log_lines_never_show_a_url_path(caplog) -> None:
    import logging

    from genesis_core.http import install_log_redaction, redact_url

    install_log_redaction()
    assert redact_url("https://hooks.slack.com/services/T0/B0/SECRETPART?x=1") == "https://hooks.slack.com/…"
    with caplog.at_level(logging.INFO, logger="httpx"):
        logging.getLogger("httpx").info('HTTP Request: %s %s "%s %d %s"', "POST",
                                        "https://hooks.example/services/SECRETPART", "HTTP/1.1", 200, "OK")
    assert "SECRETPART" not in caplog.text and "https://hooks.example/…" in caplog.text


def test_partial_and_case_changed_echoes_of_a_sent_value_are_hidden_before_the_cut() -> None:
    from genesis_core.http import DETAIL_LIMIT, scrub_detail

    value = "correct horse battery staple is my long passphrase for the production database"
    detail = "value rejected: got: " + " ".join(value.split()[:3]).upper() + " " + "x" * 300
    scrubbed = scrub_detail(detail, {"value": value})
    assert "CORRECT" not in scrubbed and "HORSE" not in scrubbed and "BATTERY" not in scrubbed
    assert scrub_detail("rejected Zq9-hunter", {"value": "Zq9-hunter2-correct"}) == "rejected <hidden>"
    assert scrub_detail("bad token Sh0rtTok3n99", None, ("Bearer Sh0rtTok3n99", "Sh0rtTok3n99")) == "bad token <hidden>"
    assert DETAIL_LIMIT == 160


def test_an_errors_list_gives_the_detail_and_a_vault_token_is_scrubbed() -> None:
    import httpx

    from genesis_core.http import Endpoint, _header_secrets, status_error

    def answer(status: int, body: object) -> httpx.Response:
        return httpx.Response(status, json=body, request=httpx.Request("GET", "https://vault.example/v1/x"))

    endpoint = Endpoint("vault", "VAULT_TOKEN", "vault secret secret/app")
    sealed = status_error(endpoint, answer(503, {"errors": ["Vault is sealed"]}))
    assert str(sealed) == "vault: server error (HTTP 503) (Vault is sealed) after retries"
    jsonapi = status_error(endpoint, answer(422, {"errors": [{"status": "422", "detail": "name is taken"}]}))
    assert "(name is taken)" in str(jsonapi)
    assert status_error(endpoint, answer(404, {"errors": []})).reason.startswith("not found (HTTP 404):")
    assert _header_secrets({"X-Vault-Token": "hvs.secret"}) == ("hvs.secret",)
    echoed = status_error(endpoint, answer(400, {"errors": ["bad token hvs.abcdefgh"]}),
                          secrets=_header_secrets({"X-Vault-Token": "hvs.abcdefgh"}))
    assert "hvs.abcdefgh" not in str(echoed)


# -- answers nested too deeply for the JSON parser (issue 19, item 6) -------------------------------

def test_a_deeply_nested_answer_is_a_platform_error_not_a_crash(emulator: ItemsEmulator) -> None:
    nested = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(PlatformError, match="malformed JSON"):
        parse_json(ENDPOINT, nested)
    emulator.route("GET", "/deep", lambda req, m: Response(400, raw=nested[:4096] + nested[-4096:]))
    err = call_error(f"{emulator.base_url}/deep")
    assert (err.status, str(err)) == (400, "render-prod: unexpected HTTP 400")


def test_route_first_serves_ahead_of_the_routes_already_declared(emulator: ItemsEmulator) -> None:
    emulator.route_first("GET", "/items", lambda req, m: Response(200, {"items": ["replaced"]}))
    assert json.loads(call(f"{emulator.base_url}/items")[1]) == {"items": ["replaced"]}
    assert list(iter_routes(emulator))[0] == ("GET", "/items")
    added, _ = call(f"{emulator.base_url}/items", method="POST", json_body={"name": "c"}, ok=(200, 201))
    assert added.status_code == 201  # the other routes still answer


class LimitedEmulator(ItemsEmulator):
    """ItemsEmulator with a platform rate limit: 3 requests a minute, a 429 of its own."""

    def rate_limiting(self) -> RateLimit | None:
        def answer(throttle: Throttle) -> Response:
            headers = {"Retry-After": throttle.retry_after} if throttle.retry_after is not None else {}
            return Response(429, {"error": "slow down"}, headers=headers)

        def headers(usage: RateUsage) -> dict[str, str]:
            left = 0 if usage.throttled else (usage.requests or 0) - usage.used
            return {"X-Left": str(left), "X-Reset": str(usage.reset), "X-Asked-Reset": str(usage.throttle.reset)}

        return RateLimit(answer, headers, requests=3, window=60)


def test_a_platform_rate_limit_answers_its_own_429_while_throttled() -> None:
    with LimitedEmulator(token=TOKEN) as emulator:
        url = f"{emulator.base_url}/items"
        first = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"})
        assert (first.status_code, first.headers["X-Left"], first.headers["X-Reset"]) == (200, "2", "60")
        emulator.throttle_next(2, retry_after="7", reset=9)
        for _ in range(2):
            limited = httpx.get(url)  # before auth, as the platforms do
            assert (limited.status_code, limited.json()) == (429, {"error": "slow down"})
            assert (limited.headers["Retry-After"], limited.headers["X-Left"]) == ("7", "0")
            assert limited.headers["X-Asked-Reset"] == "9"
        after = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"})
        assert (after.status_code, after.headers["X-Left"]) == (200, "-1")  # four answers counted
        assert len(emulator.requests) == 4


def test_throttle_next_needs_a_rate_limit(emulator: ItemsEmulator) -> None:
    with pytest.raises(ValueError, match="the items emulator has no rate limit"):
        emulator.throttle_next(1)
