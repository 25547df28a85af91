"""Read ``[engines.cascade]`` into typed server settings, and the bearer token from the env."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping

import attrs

from genesis_core.api import ConfigError, Table

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_TOKEN_ENV = "GENESIS_CASCADE_TOKEN"

KNOWN_KEYS = frozenset({
    "enabled", "host", "port", "token_env", "require_token", "origins",
    "ping_interval", "ping_timeout", "close_timeout", "send_timeout",
    "client_queue", "max_clients", "poll_interval",
})


@attrs.frozen
class CascadeSettings:
    """How ``genesis serve`` listens, authenticates and treats clients (no secret inside)."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    token_env: str = DEFAULT_TOKEN_ENV
    require_token: bool = False
    origins: tuple[str, ...] | None = None
    ping_interval: float | None = 20.0
    ping_timeout: float | None = 20.0
    close_timeout: float = 5.0
    send_timeout: float = 10.0
    client_queue: int = 32
    max_clients: int = 1000
    poll_interval: float = 1.0

    @property
    def is_loopback(self) -> bool:
        """Return whether ``host`` only accepts connections from this machine."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def _optional_seconds(table: Table, key: str, default: float) -> float | None:
    """Return a positive number of seconds, or ``None`` when the key is ``0`` (disabled)."""
    value = table.float(key, default, minimum=0.0, maximum=3600)
    return None if value == 0 else value


def settings_from_table(table: Table) -> CascadeSettings:
    """Return the settings in ``[engines.cascade]`` (raises ``ConfigError`` naming file and key)."""
    table.check_known(KNOWN_KEYS)
    table.bool("enabled", True)
    port = table.int("port", DEFAULT_PORT, minimum=0, maximum=65535)
    origins = table.str_list("origins", None)
    return CascadeSettings(
        host=table.str("host", DEFAULT_HOST),
        port=port,
        token_env=table.str("token_env", DEFAULT_TOKEN_ENV),
        require_token=table.bool("require_token", False),
        origins=tuple(origins) if origins is not None else None,
        ping_interval=_optional_seconds(table, "ping_interval", 20.0),
        ping_timeout=_optional_seconds(table, "ping_timeout", 20.0),
        close_timeout=table.float("close_timeout", 5.0, minimum=0.1, maximum=300),
        send_timeout=table.float("send_timeout", 10.0, minimum=0.1, maximum=300),
        client_queue=table.int("client_queue", 32, minimum=1, maximum=10_000),
        max_clients=table.int("max_clients", 1000, minimum=1, maximum=100_000),
        poll_interval=table.float("poll_interval", 1.0, minimum=0.05, maximum=3600),
    )


def load_token(settings: CascadeSettings, environ: Mapping[str, str] | None = None) -> str | None:
    """Return the bearer token from ``settings.token_env``, or ``None`` when it is unset.

    A variable that is set but blank is an error rather than "no token", and so is a
    missing token when ``require_token`` is on: both fail closed.
    """
    env = os.environ if environ is None else environ
    raw = env.get(settings.token_env)
    if raw is None:
        if settings.require_token:
            raise ConfigError(f"require_token is on but ${settings.token_env} is not set",
                              key="engines.cascade.require_token")
        return None
    token = raw.strip()
    if not token:
        raise ConfigError(f"${settings.token_env} is set but empty", key="engines.cascade.token_env")
    return token
