"""POST a report to a webhook with an HMAC-SHA256 signature, retrying with bounded backoff.

The body is compact JSON; ``X-Genesis-Signature: sha256=<hex>`` is the
HMAC-SHA256 of exactly those bytes, keyed with the value of the environment
variable ``webhook_secret_env`` names.  Network errors, 408, 429 and 5xx are
retried (``webhook_attempts`` in all, exponential backoff, ``Retry-After``
honoured up to the backoff cap); other statuses fail at once.  Nothing here
ever raises for a failed delivery, and no message carries the URL's path,
the key or the response body.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs

from . import __version__
from .settings import WebhookSettings, redact_url, valid_webhook_url

SIGNATURE_HEADER = "X-Genesis-Signature"
RETRY_STATUSES = frozenset({408, 429})


@attrs.frozen
class Delivery:
    """How a delivery went: ``ok``, attempts made, last HTTP status, and a safe error line."""

    ok: bool
    attempts: int
    status: int | None = None
    error: str | None = None
    target: str = ""


def sign(body: bytes, key: bytes) -> str:
    """Return the signature header value: ``sha256=`` and the hex HMAC-SHA256 of ``body``."""
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify(body: bytes, key: bytes, header: str | None) -> bool:
    """Return whether ``header`` is the right signature of ``body`` (constant-time compare)."""
    return header is not None and hmac.compare_digest(sign(body, key), header)


def encode_body(document: Mapping[str, Any]) -> bytes:
    """Return the exact bytes that are sent and signed."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode("utf-8")


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def _delay(settings: WebhookSettings, attempt: int, retry_after: float | None) -> float:
    delay = min(settings.max_backoff, settings.backoff * 2.0 ** (attempt - 1))
    if retry_after is not None:
        delay = max(delay, min(retry_after, settings.max_backoff))
    return delay


async def deliver(settings: WebhookSettings, body: bytes, *, event_id: str | None = None,
                  environ: Mapping[str, str] | None = None,
                  sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> Delivery:
    """POST ``body`` to the configured webhook and return how it went (never raises for HTTP)."""
    import httpx

    from genesis_core.api import install_log_redaction

    install_log_redaction()  # httpx logs request URLs at INFO; a webhook URL is a credential

    env = os.environ if environ is None else environ
    url = settings.url if settings.url is not None else env.get(settings.url_env or "", "")
    if not url:
        return Delivery(False, 0, error=f"${settings.url_env} is not set")
    if not valid_webhook_url(url):
        return Delivery(False, 0, error=f"${settings.url_env} is not an http(s) URL")
    target = redact_url(url)
    headers = {"Content-Type": "application/json", "User-Agent": f"genesis-steward/{__version__}",
               "X-Genesis-Event": "envsync.drift"}
    if event_id:
        headers["X-Genesis-Delivery"] = event_id
    if settings.secret_env:
        key = env.get(settings.secret_env, "")
        if not key:
            return Delivery(False, 0, error=f"${settings.secret_env} (the webhook signing key) is not set; "
                                            "not sending an unsigned report", target=target)
        headers[SIGNATURE_HEADER] = sign(body, key.encode("utf-8"))
    status: int | None = None
    error = "not attempted"
    attempt = 0
    async with httpx.AsyncClient(timeout=settings.timeout, follow_redirects=False) as client:
        while attempt < settings.attempts:
            attempt += 1
            retry_after = None
            try:
                response = await client.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                status, error = None, f"network error ({type(exc).__name__})"
            else:
                status = response.status_code
                if 200 <= status < 300:
                    return Delivery(True, attempt, status, None, target)
                error = f"HTTP {status}"
                if status < 500 and status not in RETRY_STATUSES:
                    return Delivery(False, attempt, status, error + " (not retried)", target)
                retry_after = _retry_after(response.headers.get("Retry-After"))
            if attempt < settings.attempts:
                await sleep(_delay(settings, attempt, retry_after))
    return Delivery(False, attempt, status, f"{error} after {attempt} attempt(s)", target)
