"""Every hook a Genesis plugin can implement.

One flat module, one hook a function, each with a one-line docstring
(``docs/hooks.md`` documents each one; a test keeps the two in step).
Hooks that add things to Genesis receive a ``register`` callback; the core
validates what is registered and reports a plugin that registers nonsense.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from ._markers import hookspec

if TYPE_CHECKING:
    from .bus.guardian import Decision


@hookspec
def genesis_register_platforms(register: Callable[..., None]) -> None:
    """Register platform adapter kinds by calling ``register(PlatformKind(...))``."""


@hookspec
def genesis_register_engines(register: Callable[..., None]) -> None:
    """Register engines (named groups of event subscribers) with ``register(Engine(...))``."""


@hookspec
def genesis_register_transports(register: Callable[..., None]) -> None:
    """Register bus transports with ``register(TransportKind(...))``."""


@hookspec
def genesis_register_commands(register: Callable[..., None]) -> None:
    """Register CLI sub-commands with ``register(Command(...))``."""


@hookspec
def genesis_check_permission(topic: str, event: dict[str, Any], context: dict[str, Any]) -> Decision | None:
    """Return a ``Decision`` for publishing ``event`` on ``topic``, or ``None`` to abstain."""

