"""Check write-only values against the records Genesis kept when it wrote them.

For every value a platform will not return (``Variable.value is None``) that has
a :class:`~genesis_core.writerecords.WriteRecord`:

* the platform's change stamp differs from the recorded one: **changed outside
  Genesis** at that time (drift: a conflict on the key);
* else the reference's current value (or, without a reference, every readable
  value in the environment) has another keyed fingerprint than the one written:
  **stale** (a conflict on the key);
* else, when the platform stamps changes: **verified by record**.

Everything else stays as before: present, value unknown (**unverified**), and
counted so ``genesis sync`` can say how many such keys it could not check.
The functions here do no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from .reconciliation import DriftReport, ReconcileOptions, _process_policy
from .scope import Scope
from .secrets import MASKED_UNREADABLE, VERIFIED_MARK, changed_mark, stale_mark

if TYPE_CHECKING:
    from .platforms.model import Snapshot
    from .secrets import SecretPolicy
    from .writerecords import WriteRecord

__all__ = ["CHANGED", "STALE", "UNVERIFIED", "VERIFIED", "WriteOnlyCheck", "apply_checks", "check_write_only"]

VERIFIED = "verified"
STALE = "stale"
CHANGED = "changed_outside"
UNVERIFIED = "unverified"
NO_RECORD = "no write record"
NO_STAMP = "the platform gives no change stamp"

#: A change stamp that may be shown: an RFC 3339 date-time.  A stamp is the platform's own
#: text (compared for equality only), so anything else is never shown, in case it holds a value.
_SHOWN_STAMP = re.compile(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:[Zz]|[+-]\d\d:\d\d)")


def shown_stamp(stamp: str | None) -> str | None:
    """Return ``stamp`` if it is an RFC 3339 date-time, else ``None`` (shown as unknown)."""
    return stamp if stamp is not None and _SHOWN_STAMP.fullmatch(stamp) else None


@attrs.frozen
class WriteOnlyCheck:
    """What the record says about one unreadable value (no value, no fingerprint inside)."""

    instance: str
    key: str
    status: str
    written_at: str | None = None
    #: ``stale``: when a sync first saw the reference differ; ``changed_outside``: the platform's stamp
    #: (compared only; shown only when it is a time, see ``shown_stamp``).
    since: str | None = None
    #: ``unverified``: why (no record, recorded under another key or for another target, no stamps).
    reason: str = ""

    @property
    def drift(self) -> bool:
        """Return whether this check is drift (stale, or changed outside Genesis)."""
        return self.status in (STALE, CHANGED)

    @property
    def adoptable(self) -> bool:
        """Return whether writing the reference value once would make this value verifiable.

        True for an unverified value whose record is missing or unusable; false when the
        platform gives no change stamp (a record could not verify it either).
        """
        return self.status == UNVERIFIED and self.reason != NO_STAMP

    @property
    def mark(self) -> str:
        """Return how the value is shown in a table: ``<secret ✓>``, the stale or changed mark, or ``<secret>``."""
        if self.status == VERIFIED:
            return VERIFIED_MARK
        if self.status == STALE:
            return stale_mark(self.since)
        if self.status == CHANGED:
            return changed_mark(shown_stamp(self.since))
        return MASKED_UNREADABLE

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (``"verified_by": "write-record"`` for a verified value)."""
        data: dict[str, Any] = {"instance": self.instance, "key": self.key, "status": self.status,
                                "written_at": self.written_at}
        if self.status == VERIFIED:
            data["verified_by"] = "write-record"
        elif self.status == STALE:
            data["stale_since"] = self.since
        elif self.status == CHANGED:
            data["changed_at"] = shown_stamp(self.since)
        else:
            data["reason"] = self.reason
        return data


def check_write_only(snapshots: Mapping[str, Snapshot], records: Mapping[tuple[str, str], WriteRecord], *,
                     policy: SecretPolicy, options: ReconcileOptions | None = None,
                     targets: Mapping[str, str] | None = None, reference: str | None = None,
                     now: str) -> list[WriteOnlyCheck]:
    """Return one check per in-scope unreadable value of ``snapshots`` (instances of one environment).

    ``records`` are the write records of these instances; ``targets`` each instance's
    ``describe()`` now (a record made for another target does not apply); ``reference``
    the environment's reference instance, if any; ``now`` is when a staleness first seen
    is dated.
    """
    scope = Scope(options)
    targets = targets or {}
    readable: dict[str, dict[str, str]] = {}
    for name, snap in snapshots.items():
        for key, var in snap.variables.items():
            if var.value is not None and scope.allows(name, key):
                readable.setdefault(key, {})[name] = var.value
    checks: list[WriteOnlyCheck] = []
    for name, snap in snapshots.items():
        for key, var in snap.variables.items():
            if var.value is not None or not scope.allows(name, key):
                continue
            record = records.get((name, key))
            if record is None:
                # Without a change stamp even a record could not verify it: not worth adopting.
                checks.append(WriteOnlyCheck(name, key, UNVERIFIED, reason=NO_RECORD if var.stamp else NO_STAMP))
                continue
            why = _unusable(record, policy, targets.get(name))
            if why is not None:
                checks.append(WriteOnlyCheck(name, key, UNVERIFIED, record.written_at, reason=why))
                continue
            if record.stamp is not None and var.stamp != record.stamp:
                checks.append(WriteOnlyCheck(name, key, CHANGED, record.written_at, since=var.stamp))
                continue
            values = readable.get(key, {})
            compared = [values[reference]] if reference in values else list(values.values())
            if compared and record.fingerprint not in {policy.record_fingerprint(v) for v in compared}:
                checks.append(WriteOnlyCheck(name, key, STALE, record.written_at, since=record.stale_since or now))
            elif record.stamp is None:
                checks.append(WriteOnlyCheck(name, key, UNVERIFIED, record.written_at, reason=NO_STAMP))
            else:
                checks.append(WriteOnlyCheck(name, key, VERIFIED, record.written_at))
    return checks


def _unusable(record: WriteRecord, policy: SecretPolicy, target: str | None) -> str | None:
    if record.key_id != policy.key_id:
        return "recorded under another fingerprint key"
    if target is not None and record.target != target:
        return f"recorded for {record.target}"
    return None


def apply_checks(report: DriftReport, checks: Iterable[WriteOnlyCheck],
                 snapshots: Mapping[str, Mapping[str, str | None]],
                 options: ReconcileOptions | None = None) -> DriftReport:
    """Return ``report`` with the checks in it: a stale or changed value is a conflict on its key,
    shown with its mark; a verified value in a conflict row is shown as ``<secret ✓>``."""
    checks = list(checks)
    if not checks:
        return report
    options = options or ReconcileOptions()
    policy = options.secret_policy or _process_policy()
    scope = Scope(options)
    conflicts = {key: dict(shown) for key, shown in report.conflicts.items()}
    marks = {(c.instance, c.key): c.mark for c in checks if c.status != UNVERIFIED}
    for check in checks:
        if not check.drift or check.key in conflicts:
            continue
        holders = {name: values[check.key] for name, values in snapshots.items()
                   if check.key in values and scope.allows(name, check.key)}
        readable = {value for value in holders.values() if value is not None}
        marked = any(value is not None and check.key in options.platform_secret_keys.get(name, ())
                     for name, value in holders.items())
        secret = bool(readable) and policy.any_secret(check.key, readable, platform_marked=marked)
        conflicts[check.key] = {
            name: MASKED_UNREADABLE if value is None else policy.fingerprint(value) if secret else value
            for name, value in sorted(holders.items())}
    for key, shown in conflicts.items():
        for name in shown:
            if (name, key) in marks:
                shown[name] = marks[(name, key)]
    conflicts = dict(sorted(conflicts.items()))
    drift_count = report.drift_count + len(conflicts) - len(report.conflicts)
    unverified: dict[str, list[str]] = {}
    for check in checks:
        if check.adoptable:
            unverified.setdefault(check.instance, []).append(check.key)
    return attrs.evolve(report, conflicts=conflicts, drift_count=drift_count, has_drift=drift_count > 0,
                        write_only=tuple(c for c in checks if c.status != UNVERIFIED),
                        unverified={name: tuple(sorted(keys)) for name, keys in unverified.items()})
