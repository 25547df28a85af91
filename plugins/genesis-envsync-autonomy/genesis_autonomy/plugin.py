"""Entry point of the Autonomy plugin: registers the engine and ``genesis heal``.

Everything heavier than this module is imported inside the hooks, so
``genesis --version`` and ``genesis plugins`` stay fast.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from genesis_core.api import hookimpl


@hookimpl
def genesis_register_engines(register: Callable[[Any], None]) -> None:
    """Register the ``autonomy`` engine (subscribes ``envsync.drift``)."""
    from genesis_core.api import Engine

    register(Engine.lazy("autonomy", "genesis_autonomy.engine:make_engine",
                         "alerts on excessive drift; heals envsync.drift when auto_heal = true"))


@hookimpl
def genesis_register_commands(register: Callable[[Any], None]) -> None:
    """Register ``genesis heal``."""
    from genesis_core.api import Command

    register(Command.lazy("heal", "plan (and with --apply, write) the changes that make every platform "
                                  "match the reference; exit 0 nothing to do, 1 writes planned or failed, 2 error",
                          "genesis_autonomy.commands:COMMAND"))
