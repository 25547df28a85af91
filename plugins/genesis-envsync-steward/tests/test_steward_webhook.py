"""Webhook delivery against a real HTTP server on 127.0.0.1: signature, retries, giving up."""

from __future__ import annotations

import asyncio
import socket

from _steward_support import SIGNING_KEY, Receiver

from genesis_steward.settings import WebhookSettings
from genesis_steward.webhook import deliver, encode_body, sign, verify

ENV = {"HOOK_KEY": SIGNING_KEY}
BODY = encode_body({"status": "drift", "seq": 7})


def settings(url: str, **kwargs) -> WebhookSettings:
    options = {"secret_env": "HOOK_KEY", "attempts": 3, "timeout": 2.0, "backoff": 0.0}
    options.update(kwargs)
    return WebhookSettings(url=url, **options)


def run(hook: WebhookSettings, env=ENV, event_id: str | None = "evt-1"):
    return asyncio.run(deliver(hook, BODY, event_id=event_id, environ=env))


def test_sign_and_verify() -> None:
    message = b"The quick brown fox jumps over the lazy dog"  # the well-known HMAC-SHA256 example
    header = sign(message, b"key")
    assert header == "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    assert verify(message, b"key", header)
    assert not verify(message + b" ", b"key", header) and not verify(message, b"other", header)
    assert not verify(message, b"key", None)


def test_delivers_a_signed_body() -> None:
    with Receiver() as receiver:
        delivery = run(settings(receiver.url))
    assert (delivery.ok, delivery.attempts, delivery.status) == (True, 1, 200)
    [request] = receiver.requests
    assert request["signed"] and request["body"] == BODY
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["X-Genesis-Delivery"] == "evt-1"
    assert request["path"] == "/hooks/T0KEN-IN-PATH"


def test_retries_after_a_500() -> None:
    with Receiver([500, 503]) as receiver:
        delivery = run(settings(receiver.url))
    assert (delivery.ok, delivery.attempts) == (True, 3)
    assert len(receiver.requests) == 3 and all(r["signed"] for r in receiver.requests)
    assert len({r["body"] for r in receiver.requests}) == 1


def test_gives_up_after_the_attempt_budget() -> None:
    with Receiver([500] * 10) as receiver:
        delivery = run(settings(receiver.url, attempts=4))
    assert not delivery.ok
    assert len(receiver.requests) == 4
    assert delivery.error == "HTTP 500 after 4 attempt(s)"
    assert "T0KEN" not in delivery.error and "T0KEN" not in delivery.target


def test_client_errors_are_not_retried() -> None:
    with Receiver([404, 200]) as receiver:
        delivery = run(settings(receiver.url))
    assert (delivery.ok, delivery.attempts, delivery.status) == (False, 1, 404)
    assert len(receiver.requests) == 1


def test_rate_limit_is_retried() -> None:
    with Receiver([429]) as receiver:
        delivery = run(settings(receiver.url))
    assert delivery.ok and len(receiver.requests) == 2


def test_network_errors_are_retried_then_reported() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket is closed
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    hook = settings(f"http://127.0.0.1:{port}/x", attempts=3, backoff=0.5)
    delivery = asyncio.run(deliver(hook, BODY, environ=ENV, sleep=fake_sleep))
    assert not delivery.ok and delivery.attempts == 3
    assert delivery.error == "network error (ConnectError) after 3 attempt(s)"
    assert slept == [0.5, 1.0]  # exponential backoff between attempts, none after the last


def test_missing_signing_key_sends_nothing() -> None:
    with Receiver() as receiver:
        delivery = run(settings(receiver.url), env={})
    assert not delivery.ok and delivery.attempts == 0
    assert "$HOOK_KEY" in delivery.error and receiver.requests == []


def test_url_from_the_environment() -> None:
    with Receiver() as receiver:
        hook = WebhookSettings(url_env="HOOK_URL", secret_env="HOOK_KEY", backoff=0.0)
        delivery = run(hook, env={**ENV, "HOOK_URL": receiver.url})
        missing = run(hook, env=ENV)
    assert delivery.ok and len(receiver.requests) == 1
    assert not missing.ok and missing.error == "$HOOK_URL is not set"


def test_unsigned_when_no_key_is_configured() -> None:
    with Receiver() as receiver:
        delivery = run(settings(receiver.url, secret_env=None))
    assert delivery.ok
    assert "X-Genesis-Signature" not in receiver.requests[0]["headers"]
