"""Entry-point module of ``genesis-envsync-nats``: hook implementations only, everything else lazy."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from genesis_core.api import hookimpl

if TYPE_CHECKING:
    from pathlib import Path

    from genesis_core.api import Table, Transport

DESCRIPTION = "NATS JetStream stream shared by every process; engines run in `genesis worker`"
#: Help of the lazily registered commands (``commands.py`` holds the same text).
WORKER_HELP = "run the engines as durable NATS JetStream consumers ([bus] transport = \"nats\")"
NATS_HELP = "inspect the NATS JetStream stream behind the bus"


def _factory(table: Table, state_dir: Path) -> Transport:
    from .transport import from_config

    return from_config(table, state_dir)


@hookimpl
def genesis_register_transports(register: Callable[..., None]) -> None:
    """Register the ``nats`` transport."""
    from genesis_core.api import TransportKind

    register(TransportKind("nats", _factory, DESCRIPTION))


@hookimpl
def genesis_register_commands(register: Callable[..., Any]) -> None:
    """Register ``genesis worker`` and ``genesis nats`` (their module loads when one is used)."""
    from genesis_core.api import Command

    register(Command.lazy("worker", WORKER_HELP, "genesis_nats.commands:WORKER_COMMAND"))
    register(Command.lazy("nats", NATS_HELP, "genesis_nats.commands:NATS_COMMAND"))
