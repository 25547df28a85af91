"""Entry-point module of ``genesis-envsync-truth``: hook implementations only, everything else lazy."""

from __future__ import annotations

from collections.abc import Callable

from genesis_core.api import hookimpl


@hookimpl
def genesis_register_engines(register: Callable[..., None]) -> None:
    """Register the Truth engine."""
    from genesis_core.api import Engine

    register(Engine.lazy("truth", "genesis_truth.engine:make_engine",
                         "Signed, Merkle-anchored audit ledger of sync, drift and heal events",
                         required_by_default=True))


@hookimpl
def genesis_register_commands(register: Callable[..., None]) -> None:
    """Register ``genesis ledger``."""
    from genesis_core.api import Command

    register(Command.lazy("ledger", "inspect, verify and prove entries of the Truth ledger",
                          "genesis_truth.commands:COMMAND"))
