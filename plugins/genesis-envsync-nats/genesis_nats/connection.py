"""Open a NATS connection and make sure the Genesis stream exists; turn nats-py errors into ``BusError``.

Every message names NATS and the server URL (credentials redacted), never a
token or a credentials file's content.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from genesis_core.api import BusError

from .settings import NatsSettings, redact_url

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js import JetStreamContext
    from nats.js.api import StreamInfo

log = logging.getLogger("genesis.nats")

Callback = Callable[[], Awaitable[None]]


def describe(exc: BaseException, settings: NatsSettings | None = None) -> str:
    """Return a one-line reason for a nats-py (or socket) error, without credentials."""
    description = getattr(exc, "description", None)
    if description:
        text = str(description)
    else:
        text = " ".join(str(exc).split()) or type(exc).__name__
        if text.startswith("nats: "):
            text = text[len("nats: "):]
    if settings is not None:
        for url in settings.servers:
            if url != redact_url(url):
                text = text.replace(url, redact_url(url))
    for secret in _secret_values(settings):
        text = text.replace(secret, "<secret>")
    return text


def _secret_values(settings: NatsSettings | None) -> list[str]:
    if settings is None or not settings.token_env:
        return []
    import os

    token = os.environ.get(settings.token_env, "")
    return [token] if len(token) >= 4 else []


class NatsUnavailable(BusError):
    """NATS could not be reached or the connection was lost (worth retrying later)."""


def nats_error(settings: NatsSettings, action: str, exc: BaseException) -> BusError:
    """Return a ``BusError``: ``NATS at URL: ACTION: REASON``."""
    return BusError(f"NATS at {settings.url}: {action}: {describe(exc, settings)}")


def _is_auth_problem(exc: BaseException) -> bool:
    from nats.errors import AuthorizationError

    text = str(exc).lower()
    return isinstance(exc, AuthorizationError) or "authorization" in text or "authentication" in text


async def connect(settings: NatsSettings, *, name: str, environ: Mapping[str, str] | None = None,
                  disconnected: Callback | None = None, closed: Callback | None = None
                  ) -> Client:
    """Return a connection to the first reachable server (no automatic reconnect).

    The caller decides what a lost connection means: the transport reconnects
    on its next call; the worker reconnects with backoff.  Raises ``BusError``.
    """
    import nats

    options = settings.connect_options(environ)
    last_error: list[BaseException] = []

    async def on_error(exc: BaseException) -> None:
        last_error.append(exc)
        log.debug("NATS at %s: %s", settings.url, describe(exc, settings))

    async def on_disconnected() -> None:
        if disconnected is not None:
            await disconnected()

    async def on_closed() -> None:
        if closed is not None:
            await closed()

    # nats-py tries each server until it has failed more than ``max_reconnect_attempts`` times
    # (0 would mean forever), so: two quick tries per server, and a hard deadline on top.
    try:
        return await asyncio.wait_for(nats.connect(
            servers=list(settings.servers), name=name, connect_timeout=settings.connect_timeout,
            allow_reconnect=False, max_reconnect_attempts=1, reconnect_time_wait=0.1,
            error_cb=on_error, disconnected_cb=on_disconnected, closed_cb=on_closed, **options),
            settings.connect_deadline)
    except Exception as exc:
        cause = last_error[-1] if last_error else exc
        message = f"cannot connect to NATS at {settings.url}: {describe(cause, settings)}"
        if any(_is_auth_problem(e) for e in (*last_error, exc)):
            raise BusError(message) from None  # retrying will not help
        raise NatsUnavailable(message) from None


def stream_config(settings: NatsSettings) -> Any:
    """Return the ``StreamConfig`` that ``[bus]`` describes."""
    from nats.js.api import RetentionPolicy, StorageType, StreamConfig

    return StreamConfig(
        name=settings.stream,
        description="Genesis events (genesis-envsync-nats)",
        subjects=[settings.stream_subject],
        retention=RetentionPolicy(settings.retention),
        max_age=settings.max_age or None,
        max_msgs=settings.max_msgs or -1,
        max_bytes=settings.max_bytes or -1,
        storage=StorageType(settings.storage),
        num_replicas=settings.replicas,
        duplicate_window=settings.duplicate_window,
    )


async def ensure_stream(js: JetStreamContext, settings: NatsSettings) -> StreamInfo:
    """Return the stream's info, creating the stream if absent.

    Raises ``BusError`` when it exists without the Genesis subject, or cannot
    be created (another stream already captures the subjects, no JetStream...).
    """
    from nats.js.errors import APIError, NotFoundError

    try:
        info = await js.stream_info(settings.stream)
    except NotFoundError:
        try:
            info = await js.add_stream(stream_config(settings))
            log.info("created NATS stream %s for %s", settings.stream, settings.stream_subject)
        except APIError as exc:
            try:  # another process may have created it a moment ago
                info = await js.stream_info(settings.stream)
            except NotFoundError:
                raise nats_error(settings, f"cannot create stream {settings.stream} for "
                                           f"{settings.stream_subject}", exc) from None
    subjects = list(info.config.subjects or ())
    if settings.stream_subject not in subjects:
        shown = ", ".join(subjects) or "none"
        raise BusError(f"NATS at {settings.url}: stream {settings.stream} exists with subjects "
                       f"[{shown}], not {settings.stream_subject}; set another [bus] stream "
                       f"or subject_prefix")
    return info
