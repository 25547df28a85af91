"""The core's own plugin: built-in behaviour registered through the same hooks as any plugin."""

from __future__ import annotations

from typing import Any, Callable

from ._markers import hookimpl


@hookimpl
def genesis_register_platforms(register: Callable[[Any], None]) -> None:
    """Register the ``dotenv`` platform kind."""
    from .platforms.dotenv import DOTENV_KIND

    register(DOTENV_KIND)


@hookimpl
def genesis_register_transports(register: Callable[[Any], None]) -> None:
    """Register the ``embedded`` (SQLite) and ``memory`` bus transports."""
    from .bus.plugin import register_builtin_transports

    register_builtin_transports(register)


@hookimpl
def genesis_register_commands(register: Callable[[Any], None]) -> None:
    """Register ``genesis new-adapter``."""
    from .scaffold import NEW_ADAPTER_COMMAND

    register(NEW_ADAPTER_COMMAND)
