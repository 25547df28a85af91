"""Apply the sync's key scoping (``[sync] ignore``, per-instance include/exclude) to snapshots.

Blueprint checks the same keys ``genesis sync`` compares, so a frontend-only
key excluded from the backend is not "missing" there for Blueprint either.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from genesis_core.api import compile_patterns, patterns_setting

if TYPE_CHECKING:
    from genesis_core.api import Config, KeyPatterns, Snapshot, Table, Variable

InScope = Callable[[str, str], bool]


def _patterns(table: Table, key: str) -> KeyPatterns | None:
    return compile_patterns(patterns_setting(table, key))


def scope_rule(config: Config) -> InScope:
    """Return ``in_scope(instance, key)`` from ``[sync] ignore`` and each instance's include/exclude."""
    ignore = _patterns(config.section("sync"), "ignore")
    tables = config.platforms()
    include = {name: _patterns(table, "include") for name, table in tables.items()}
    exclude = {name: _patterns(table, "exclude") for name, table in tables.items()}

    def in_scope(instance: str, key: str) -> bool:
        if ignore is not None and ignore.match(key):
            return False
        wanted = include.get(instance)
        if wanted is not None and not wanted.match(key):
            return False
        unwanted = exclude.get(instance)
        return unwanted is None or not unwanted.match(key)

    return in_scope


def scoped_variables(snapshots: Mapping[str, Snapshot], in_scope: InScope) -> dict[str, dict[str, Variable]]:
    """Return ``{instance: {key: Variable}}`` keeping only the keys in each instance's scope."""
    return {name: {key: var for key, var in snapshot.variables.items() if in_scope(name, key)}
            for name, snapshot in snapshots.items()}
