"""Compare environments with each other: the pure heart of ``genesis sync`` across environments.

Within an environment every instance must agree (``reconcile``).  Across
environments only two things are checked:

* **missing**: a key that some environment holds (on any of its instances, in that
  instance's scope) and that no instance of another environment holds in scope is
  missing in that other environment;
* **conflicts**: for keys matching ``same_everywhere`` only, each environment's value
  is compared.  An environment's value is its reference's readable value when it has
  a reference holding the key, else the one readable value all its holders agree on;
  an environment whose holders disagree (already drift inside it) or whose value is
  unreadable is not compared.  Values are shown with the same secret masking as
  ``reconcile``.

No other value is ever compared across environments.  The function does no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from .reconciliation import ReconcileOptions, _process_policy
from .scope import Scope
from .secrets import compile_patterns

__all__ = ["AcrossReport", "reconcile_across"]


@attrs.frozen
class AcrossReport:
    """The result of comparing environments; ``to_dict()`` is the ``across`` object of ``genesis sync --json``."""

    verified_at: str
    environments: tuple[str, ...]
    missing: Mapping[str, tuple[str, ...]]
    conflicts: Mapping[str, Mapping[str, str]]
    drift_count: int

    @property
    def has_drift(self) -> bool:
        """Return whether any key is missing in an environment or any shared value differs."""
        return self.drift_count > 0

    def present(self, key: str) -> dict[str, bool]:
        """Return ``{environment: holds key}`` for a key listed as missing somewhere (the matrix row)."""
        return {env: key not in self.missing.get(env, ()) for env in self.environments}

    def matrix_keys(self) -> list[str]:
        """Return every key missing in at least one environment, sorted."""
        return sorted({key for keys in self.missing.values() for key in keys})

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"missing": {env: [keys]}, "conflicts": {key: {env: shown}}, "drift_count": n}``."""
        return {"missing": {env: list(self.missing.get(env, ())) for env in self.environments},
                "conflicts": {key: dict(shown) for key, shown in self.conflicts.items()},
                "drift_count": self.drift_count}

    def payload(self) -> dict[str, Any]:
        """Return the ``envsync.cross_drift`` payload: ``to_dict()`` plus when, whether and which environments."""
        return {"verified_at": self.verified_at, "has_drift": self.has_drift,
                "environments": list(self.environments), **self.to_dict()}


def _representative(values: list[str], reference_value: str | None) -> str | None:
    if reference_value is not None:
        return reference_value
    distinct = set(values)
    return distinct.pop() if len(distinct) == 1 else None


def reconcile_across(environments: Mapping[str, Mapping[str, Mapping[str, str | None]]],
                     options: ReconcileOptions | None = None, *, same_everywhere: Iterable[str] = (),
                     references: Mapping[str, str | None] | None = None,
                     now: str | None = None) -> AcrossReport:
    """Return what differs across ``{environment: {instance: {key: value_or_None}}}``.

    ``options`` carries the scope rules of every instance and the secret policy;
    ``references`` maps an environment to its reference instance (optional);
    ``same_everywhere`` are the key patterns whose values are compared.
    """
    options = options or ReconcileOptions()
    policy = options.secret_policy or _process_policy()
    scope = Scope(options)
    shared = compile_patterns(tuple(same_everywhere))
    references = references or {}
    names = tuple(environments)
    held: dict[str, set[str]] = {}
    for env, instances in environments.items():
        keys: set[str] = set()
        for instance, values in instances.items():
            keys |= scope.keys(instance, values)
        held[env] = keys
    everywhere: set[str] = set().union(*held.values()) if held else set()
    missing = {env: tuple(sorted(everywhere - held[env])) for env in names}

    conflicts: dict[str, dict[str, str]] = {}
    candidates = sorted(key for key in everywhere if shared is not None and shared.match(key))
    for key in candidates:
        chosen: dict[str, str] = {}
        marked = False
        for env, instances in environments.items():
            readable: list[str] = []
            for instance, values in instances.items():
                value = values.get(key)
                if value is None or not scope.allows(instance, key):
                    continue
                readable.append(value)
                marked = marked or key in options.platform_secret_keys.get(instance, ())
            reference = references.get(env)
            ref_value = None
            if reference is not None and reference in instances and scope.allows(reference, key):
                ref_value = instances[reference].get(key)
            value = _representative(readable, ref_value)
            if value is not None:
                chosen[env] = value
        if len(set(chosen.values())) < 2:
            continue
        secret = policy.any_secret(key, set(chosen.values()), platform_marked=marked)
        conflicts[key] = {env: policy.fingerprint(value) if secret else value for env, value in chosen.items()}

    if now is None:
        from .bus.envelope import utc_now

        now = utc_now()
    drift_count = sum(map(len, missing.values())) + len(conflicts)
    return AcrossReport(now, names, missing, conflicts, drift_count)
