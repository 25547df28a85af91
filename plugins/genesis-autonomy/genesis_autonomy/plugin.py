"""Entry point of the Autonomy plugin: registers the engine and ``genesis heal``.

Everything heavier than this module is imported inside the hooks, so
``genesis --version`` and ``genesis plugins`` stay fast.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from genesis_core import hookimpl


@hookimpl
def genesis_register_engines(register: Callable[[Any], None]) -> None:
    """Register the ``autonomy`` engine (subscribes ``envsync.drift``)."""
    from .engine import make_engine

    register(make_engine())


@hookimpl
def genesis_register_commands(register: Callable[[Any], None]) -> None:
    """Register ``genesis heal``."""
    from .commands import COMMAND

    register(COMMAND)
