"""Read and validate ``[engines.autonomy]``; every error names the file and the dotted key."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from genesis_core.api import UsageError, compile_patterns, patterns_setting

from .thresholds import Thresholds

if TYPE_CHECKING:
    from genesis_core.api import KeyPatterns, Table

KNOWN_KEYS = frozenset({
    "enabled", "reference", "overwrite_conflicts", "auto_heal", "role", "targets", "instances",
    "alert_threshold", "frequency_limit", "window_seconds", "max_consecutive_failures", "timeout",
})
RULE_KEYS = frozenset({"allow", "deny"})
DEFAULT_ROLE = "engine"
DEFAULT_TIMEOUT = 300.0
MAX_WINDOW_SECONDS = 30 * 86400  # a month


@attrs.frozen
class KeyRules:
    """Which keys Autonomy may write on one instance: ``allow`` globs (empty = all), ``deny`` wins."""

    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    where: str = "engines.autonomy.instances"
    _allow_rx: KeyPatterns | None = attrs.field(init=False, eq=False, repr=False)
    _deny_rx: KeyPatterns | None = attrs.field(init=False, eq=False, repr=False)

    @_allow_rx.default
    def _compile_allow(self) -> KeyPatterns | None:
        return compile_patterns(self.allow)

    @_deny_rx.default
    def _compile_deny(self) -> KeyPatterns | None:
        return compile_patterns(self.deny)

    def refusal(self, key: str) -> str | None:
        """Return why ``key`` may not be written here, or ``None`` when it may."""
        if self._deny_rx is not None and self._deny_rx.match(key):
            return f"denied by {self.where}.deny"
        if self._allow_rx is not None and not self._allow_rx.match(key):
            return f"not matched by {self.where}.allow"
        return None


ALLOW_ALL = KeyRules()


@attrs.frozen
class AutonomySettings:
    """``[engines.autonomy]`` as typed values; ``table`` is kept for error messages."""

    reference: str | None
    overwrite_conflicts: bool = False
    auto_heal: bool = False
    role: str = DEFAULT_ROLE
    targets: tuple[str, ...] | None = None
    rules: Mapping[str, KeyRules] = attrs.field(factory=dict)
    thresholds: Thresholds = attrs.field(factory=Thresholds)
    timeout: float = DEFAULT_TIMEOUT
    table: Table | None = attrs.field(default=None, eq=False, repr=False)

    def rules_for(self, instance: str) -> KeyRules:
        """Return the key rules of ``instance`` (allow everything when none are configured)."""
        return self.rules.get(instance, ALLOW_ALL)

    def require_reference(self) -> str:
        """Return the reference instance; raise ``ConfigError`` naming ``engines.autonomy.reference``."""
        if self.reference is None:
            if self.table is None:
                raise UsageError("engines.autonomy.reference is required")
            raise self.table.error("reference", "is required: the instance that is the source of truth "
                                                "(e.g. reference = \"local\")")
        return self.reference

    def target_names(self, instances: Sequence[str], only: Iterable[str] | None = None) -> list[str]:
        """Return the instances to heal, in config order.

        ``targets`` (default: all but the reference), narrowed by ``only``.
        """
        reference = self.require_reference()
        chosen = [n for n in instances if n != reference]
        if self.targets is not None:
            chosen = [n for n in chosen if n in self.targets]
        if only is not None:
            wanted = [n.strip() for n in only if n.strip()]
            if reference in wanted:
                raise UsageError(f"--only: {reference} is the reference (engines.autonomy.reference); "
                                 "it is read, never written")
            unknown = [n for n in wanted if n not in instances]
            if unknown:
                raise UsageError(f"--only: unknown platform {', '.join(unknown)} "
                                 f"(configured: {', '.join(instances)})")
            outside = [n for n in wanted if n not in chosen]
            if outside:
                raise UsageError(f"--only: {', '.join(outside)} is not a heal target "
                                 f"(engines.autonomy.targets: {', '.join(chosen) or 'none'})")
            chosen = [n for n in chosen if n in wanted]
        return chosen


def _patterns(table: Table, key: str) -> tuple[str, ...]:
    return patterns_setting(table, key)


def load_settings(table: Table, instances: Iterable[str]) -> AutonomySettings:
    """Return the settings in ``table`` (``[engines.autonomy]``), checked against the configured ``instances``.

    Raises ``ConfigError`` for unknown keys, wrong types, bad patterns, and
    instance names that are not configured platforms.  ``reference`` may be
    absent here; :meth:`AutonomySettings.require_reference` insists on it.
    """
    table.check_known(KNOWN_KEYS)
    names = list(instances)
    configured = ", ".join(names) or "none"
    reference = table.str("reference", None)
    if reference is not None and reference not in names:
        raise table.error("reference", f"unknown platform instance {reference!r} (configured: {configured})")
    targets: tuple[str, ...] | None = None
    if "targets" in table:
        targets = table.str_list("targets")
        for index, name in enumerate(targets):
            if name not in names:
                raise table.error(f"targets[{index}]", f"unknown platform instance {name!r} "
                                                       f"(configured: {configured})")
            if name == reference:
                raise table.error(f"targets[{index}]", f"{name!r} is the reference; it is never written")
    rules: dict[str, KeyRules] = {}
    instances_table = table.table("instances")
    for name in instances_table:
        sub = instances_table.table(name)
        if name not in names:
            raise instances_table.error(name, f"unknown platform instance {name!r} (configured: {configured})")
        sub.check_known(RULE_KEYS)
        rules[name] = KeyRules(_patterns(sub, "allow"), _patterns(sub, "deny"), where=sub.path or name)
    role = table.str("role", DEFAULT_ROLE)
    thresholds = Thresholds(
        alert_threshold=table.int("alert_threshold", 10, minimum=0, maximum=1_000_000),
        frequency_limit=table.int("frequency_limit", 5, minimum=0, maximum=1_000_000),
        window_seconds=table.float("window_seconds", 3600.0, minimum=1.0, maximum=MAX_WINDOW_SECONDS),
        max_consecutive_failures=table.int("max_consecutive_failures", 3, minimum=1, maximum=1000),
    )
    return AutonomySettings(
        reference=reference,
        overwrite_conflicts=table.bool("overwrite_conflicts", False),
        auto_heal=table.bool("auto_heal", False),
        role=role,
        targets=targets,
        rules=rules,
        thresholds=thresholds,
        timeout=table.float("timeout", DEFAULT_TIMEOUT, minimum=1.0, maximum=3600),
        table=table,
    )


def settings_from_config(config: Any) -> AutonomySettings:
    """Return the settings of ``config``'s ``[engines.autonomy]`` table."""
    return load_settings(config.engine("autonomy"), config.platforms())
