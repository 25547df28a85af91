"""Check a schema against an ``envsync.*`` event (counts and missing keys) or against real values.

Events carry no values (only masked conflicts), so from an event Blueprint
checks what the payload allows: ``min_keys`` against ``summary.total_keys``
and required keys against the ``missing_in_<name>`` lists.  With snapshots
(``genesis blueprint check``) every rule is checked, values included.  A
failing value is shown through the secret policy: never in clear when it is
secret, and never at all for a key the schema marks ``secret = true``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from .schema import KeyRule, Schema
from .valuetypes import matches_type

if TYPE_CHECKING:
    from genesis_core.api import SecretPolicy, Variable

PRESENT, MISSING = "present", "missing"
_COUNT_SUFFIX = "_count"
_SUMMARY_TOTALS = frozenset({"total_keys", "drift_count"})


@attrs.frozen
class Violation:
    """One broken rule: which rule, key and instance, what was expected and what was found."""

    rule: str
    key: str | None
    instance: str | None
    expected: Any
    actual: Any

    def to_dict(self) -> dict[str, Any]:
        """Return the violation as it appears in ``blueprint.warning``."""
        return {"rule": self.rule, "key": self.key, "instance": self.instance,
                "expected": self.expected, "actual": self.actual}


@attrs.frozen
class CheckResult:
    """The outcome of one check: violations, plus values that could not be read to check them."""

    instances: tuple[str, ...]
    total_keys: int | None
    violations: tuple[Violation, ...] = ()
    unchecked: tuple[tuple[str, str], ...] = ()

    @property
    def ok(self) -> bool:
        """Return whether no rule is broken."""
        return not self.violations


def event_instances(payload: Mapping[str, Any]) -> tuple[str, ...]:
    """Return the instance names an ``envsync.*`` payload is about.

    ``instances`` when the payload carries it, else the names in
    ``missing_in_<name>``, else the ``<name>_count`` entries of ``summary``.
    """
    listed = payload.get("instances")
    if isinstance(listed, list) and all(isinstance(n, str) for n in listed):
        return tuple(listed)
    names = [key[len("missing_in_"):] for key in payload if isinstance(key, str)
             and key.startswith("missing_in_") and len(key) > len("missing_in_")]
    if names:
        return tuple(sorted(names))
    summary = payload.get("summary")
    if isinstance(summary, Mapping):
        return tuple(sorted(key[:-len(_COUNT_SUFFIX)] for key in summary
                            if isinstance(key, str) and key.endswith(_COUNT_SUFFIX)
                            and key not in _SUMMARY_TOTALS and len(key) > len(_COUNT_SUFFIX)))
    return ()


def _min_keys(schema: Schema, total: int | None) -> list[Violation]:
    if schema.min_keys is None or total is None or total >= schema.min_keys:
        return []
    return [Violation("min_keys", None, None, schema.min_keys, total)]


def check_event(schema: Schema, payload: Mapping[str, Any]) -> CheckResult:
    """Return the violations an ``envsync.drift``/``envsync.commit`` payload shows.

    A required key that no instance holds does not appear in any
    ``missing_in_*`` list, so only ``genesis blueprint check`` can see it.
    """
    instances = event_instances(payload)
    summary = payload.get("summary")
    total = summary.get("total_keys") if isinstance(summary, Mapping) else None
    if not isinstance(total, int) or isinstance(total, bool):
        total = None
    violations = _min_keys(schema, total)
    for instance in instances:
        missing_list = payload.get(f"missing_in_{instance}")
        if not isinstance(missing_list, list):
            continue
        missing = {key for key in missing_list if isinstance(key, str)}
        for key, rule in sorted(schema.required_on(instance).items()):
            if key in missing:
                violations.append(Violation(rule, key, instance, PRESENT, MISSING))
    return CheckResult(instances, total, tuple(violations))


def _shown(schema: Schema, policy: SecretPolicy, var: Variable) -> str:
    """Return how a failing value may be displayed: a fingerprint whenever it is secret."""
    assert var.value is not None
    if schema.is_secret(var.key):
        return policy.fingerprint(var.value)
    return policy.show(var.key, var.value, platform_marked=var.secret)


def _value_violations(rule: KeyRule, instance: str, value: str, shown: Callable[[], str]) -> list[Violation]:
    found = []
    if rule.type is not None and not matches_type(rule.type, value, rule.compiled):
        name = "regex" if rule.type == "regex" else "type"
        found.append(Violation(name, rule.key, instance, rule.expected_type(), shown()))
    if rule.one_of is not None and value not in rule.one_of:
        found.append(Violation("one_of", rule.key, instance, list(rule.one_of), shown()))
    return found


def check_variables(schema: Schema, variables: Mapping[str, Mapping[str, Variable]],
                    policy: SecretPolicy, *,
                    in_scope: Callable[[str, str], bool] | None = None) -> CheckResult:
    """Return every violation of ``schema`` by ``{instance: {key: Variable}}``.

    ``in_scope(instance, key)`` says whether a key belongs to an instance at
    all (a frontend-only key is not required on the backend); by default
    every key does.  Unreadable values cannot be checked and are listed in
    ``unchecked`` instead.
    """
    instances = tuple(sorted(variables))
    union: set[str] = set()
    for held in variables.values():
        union.update(held)
    violations = _min_keys(schema, len(union))
    for instance in instances:
        held = variables[instance]
        for key, rule_name in sorted(schema.required_on(instance).items()):
            if key not in held and (in_scope is None or in_scope(instance, key)):
                violations.append(Violation(rule_name, key, instance, PRESENT, MISSING))
    unchecked: list[tuple[str, str]] = []
    for key, rule in sorted(schema.keys.items()):
        if not rule.has_value_rule:
            continue
        for instance in instances:
            var = variables[instance].get(key)
            if var is None:
                continue
            if var.value is None:
                unchecked.append((key, instance))
                continue
            violations.extend(_value_violations(rule, instance, var.value,
                                                functools.partial(_shown, schema, policy, var)))
    return CheckResult(instances, len(union), tuple(violations), tuple(unchecked))


def warning_payload(result: CheckResult, schema: Schema, *, source: Mapping[str, Any]) -> dict[str, Any]:
    """Return the ``blueprint.warning`` payload for a failed check.

    ``expected``/``actual`` are the seed's fields (``min_keys`` and the key
    count); ``violations`` lists every broken rule; ``source`` says what was
    checked (the event's topic, seq and id, or ``blueprint check``).
    """
    return {
        "type": "schema_drift",
        "expected": schema.min_keys,
        "actual": result.total_keys,
        "violation_count": len(result.violations),
        "violations": [v.to_dict() for v in result.violations],
        "instances": list(result.instances),
        "schema": Path(schema.source).name if schema.source else None,
        "source": dict(source),
    }


def sort_violations(violations: Sequence[Violation]) -> list[Violation]:
    """Return violations ordered by key, instance and rule, for stable output."""
    return sorted(violations, key=lambda v: (v.key or "", v.instance or "", v.rule))

