"""A drift (or commit) event read defensively into the fields a report shows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from ..bus.envelope import RESERVED_KEYS
from ..bus.topics import CROSS_TOPIC, DRIFT_TOPIC, ERROR_TOPIC
from ..platforms.model import Expansion

_COUNT_SUFFIX = "_count"
_SUMMARY_TOTALS = frozenset({"total_keys", "drift_count"})


@attrs.frozen
class PlatformRow:
    """One instance's line in the platforms table."""

    name: str
    kind: str | None
    status: str
    keys: int | None
    seconds: float | None
    error: str | None
    missing: int


@attrs.frozen
class DriftView:
    """What a report shows about one ``envsync.drift``/``envsync.commit`` event."""

    topic: str
    seq: int | None
    event_id: str | None
    timestamp: str | None
    verified_at: str | None
    has_drift: bool
    drift_count: int | None
    total_keys: int | None
    platforms: tuple[PlatformRow, ...]
    missing: Mapping[str, tuple[str, ...]]
    conflicts: Mapping[str, Mapping[str, str]]
    payload: Mapping[str, Any]
    errors: Mapping[str, str] = attrs.Factory(dict)
    #: The environment this event is about (``[environments.NAME]``), if any.
    environment: str | None = None
    #: An ``envsync.cross_drift`` event: the rows are environments, not platforms.
    across: bool = False
    #: ``{instance: {key: expansion}}`` for the values that came from ``${VAR}`` expansion.
    expanded: Mapping[str, Mapping[str, Expansion]] = attrs.Factory(dict)

    def expansion_notes(self) -> list[tuple[str, str, str]]:
        """Return ``(instance, key, "expanded from ${...}")`` for each expanded value that is missing
        elsewhere or conflicting."""
        drifted = set(self.conflicts).union(*self.missing.values())
        return expansion_notes(self.expanded, drifted)

    @property
    def instances(self) -> tuple[str, ...]:
        """Return the instance names in report order."""
        return tuple(row.name for row in self.platforms)

    @property
    def status(self) -> str:
        """Return ``error``, ``drift`` or ``parity``."""
        if self.errors:
            return "error"
        return "drift" if self.has_drift else "parity"

    @property
    def label(self) -> str:
        """Return the file-name label of this event: its seq, else its id."""
        if self.seq is not None:
            return str(self.seq)
        return "".join(ch for ch in (self.event_id or "unknown") if ch.isalnum() or ch in "-_")[:64]


def expansion_notes(expanded: Mapping[str, Mapping[str, Expansion]],
                    keys: set[str]) -> list[tuple[str, str, str]]:
    """Return ``(instance, key, description)`` for the expanded values of ``keys``, by instance then key."""
    return [(name, key, expansions[key].describe())
            for name, expansions in expanded.items() for key in sorted(expansions) if key in keys]


def _expanded(raw: Any) -> dict[str, dict[str, Expansion]]:
    """Return the ``expanded`` field of a payload as ``{instance: {key: Expansion}}``, skipping odd items."""
    found: dict[str, dict[str, Expansion]] = {}
    for item in raw if isinstance(raw, list) else ():
        if not isinstance(item, Mapping) or not isinstance(item.get("instance"), str) \
                or not isinstance(item.get("key"), str):
            continue
        keys, environment, unset = item.get("keys"), item.get("environment"), _int(item.get("unset"))
        found.setdefault(item["instance"], {})[item["key"]] = Expansion(
            keys=[n for n in keys if isinstance(n, str)] if isinstance(keys, list) else (),
            environment=[n for n in environment if isinstance(n, str)] if isinstance(environment, list) else (),
            unset=unset if unset is not None and unset > 0 else 0)
    return found


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _instances(payload: Mapping[str, Any], summary: Mapping[str, Any],
               platforms: Mapping[str, Any]) -> list[str]:
    names: list[str] = []
    listed = payload.get("instances")
    if isinstance(listed, list):
        names.extend(n for n in listed if isinstance(n, str))
    names.extend(n for n in platforms if isinstance(n, str))
    names.extend(k[len("missing_in_"):] for k in payload
                 if isinstance(k, str) and k.startswith("missing_in_") and len(k) > len("missing_in_"))
    names.extend(k[:-len(_COUNT_SUFFIX)] for k in summary if isinstance(k, str)
                 and k.endswith(_COUNT_SUFFIX) and k not in _SUMMARY_TOTALS and len(k) > len(_COUNT_SUFFIX))
    return list(dict.fromkeys(names))


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}



def _across_view(event: Mapping[str, Any], payload: dict[str, Any]) -> DriftView:
    """Return the view of an ``envsync.cross_drift`` event: one row per environment."""
    listed = payload.get("environments")
    raw_missing = _mapping(payload.get("missing"))
    names = [n for n in listed if isinstance(n, str)] if isinstance(listed, list) else []
    names += [n for n in raw_missing if isinstance(n, str) and n not in names]
    missing = {name: tuple(str(k) for k in raw_missing[name]) if isinstance(raw_missing.get(name), list) else ()
               for name in names}
    rows = tuple(PlatformRow(name, None, "ok", None, None, None, len(missing[name])) for name in names)
    conflicts: dict[str, dict[str, str]] = {}
    if isinstance(payload.get("conflicts"), Mapping):
        for key, shown in payload["conflicts"].items():
            if isinstance(shown, Mapping):
                conflicts[str(key)] = {str(n): "" if v is None else str(v) for n, v in shown.items()}
    has_drift = payload.get("has_drift")
    drift_count = _int(payload.get("drift_count"))
    return DriftView(
        topic=CROSS_TOPIC, seq=_int(event.get("_genesis_seq")), event_id=_str(event.get("_genesis_id")),
        timestamp=_str(event.get("_genesis_timestamp")), verified_at=_str(payload.get("verified_at")),
        has_drift=has_drift if isinstance(has_drift, bool) else bool(drift_count),
        drift_count=drift_count, total_keys=None, platforms=rows, missing=missing, conflicts=conflicts,
        payload=payload, across=True)


def build_view(event: Mapping[str, Any]) -> DriftView:
    """Return the view of an event (already masked); tolerant of missing or odd fields."""
    payload = {k: v for k, v in event.items() if k not in RESERVED_KEYS}
    if event.get("_genesis_topic") == CROSS_TOPIC:
        return _across_view(event, payload)
    summary = _mapping(payload.get("summary"))
    platforms_raw = _mapping(payload.get("platforms"))
    missing: dict[str, tuple[str, ...]] = {}
    rows = []
    for name in _instances(payload, summary, platforms_raw):
        listed = payload.get(f"missing_in_{name}")
        missing[name] = tuple(str(k) for k in listed) if isinstance(listed, list) else ()
        info = _mapping(platforms_raw.get(name))
        seconds = info.get("seconds")
        rows.append(PlatformRow(
            name=name,
            kind=_str(info.get("kind")),
            status=_str(info.get("status")) or "ok",
            keys=_int(summary.get(f"{name}_count")) if _int(info.get("keys")) is None else _int(info.get("keys")),
            seconds=float(seconds) if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) else None,
            error=_str(info.get("error")),
            missing=len(missing[name]),
        ))
    conflicts: dict[str, dict[str, str]] = {}
    raw_conflicts = payload.get("conflicts")
    if isinstance(raw_conflicts, Mapping):
        for key, shown in raw_conflicts.items():
            if isinstance(shown, Mapping):
                conflicts[str(key)] = {str(n): "" if v is None else str(v) for n, v in shown.items()}
    topic = _str(event.get("_genesis_topic")) or (
        ERROR_TOPIC if payload.get("type") == "sync_error" else DRIFT_TOPIC)
    raw_errors = payload.get("errors")
    errors = ({str(n): "" if e is None else str(e) for n, e in raw_errors.items()}
              if isinstance(raw_errors, Mapping) else {})
    has_drift = payload.get("has_drift")
    return DriftView(
        topic=topic,
        seq=_int(event.get("_genesis_seq")),
        event_id=_str(event.get("_genesis_id")),
        timestamp=_str(event.get("_genesis_timestamp")),
        verified_at=_str(payload.get("verified_at")),
        has_drift=has_drift if isinstance(has_drift, bool) else topic == DRIFT_TOPIC,
        errors=errors,
        drift_count=_int(summary.get("drift_count")),
        total_keys=_int(summary.get("total_keys")),
        platforms=tuple(rows),
        missing=missing,
        conflicts=conflicts,
        payload=payload,
        environment=_str(payload.get("environment")),
        expanded=_expanded(payload.get("expanded")),
    )
