"""What an expanded value was built from: its :class:`Expansion`, and whether it carries a secret.

A value like ``postgres://app:${DB_PASSWORD}@db/app`` holds the password once
expanded, whatever its own name says.  The dotenv platform marks such a variable
secret (the platform's mark, so every view shows a fingerprint) when a name it was
built from, directly or through other expanded keys, is secret by Genesis's default
rules: a secret-looking name, or a value that looks like a credential
(:func:`carried_secrets`).  A sync adds the project's own ``[secrets]`` rules
(:func:`built_from_secrets`).  Only names are kept; values are looked at, never stored.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from .dotenv_dialects import FROM_ENVIRONMENT, FROM_FILES, UNSET, Entry, Reading
from .model import Expansion, Snapshot

if TYPE_CHECKING:
    from ..secrets import SecretPolicy


def expansion_of(entry: Entry) -> Expansion | None:
    """Return where ``entry``'s value came from, or ``None`` when it refers to nothing."""
    if not entry.references:
        return None
    return Expansion(keys=[r.name for r in entry.references if r.source == FROM_FILES],
                     environment=[r.name for r in entry.references if r.source == FROM_ENVIRONMENT],
                     unset=sum(1 for r in entry.references if r.source == UNSET))


@functools.cache
def _default_policy() -> SecretPolicy:
    """Return Genesis's default rules (the key only makes fingerprints, which are never made here)."""
    from ..secrets import SecretPolicy

    return SecretPolicy(fingerprint_key=os.urandom(32))


def carried_secrets(readings: Iterable[Reading], environ: Mapping[str, str] | None) -> frozenset[str]:
    """Return the keys whose last value was built from a secret (read in order, as the readers expand).

    ``environ`` is what expansion consulted (``None`` when it did not consult the environment).
    """
    policy = _default_policy()
    values: dict[str, str | None] = {}
    carried: dict[str, bool] = {}
    for reading in readings:
        for entry in reading.entries:
            found = False
            for reference in entry.references:
                if reference.source == FROM_FILES:
                    found = found or carried.get(reference.name, False) or policy.is_secret(
                        reference.name, values.get(reference.name))
                elif reference.source == FROM_ENVIRONMENT:
                    found = found or policy.is_secret(reference.name, (environ or {}).get(reference.name))
            carried[entry.key] = found
            values[entry.key] = entry.value
    return frozenset(key for key, found in carried.items() if found)


def built_from_secrets(snapshot: Snapshot, policy: SecretPolicy) -> frozenset[str]:
    """Return the keys of ``snapshot`` whose value was built from a key or environment name that
    ``policy`` calls secret, directly or through other expanded keys."""
    variables = snapshot.variables
    expanded = snapshot.expansions()
    found: set[str] = set()

    def secret(name: str) -> bool:
        var = variables.get(name)
        if var is None:
            return policy.is_secret_name(name)
        return name in found or var.secret or policy.is_secret(name, var.value)

    grew = bool(expanded)
    while grew:
        grew = False
        for key, expansion in expanded.items():
            if key not in found and (any(map(secret, expansion.keys))
                                     or any(map(policy.is_secret_name, expansion.environment))):
                found.add(key)
                grew = True
    return frozenset(found)
