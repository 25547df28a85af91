"""Entry-point module of ``genesis-envsync-cascade``: registers the engine and ``genesis serve``.

Kept import-light on purpose: ``websockets`` is only imported when a server starts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from genesis_core.api import hookimpl


@hookimpl
def genesis_register_engines(register: Callable[[Any], None]) -> None:
    """Register the ``cascade`` engine (subscribes ``envsync.commit``)."""
    from genesis_core.api import Engine

    register(Engine.lazy("cascade", "genesis_cascade.engine:make_engine",
                         "Push config_update to WebSocket clients on envsync.commit (genesis serve)"))


@hookimpl
def genesis_register_commands(register: Callable[[Any], None]) -> None:
    """Register ``genesis serve``."""
    from genesis_core.api import Command

    register(Command.lazy("serve", "push config_update to frontends over a WebSocket on every envsync.commit",
                          "genesis_cascade.command:SERVE_COMMAND"))
