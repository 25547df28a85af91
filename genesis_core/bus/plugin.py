"""The core's own transports, ``embedded`` (SQLite) and ``memory``: the built-in plugin ``core.transports``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

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


@hookimpl
def genesis_register_transports(register: Callable[[TransportKind], None]) -> None:
    """Register the embedded SQLite transport and the in-memory one."""
    register(TransportKind("embedded", _embedded, "SQLite in the state dir: durable, WAL, group commit"))
    register(TransportKind("memory", _memory, "in-process and non-durable (tests, benchmarks)"))
