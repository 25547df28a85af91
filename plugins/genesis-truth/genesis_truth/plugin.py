"""Entry-point module of ``genesis-truth``: hook implementations only, everything else lazy."""

from __future__ import annotations

from collections.abc import Callable

from genesis_core import hookimpl


@hookimpl
def genesis_register_engines(register: Callable[..., None]) -> None:
    """Register the Truth engine."""
    from .engine import make_engine

    register(make_engine())


@hookimpl
def genesis_register_commands(register: Callable[..., None]) -> None:
    """Register ``genesis ledger``."""
    from .commands import COMMAND

    register(COMMAND)
