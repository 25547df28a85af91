"""Entry point of the Blueprint plugin: registers the engine and ``genesis blueprint``.

Everything heavier than this module is imported inside the hooks, so
``genesis --version`` and ``genesis plugins`` stay fast.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from genesis_core.api import hookimpl


@hookimpl
def genesis_register_engines(register: Callable[[Any], None]) -> None:
    """Register the ``blueprint`` engine (subscribes ``envsync.commit`` and ``envsync.drift``)."""
    from genesis_core.api import Engine

    register(Engine.lazy("blueprint", "genesis_blueprint.engine:make_engine",
                         "checks envsync results against a schema; publishes blueprint.warning"))


@hookimpl
def genesis_register_commands(register: Callable[[Any], None]) -> None:
    """Register ``genesis blueprint check|init``."""
    from genesis_core.api import Command

    register(Command.lazy("blueprint", "check variables against a schema, or write one (check, init)",
                          "genesis_blueprint.cli:COMMAND"))
