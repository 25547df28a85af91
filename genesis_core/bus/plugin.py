"""The core's own transports, registered like any plugin's (``genesis_core.builtin`` imports this)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from .._markers import hookimpl
from .transport import Transport, TransportKind

if TYPE_CHECKING:
    from pathlib import Path

    from ..config import Table


def _embedded(table: Table, state_dir: Path) -> Transport:
    from .store import SqliteTransport

    table.check_known({*_core_keys(), "durability", "busy_timeout"})
    return SqliteTransport.from_config(table, state_dir)


def _memory(table: Table, state_dir: Path) -> Transport:
    from .memory import MemoryTransport

    table.check_known(_core_keys())
    return MemoryTransport.from_config(table, state_dir)


def _core_keys() -> frozenset[str]:
    from .core import BUS_KEYS

    return BUS_KEYS


def builtin_transports() -> list[TransportKind]:
    """Return the transports the core ships: ``embedded`` (SQLite) and ``memory``."""
    return [
        TransportKind("embedded", _embedded, "SQLite in the state dir: durable, WAL, group commit"),
        TransportKind("memory", _memory, "in-process and non-durable (tests, benchmarks)"),
    ]


def register_builtin_transports(register: Callable[[TransportKind], None]) -> None:
    """Call ``register`` for each built-in transport."""
    for kind in builtin_transports():
        register(kind)


@hookimpl
def genesis_register_transports(register: Callable[[TransportKind], None]) -> None:
    """Register the embedded SQLite transport and the in-memory one."""
    register_builtin_transports(register)
