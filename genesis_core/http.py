"""HTTP for platform adapters: one shared client, bounded retries, rate limits, clear errors.

Every failure becomes a :class:`~genesis_core.errors.PlatformError` that names the
platform and says what to check.  Request headers (and so tokens) are never put
into a message or a log line.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import json
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs
import httpx

from .errors import PlatformError

USER_AGENT = "genesis-envsync"
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
#: The most seconds one request may spend on failed attempts and the waits between them.
DEFAULT_MAX_RETRY_SECONDS = 300.0
_HOST_NAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?")


class RedactURLs(logging.Filter):
    """Hide the path and query of URLs in httpx's own log lines (a webhook URL is a credential)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(redact_url(arg) if isinstance(arg, (str, httpx.URL)) and
                                str(arg).startswith(("http://", "https://")) else arg
                                for arg in record.args)
        return True


def redact_url(url: str | httpx.URL) -> str:
    """Return ``scheme://host[:port]/…``: where a request went, without a path that may hold a secret."""
    parsed = httpx.URL(str(url))
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}/…"


def install_log_redaction() -> None:
    """Add :class:`RedactURLs` to the ``httpx`` logger once (idempotent)."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, RedactURLs) for f in logger.filters):
        logger.addFilter(RedactURLs())


install_log_redaction()


def default_client(timeout: float = DEFAULT_TIMEOUT) -> httpx.AsyncClient:
    """Return a new ``httpx.AsyncClient`` with Genesis defaults (the run shares one)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
        limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
    )


@attrs.frozen
class RetryPolicy:
    """How often and how long to retry: network errors, 5xx and rate limits only."""

    attempts: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    max_rate_limit_wait: float = 60.0
    max_bytes: int = DEFAULT_MAX_BYTES
    #: A 429 that says nothing about when to retry (no ``Retry-After``, no reset header: Heroku sends
    #: only ``RateLimit-Remaining``) waits :meth:`backoff` (exponential, with jitter) instead of 1 s.
    rate_limit_backoff: bool = False
    #: The retry budget: failed attempts and the waits between them together stop retrying once
    #: the next wait would take them past this many seconds. It applies to one request, and,
    #: through :meth:`FetchContext.retry_budget`, to all of one platform instance's requests in a run.
    max_retry_seconds: float = DEFAULT_MAX_RETRY_SECONDS

    def backoff(self, attempt: int) -> float:
        """Return the delay before retry number ``attempt`` (1-based), with jitter."""
        delay = min(self.backoff_max, self.backoff_base * 2.0 ** min(max(attempt - 1, 0), 64))
        return delay * (0.5 + random.random() / 2)


class RetryBudget:
    """Seconds spent on failed attempts and the waits between them, against ``limit``.

    ``request`` keeps one per request; pass a shared one (``FetchContext.retry_budget``) to
    bound all the requests of one platform instance in a run, however many pages they are.
    Waits count as asked for (a test's instant ``sleep`` still spends them), attempts as measured.
    """

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.spent = 0.0


def _retry_fits(budgets: tuple[RetryBudget, ...], attempt_began: float, wait: float) -> bool:
    """Spend the failed attempt that began at ``attempt_began`` from each budget; return whether ``wait`` fits all.

    The wait is spent too when it fits (the caller then takes it).
    """
    attempt = max(0.0, time.monotonic() - attempt_began)
    fits = all(budget.spent + attempt + wait <= budget.limit for budget in budgets)
    for budget in budgets:
        budget.spent += attempt + (wait if fits else 0.0)
    return fits


def url_problem(url: str) -> str | None:
    """Return why ``url`` cannot be an http(s) base URL, or ``None`` when it can.

    The URL must parse as httpx parses it, with a host name or an IP address and a port from
    1 to 65535 when one is given, so a bad URL is a configuration error, not a failed fetch.
    """
    if not url.startswith(("https://", "http://")):
        return "expected an http(s) URL"
    try:
        parsed = httpx.URL(url)
        port = parsed.port
    except (httpx.InvalidURL, ValueError) as exc:
        reason = " ".join(str(exc).split())
        return f"not a valid URL ({reason[:80]})" if reason else "not a valid URL"
    host = parsed.raw_host.decode("ascii", "replace")
    if not host:
        return "expected a host after the scheme"
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return "not a valid IPv6 address in the URL"
    elif not _HOST_NAME.fullmatch(host):
        return "not a valid host name in the URL"
    if port is not None and not 1 <= port <= 65535:
        return f"port {port} is out of range (1 to 65535)"
    return None


@attrs.frozen
class Endpoint:
    """Who we are talking to, for error messages: platform instance, credential and target."""

    platform: str
    credential_env: str | None = None
    target: str = ""


Sleep = Callable[[float], Awaitable[None]]

#: What waits between attempts when ``request`` is given no ``sleep``.
_retry_sleep: Sleep = asyncio.sleep


def set_retry_sleep(sleep: Sleep | None) -> Sleep:
    """Make every retry wait with ``sleep`` (``None``: ``asyncio.sleep`` again); return the previous one.

    The seam for tests: the testing kit's ``instant_retries`` fixture passes a
    function that records each delay and returns at once, so a test of retries
    and rate limits runs without waiting and can check what was asked for.
    """
    global _retry_sleep
    previous = _retry_sleep
    _retry_sleep = asyncio.sleep if sleep is None else sleep
    return previous


def rate_limit_wait(response: httpx.Response, now: float | None = None) -> float | None:
    """Return seconds to wait before retrying a rate-limited response, or ``None`` if not one."""
    headers = response.headers
    status = response.status_code
    remaining = headers.get("x-ratelimit-remaining") or headers.get("ratelimit-remaining")
    is_limited = status == 429 or (status == 403 and (remaining == "0" or bool(headers.get("retry-after"))))
    if not is_limited:
        return None
    now = time.time() if now is None else now
    retry_after = headers.get("retry-after")
    if retry_after:
        retry_after = retry_after.strip()
        if retry_after.isdigit():
            return float(retry_after)
        try:
            when = email.utils.parsedate_to_datetime(retry_after)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            return max(0.0, when.timestamp() - now)
    reset = headers.get("x-ratelimit-reset")
    if reset and reset.strip().isdigit():
        value = float(reset)
        # GitHub sends an epoch; a small number is seconds-from-now (Render, IETF draft).
        return max(0.0, value - now) if value > 1_000_000_000 else value
    reset = headers.get("ratelimit-reset")
    if reset and reset.strip().isdigit():
        return float(reset)
    return 1.0 if status == 429 else None


_WAIT_HEADERS = ("retry-after", "x-ratelimit-reset", "ratelimit-reset")


def _says_when(response: httpx.Response) -> bool:
    """Return whether a rate-limited answer says when to retry (``Retry-After`` or a reset header)."""
    return any(response.headers.get(name, "").strip() for name in _WAIT_HEADERS)


def _short_detail(response: httpx.Response, content: bytes | None = None) -> str:
    """Return the platform's own one-line error message, if its body is small JSON."""
    if "json" not in response.headers.get("content-type", ""):
        return ""
    if content is None:
        try:
            content = response.content
        except httpx.ResponseNotRead:  # a streamed response whose body was not kept
            return ""
    try:
        body = json.loads(content[:4096].decode("utf-8", "replace"))
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        return ""
    return error_detail(body)


def error_detail(body: Any) -> str:
    """Return the platform's own one-line error message from a decoded JSON error body, or ``""``.

    Reads ``message``, ``error``, ``error_description``, ``detail`` (a string, or an object
    with a ``message``), then the first of ``errors`` (Vault's strings, JSON:API's objects).
    Not scrubbed: pass it through ``scrub_detail`` before showing it.
    """
    if isinstance(body, dict):
        for field in ("message", "error", "error_description", "detail"):
            value = body.get(field)
            if isinstance(value, str) and value:
                return " ".join(value.split())
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                return " ".join(value["message"].split())
        errors = body.get("errors")  # Vault: {"errors": ["..."]}; JSON:API: [{"detail": "..."}]
        if isinstance(errors, list) and errors:
            first = errors[0]
            if isinstance(first, dict):
                first = first.get("detail") or first.get("message")
            if isinstance(first, str) and first:
                return " ".join(first.replace("*", " ").split())
    return ""


def _header_secrets(headers: Mapping[str, str] | None) -> tuple[str, ...]:
    """Return the credential parts of request headers (the token after ``Bearer``/``token``, API keys)."""
    found: list[str] = []
    for name, value in (headers or {}).items():
        if name.lower() in ("authorization", "x-api-key", "api-key", "private-token", "x-vault-token",
                            "project-access-token"):
            found.append(value)
            _scheme, _, credential = value.partition(" ")
            if credential:
                found.append(credential)
    return tuple(found)


def _sent_strings(value: Any) -> list[str]:
    """Return every string of four or more characters inside a request's JSON body."""
    if isinstance(value, str):
        return [value] if len(value) >= 4 else []
    if isinstance(value, dict):
        return [s for v in value.values() for s in _sent_strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _sent_strings(v)]
    return []


DETAIL_LIMIT = 160


def _echoes(word: str, sent: list[str]) -> bool:
    """Return whether ``word`` repeats part of a sent string (4+ characters whole, or any 6 in a row)."""
    lowered = word.lower()
    for text in sent:
        if len(lowered) >= 4 and lowered in text:
            return True
        if len(text) >= 6 and any(lowered[i:i + 6] in text for i in range(len(lowered) - 5)):
            return True
    return False


def scrub_detail(detail: str, sent: Any = None, secrets: tuple[str, ...] = ()) -> str:
    """Return a platform's error message with echoed request values, ``secrets`` and credential-like words hidden.

    A word is hidden when it repeats four or more characters of something sent, or any six
    in a row (case-insensitive), or looks like a credential. Scrubbing happens on the whole
    message; callers truncate afterwards, so a cut can never leave half of a secret behind.
    """
    from .secrets import looks_like_credential

    sent_lower = [text.lower() for text in (*_sent_strings(sent), *secrets) if len(text) >= 4]
    words = []
    for word in detail.split(" "):
        bare = word.strip("'\"`,.;:()[]{}<>")
        if bare and (_echoes(bare, sent_lower) or looks_like_credential(bare)):
            word = "<hidden>"
        words.append(word)
    return " ".join(words)


def status_error(endpoint: Endpoint, response: httpx.Response, content: bytes | None = None,
                 sent: Any = None, *, rate_limited: bool = False, secrets: tuple[str, ...] = ()) -> PlatformError:
    """Return the ``PlatformError`` for an unexpected HTTP status, saying what to check.

    The platform's own message is scrubbed of what was sent (a write's error may echo the
    value, whole or in part), of ``secrets`` and of anything credential-like, then cut.
    """
    status = response.status_code
    detail = scrub_detail(_short_detail(response, content), sent, secrets)
    if len(detail) > DETAIL_LIMIT:
        detail = detail[:DETAIL_LIMIT - 1].rstrip() + "…"
    suffix = f" ({detail})" if detail else ""
    target = f" {endpoint.target}" if endpoint.target else ""
    cred = endpoint.credential_env or "the API token"
    if rate_limited:
        msg = f"rate limited (HTTP {status}){suffix}: retries exhausted, try again later"
    elif status == 401:
        msg = f"authentication failed (HTTP 401){suffix}: check that {cred} holds a valid token"
    elif status == 403:
        msg = (f"permission denied (HTTP 403){suffix}: check that the token in {cred} may "
               f"access{target or ' this resource'}")
    elif status == 404:
        msg = (f"not found (HTTP 404){suffix}: check{target or ' the configured identifiers'} "
               "and that the token can see it")
    elif status == 429:
        msg = f"rate limited (HTTP 429){suffix}: retries exhausted, try again later"
    elif status >= 500:
        msg = f"server error (HTTP {status}){suffix} after retries"
    else:
        msg = f"unexpected HTTP {status}{suffix}"
    return PlatformError(endpoint.platform, msg, status=status, retryable=status >= 500 or status == 429)


async def _read_limited(response: httpx.Response, endpoint: Endpoint, limit: int) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PlatformError(endpoint.platform, f"response too large ({int(declared)} bytes, limit {limit})")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise PlatformError(endpoint.platform, f"response too large (over {limit} bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_prefix(response: httpx.Response, limit: int) -> bytes:
    """Return at most ``limit`` bytes of the body (an error body is read only for its message)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)[:limit]


def _network_message(exc: httpx.HTTPError, url: httpx.URL) -> str:
    host = url.host or "the server"
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out talking to {host}"
    if isinstance(exc, httpx.ConnectError) and "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return (f"the TLS certificate of {host} is not trusted (certificate verify failed): "
                "give the CA certificate that signed it")
    if isinstance(exc, httpx.ConnectError):
        return f"could not connect to {host}:{url.port or ''}".rstrip(":") + " (connection refused or unreachable)"
    return f"network error talking to {host} ({type(exc).__name__})"


async def request(
    client: httpx.AsyncClient,
    endpoint: Endpoint,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, Any] | None = None,
    json_body: Any = None,
    ok: tuple[int, ...] = (200,),
    retry: RetryPolicy | None = None,
    timeout: httpx.Timeout | None = None,
    sleep: Sleep | None = None,
    budget: RetryBudget | None = None,
) -> tuple[httpx.Response, bytes]:
    """Send one request with retries and return ``(response, body)`` for a status in ``ok``.

    Retries network errors, 5xx and rate limits (``Retry-After`` / reset headers)
    with bounded exponential backoff, within ``retry.attempts``, the request's own retry budget
    ``retry.max_retry_seconds`` and ``budget`` (shared by a platform instance's requests, when
    given); raises ``PlatformError`` for everything else.
    ``sleep`` waits between attempts (default: the one ``set_retry_sleep`` chose,
    ``asyncio.sleep`` unless a test changed it).
    """
    retry = retry or RetryPolicy()
    if sleep is None:
        sleep = _retry_sleep
    last_error: PlatformError | None = None
    secrets = _header_secrets(headers)
    budgets = (RetryBudget(retry.max_retry_seconds), *([budget] if budget is not None else []))
    for attempt in range(1, retry.attempts + 1):
        began = time.monotonic()
        req = client.build_request(method, url, headers=headers, params=params, json=json_body,
                                   timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT)
        try:
            response = await client.send(req, stream=True)
        except httpx.HTTPError as exc:
            last_error = PlatformError(endpoint.platform, _network_message(exc, req.url), retryable=True)
            delay = retry.backoff(attempt)
            if attempt < retry.attempts and _retry_fits(budgets, began, delay):
                await sleep(delay)
                continue
            raise last_error from None
        try:
            if response.status_code in ok:
                try:
                    body = await _read_limited(response, endpoint, retry.max_bytes)
                except httpx.HTTPError as exc:
                    last_error = PlatformError(endpoint.platform, _network_message(exc, req.url), retryable=True)
                    delay = retry.backoff(attempt)
                    if attempt < retry.attempts and _retry_fits(budgets, began, delay):
                        await sleep(delay)
                        continue
                    raise last_error from None
                return response, body
            error_body = await _read_prefix(response, 64 * 1024)
        except PlatformError:
            raise
        except httpx.HTTPError:
            error_body = b""  # the error body is only read for its message
        finally:
            await response.aclose()
        wait = rate_limit_wait(response)
        if wait is not None and retry.rate_limit_backoff and not _says_when(response):
            wait = retry.backoff(attempt)
        if wait is not None:
            last_error = status_error(endpoint, response, error_body, json_body, rate_limited=True,
                                      secrets=secrets)
            if wait > retry.max_rate_limit_wait:
                raise PlatformError(endpoint.platform,
                                    f"rate limited (HTTP {response.status_code}): the limit resets in "
                                    f"{wait:.0f}s, longer than the {retry.max_rate_limit_wait:.0f}s Genesis waits",
                                    status=response.status_code)
            if attempt < retry.attempts and _retry_fits(budgets, began, wait):
                await sleep(wait)
                continue
            raise last_error
        if response.status_code >= 500:
            last_error = status_error(endpoint, response, error_body, json_body, secrets=secrets)
            delay = retry.backoff(attempt)
            if attempt < retry.attempts and _retry_fits(budgets, began, delay):
                await sleep(delay)
                continue
        raise status_error(endpoint, response, error_body, json_body, secrets=secrets)
    assert last_error is not None  # the loop always returns or raises
    raise last_error


def parse_json(endpoint: Endpoint, body: bytes) -> Any:
    """Return the decoded JSON ``body``; raise ``PlatformError`` when it is not JSON."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise PlatformError(endpoint.platform, "malformed JSON in the response") from None
    except RecursionError:
        raise PlatformError(endpoint.platform, "malformed JSON in the response (nested too deeply)") from None


def shape_error(endpoint: Endpoint, what: str) -> PlatformError:
    """Return the error for a JSON response that does not have the documented shape."""
    return PlatformError(endpoint.platform, f"unexpected response shape: {what}")
