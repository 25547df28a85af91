"""Which keys are in an instance's scope, by the rules ``reconcile`` applies.

``[sync] ignore`` removes keys everywhere; an instance's ``include`` (when not
empty) keeps only matching keys and its ``exclude`` removes matching keys.  The
cross-environment check and the write-record check use this to look at exactly
the keys the per-environment reconciliation looked at.
"""

from __future__ import annotations

from collections.abc import Iterable

from .patterns import KeyPatterns, compile_patterns
from .reconciliation import ReconcileOptions

__all__ = ["Scope"]


class Scope:
    """The scope rules of one :class:`ReconcileOptions`, compiled once."""

    def __init__(self, options: ReconcileOptions | None = None) -> None:
        self.options = options or ReconcileOptions()
        self._ignore = compile_patterns(self.options.ignore)
        self._rules: dict[str, tuple[KeyPatterns | None, KeyPatterns | None]] = {}

    def _rules_of(self, name: str) -> tuple[KeyPatterns | None, KeyPatterns | None]:
        rules = self._rules.get(name)
        if rules is None:
            rules = (compile_patterns(self.options.include.get(name, ())),
                     compile_patterns(self.options.exclude.get(name, ())))
            self._rules[name] = rules
        return rules

    def allows(self, name: str, key: str) -> bool:
        """Return whether ``key`` is in instance ``name``'s scope (held there or not)."""
        if self._ignore is not None and self._ignore.match(key):
            return False
        include, exclude = self._rules_of(name)
        if include is not None and not include.match(key):
            return False
        return exclude is None or not exclude.match(key)

    def keys(self, name: str, keys: Iterable[str]) -> set[str]:
        """Return the keys of ``keys`` that are in instance ``name``'s scope."""
        return {key for key in keys if self.allows(name, key)}
