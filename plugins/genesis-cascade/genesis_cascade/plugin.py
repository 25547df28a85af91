"""Entry-point module of ``genesis-cascade``: registers the engine and ``genesis serve``.

Kept import-light on purpose: ``websockets`` is only imported when a server starts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from genesis_core import hookimpl


@hookimpl
def genesis_register_engines(register: Callable[[Any], None]) -> None:
    """Register the ``cascade`` engine (subscribes ``envsync.commit``)."""
    from .engine import make_engine

    register(make_engine())


@hookimpl
def genesis_register_commands(register: Callable[[Any], None]) -> None:
    """Register ``genesis serve``."""
    from .command import SERVE_COMMAND

    register(SERVE_COMMAND)
