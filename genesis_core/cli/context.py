"""What a sub-command's ``run`` receives: lazily loaded config, plugins, bus and output."""

from __future__ import annotations

import functools
import json
import os
import sys
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from ..bus.core import GenesisBus
    from ..bus.dispatcher import HandlerFailure
    from ..config import Config
    from ..plugins import PluginHost
    from ..secrets import SecretPolicy

CONFIG_ENV = "GENESIS_CONFIG"
"""Names the configuration file when ``--config`` does not (the process bus reads it too)."""


class CommandContext:
    """Gives a command everything it needs, loading each part only when first used."""

    def __init__(self, *, config_path: str | None = None, stdout: IO[str] | None = None,
                 stderr: IO[str] | None = None, role: str | None = None) -> None:
        self.config_path = config_path
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.role = role

    @functools.cached_property
    def config(self) -> Config:
        """Return the configuration: ``--config``, else ``$GENESIS_CONFIG``, else found upwards.

        Raises ``ConfigError`` on bad input (a named file that does not exist included).
        """
        from ..config import load_config

        named = None if self.config_path else os.environ.get(CONFIG_ENV) or None
        if named is not None and not os.path.isfile(os.path.expanduser(named)):
            from ..errors import ConfigError

            raise ConfigError(f"file not found (named by {CONFIG_ENV})", file=named)
        return load_config(self.config_path or named)

    @property
    def state_dir(self) -> Path:
        """Return the state directory, created if needed."""
        from ..config import ensure_state_dir

        return ensure_state_dir(self.config.state_dir)

    @functools.cached_property
    def host(self) -> PluginHost:
        """Return the plugin host with every installed plugin loaded."""
        from ..plugins import get_plugin_host

        return get_plugin_host()

    @functools.cached_property
    def secret_policy(self) -> SecretPolicy:
        """Return the secret policy from ``[secrets]``, keyed for this state dir."""
        from ..secrets import policy_from_config

        return policy_from_config(self.config, self.state_dir)

    @functools.cached_property
    def bus(self) -> GenesisBus:
        """Return the process bus, configured from this config and with engines started."""
        from ..bus.setup import configure_bus

        return configure_bus(self.config, host=self.host, role=self.role)

    def close(self) -> None:
        """Close the bus if this command opened one."""
        bus = self.__dict__.get("bus")
        if bus is not None:
            close = getattr(bus, "close", None)
            if close is not None:
                close()

    def print(self, text: str = "") -> None:
        """Write one line to stdout."""
        self.stdout.write(text + "\n")

    def error(self, text: str) -> None:
        """Write one line to stderr, prefixed with ``genesis:``."""
        self.stderr.write(f"genesis: {text}\n")

    def reports_engine_failures(self) -> None:
        """Say that this command prints each engine failure itself, with :meth:`engine_failure`.

        The bus's own log line for a failed handler is then not printed as well (one line per
        failure), unless logging was configured (``--log-level``, ``GENESIS_LOG_LEVEL``).
        """
        import logging

        if logging.getLogger().handlers:  # logging configured: every record stays
            return
        logging.getLogger("genesis.bus").addFilter(_not_a_handler_failure)

    def engine_failure(self, failure: HandlerFailure, topic: str) -> bool:
        """Print one line for an engine handler that failed on ``topic``; return whether its engine is required.

        ``failure`` is a ``HandlerFailure`` from a ``PublishResult``.  A command
        that published the event exits 2 when this returns ``True``
        (``[engines.NAME] required``; Truth is required by default).
        """
        from ..engines import engine_name, required_engines

        engine = engine_name(failure.subscriber)
        retry = "kept for retry: `genesis events retry`"
        if engine in required_engines(self.config, self.host.engines()):
            self.error(f"required engine {engine} failed on {topic}: {failure.error} ({retry} once fixed; "
                       f"or set [engines.{engine}] required = false)")
            return True
        self.error(f"engine handler {failure.subscriber} failed on {topic}: {failure.error} ({retry})")
        return False

    def print_json(self, data: Any) -> None:
        """Write ``data`` as indented JSON to stdout."""
        self.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def _not_a_handler_failure(record: Any) -> bool:
    """Return whether the log ``record`` is not the bus's line for a failed handler."""
    from ..bus.core import HANDLER_FAILURE_RECORD

    return not getattr(record, HANDLER_FAILURE_RECORD, False)
