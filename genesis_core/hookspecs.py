"""Every hook a Genesis plugin can implement.

One flat module, one hook a function, each with a one-line docstring
(``docs/hooks.md`` documents each one; a test keeps the two in step).
Hooks that add things to Genesis receive a ``register`` callback typed with
what it accepts; the core validates what is registered and reports a plugin
that registers nonsense.

The ``genesis_register_*`` hooks are not called through ``pm.hook``: the
plugin host calls each implementation on its own, in registration order (the
core's built-in plugins first), so one plugin's exception cannot hide the
others' registrations.  pluggy's ``tryfirst``/``trylast`` and hook wrappers
therefore have no effect on them.  ``genesis_check_permission`` is asked for
every implementation by the Guardian, which fails closed on an exception.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._markers import hookspec

if TYPE_CHECKING:
    from collections.abc import Callable

    from .bus.guardian import Decision
    from .bus.transport import TransportKind
    from .cli.commands import Command
    from .engines import Engine
    from .platforms.model import PlatformKind


@hookspec
def genesis_register_platforms(register: Callable[[PlatformKind], None]) -> None:
    """Register platform adapter kinds by calling ``register(PlatformKind(...))``."""


@hookspec
def genesis_register_engines(register: Callable[[Engine], None]) -> None:
    """Register engines (named groups of event subscribers) with ``register(Engine(...))``."""


@hookspec
def genesis_register_transports(register: Callable[[TransportKind], None]) -> None:
    """Register bus transports with ``register(TransportKind(...))``."""


@hookspec
def genesis_register_commands(register: Callable[[Command], None]) -> None:
    """Register CLI sub-commands with ``register(Command(...))``."""


@hookspec
def genesis_check_permission(topic: str, event: dict[str, Any], context: dict[str, Any]) -> Decision | None:
    """Return a ``Decision`` for publishing ``event`` on ``topic``, or ``None`` to abstain."""
