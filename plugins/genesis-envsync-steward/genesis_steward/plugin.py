"""Entry point of the Steward plugin: registers the engine and ``genesis steward report``.

Everything heavier than this module is imported inside the hooks, so
``genesis --version`` and ``genesis plugins`` stay fast.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from genesis_core.api import hookimpl


@hookimpl
def genesis_register_engines(register: Callable[[Any], None]) -> None:
    """Register the ``steward`` engine (subscribes ``envsync.drift``)."""
    from genesis_core.api import Engine

    register(Engine.lazy("steward", "genesis_steward.engine:make_engine",
                         "writes drift reports (md, json, html), step summaries and webhooks"))


@hookimpl
def genesis_register_commands(register: Callable[[Any], None]) -> None:
    """Register ``genesis steward report``."""
    from genesis_core.api import Command

    register(Command.lazy("steward", "drift reports: render the latest drift event (report)",
                          "genesis_steward.cli:COMMAND"))
