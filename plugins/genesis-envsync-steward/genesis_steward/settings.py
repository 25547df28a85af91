"""``[engines.steward]``: the step-summary switch and the optional webhook, validated strictly."""

from __future__ import annotations

from urllib.parse import urlsplit

import attrs

from genesis_core.api import Table

KNOWN_KEYS = frozenset({
    "enabled", "step_summary", "webhook_url", "webhook_url_env", "webhook_secret_env",
    "webhook_attempts", "webhook_timeout", "webhook_backoff",
})


@attrs.frozen(repr=False)
class WebhookSettings:
    """Where and how to POST each drift report."""

    url: str | None = None
    url_env: str | None = None
    secret_env: str | None = None
    attempts: int = 4
    timeout: float = 10.0
    backoff: float = 0.5
    max_backoff: float = 8.0

    def __repr__(self) -> str:
        return (f"WebhookSettings(url={'<set>' if self.url else None}, url_env={self.url_env!r}, "
                f"secret_env={self.secret_env!r}, attempts={self.attempts})")


@attrs.frozen
class StewardSettings:
    """Everything the Steward engine reads from its table."""

    step_summary: bool = True
    webhook: WebhookSettings | None = None


def valid_webhook_url(url: str) -> bool:
    """Return whether ``url`` is an absolute http(s) URL with a host."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def redact_url(url: str) -> str:
    """Return ``scheme://host[:port]/…``: webhook paths often hold the credential, so never show them."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid url>"
    return f"{parts.scheme}://{host}{port}/…"


def load_settings(table: Table) -> StewardSettings:
    """Return the settings of ``[engines.steward]``; ``ConfigError`` naming file and key on bad input."""
    table.check_known(KNOWN_KEYS)
    step_summary = table.bool("step_summary", True)
    url = table.str("webhook_url", None)
    url_env = table.str("webhook_url_env", None)
    secret_env = table.str("webhook_secret_env", None)
    if url is not None and url_env is not None:
        raise table.error("webhook_url_env", "set either webhook_url or webhook_url_env, not both")
    if url is not None and not valid_webhook_url(url):
        raise table.error("webhook_url", "expected an http:// or https:// URL with a host")
    for key, name in (("webhook_url_env", url_env), ("webhook_secret_env", secret_env)):
        if name is not None and (not name.strip() or "=" in name or any(c.isspace() for c in name)):
            raise table.error(key, "expected the name of an environment variable")
    if url is None and url_env is None:
        for key in ("webhook_secret_env", "webhook_attempts", "webhook_timeout", "webhook_backoff"):
            if key in table:
                raise table.error(key, "has no effect without webhook_url or webhook_url_env")
        return StewardSettings(step_summary=step_summary)
    attempts = table.int("webhook_attempts", 4, minimum=1, maximum=10)
    timeout = table.float("webhook_timeout", 10.0, minimum=0.1, maximum=300)
    backoff = table.float("webhook_backoff", 0.5, minimum=0.0, maximum=60)
    return StewardSettings(step_summary=step_summary, webhook=WebhookSettings(
        url=url, url_env=url_env, secret_env=secret_env, attempts=attempts, timeout=timeout,
        backoff=backoff, max_backoff=max(8.0, backoff)))
