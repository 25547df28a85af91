"""Heals that stopped half-way (``kill -9``, a crash, a power cut), and what they had already written.

While a heal writes, each write the platform confirmed is published as ``autonomy.heal.write``
at once, before the next write to that instance: ``heal_id``, instance, key, action and the
value's keyed fingerprint, never the value.  A heal that finishes publishes
``autonomy.heal.applied``/``failed`` with the same ``heal_id``, and holds a lock file
(``state_dir/autonomy/running/<heal_id>.lock``, ``flock``) from its first write until those are
published; the kernel releases it when the process dies.

So a heal with write events, no result and no held lock was interrupted: :func:`find_interrupted`
returns what it wrote, ``genesis heal`` lists it, and ``genesis heal --apply`` closes it with an
``autonomy.heal.failed`` event (``status: "interrupted"``) so the audit trail, and the Truth
ledger, hold every write that was made.  The lock is only seen on this machine: a heal running
on another machine sharing the bus (NATS) looks interrupted until it publishes its result.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from genesis_core.api import SecretPolicy

    from .apply import KeyResult, WriteRecorder
    from .plan import HealPlan, ReferenceValues

WRITE = "autonomy.heal.write"
RESULT_TOPICS = ("autonomy.heal.applied", "autonomy.heal.failed")
INTERRUPTED = "interrupted"
#: How many of the newest write and result events are searched for an interrupted heal.
HISTORY_LIMIT = 10_000


class WriteNotRecorded(RuntimeError):
    """The ``autonomy.heal.write`` event of a confirmed write was not stored: no further write may go."""


@attrs.frozen
class WrittenKey:
    """One confirmed write of an interrupted heal, as its event recorded it (no value)."""

    instance: str
    key: str
    action: str
    fingerprint: str
    at: str

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {"instance": self.instance, "key": self.key, "action": self.action,
                "fingerprint": self.fingerprint, "at": self.at}


@attrs.frozen
class InterruptedHeal:
    """A heal that wrote and never published its result: what it wrote, in the order it wrote it."""

    heal_id: str
    trigger: str
    reference: str
    writes: tuple[WrittenKey, ...]
    where: Mapping[str, Any] = attrs.field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (``genesis heal --json``)."""
        return {"heal_id": self.heal_id, "trigger": self.trigger, **self.where, "reference": self.reference,
                "writes": [w.to_dict() for w in self.writes]}

    def closing_payload(self, *, closed_by: str) -> dict[str, Any]:
        """Return the ``autonomy.heal.failed`` payload that records this heal as interrupted."""
        results = [{"instance": w.instance, "key": w.key, "action": w.action, "status": INTERRUPTED,
                    "detail": f"written at {w.at}, before the heal was interrupted; not verified by it",
                    "written": True} for w in self.writes]
        return {"heal_id": self.heal_id, "trigger": self.trigger, **self.where, "reference": self.reference,
                "status": INTERRUPTED, "closed_by": closed_by, "counts": {INTERRUPTED: len(results)},
                "results": results}


# -- recording writes as they happen ---------------------------------------------------------------

def write_payload(plan: HealPlan, result: KeyResult, fingerprint: str, *, heal_id: str, trigger: str,
                  source_event: str | None = None) -> dict[str, Any]:
    """Return the ``autonomy.heal.write`` payload of one confirmed write: names and a fingerprint."""
    payload: dict[str, Any] = {"heal_id": heal_id, "trigger": trigger, **plan.environment_fields(),
                               "reference": plan.reference, "instance": result.instance, "key": result.key,
                               "action": result.action, "fingerprint": fingerprint}
    if source_event is not None:
        payload["source_event"] = source_event
    return payload


def write_recorder(bus: Any, plan: HealPlan, values: ReferenceValues, *, heal_id: str, trigger: str,
                   role: str | None, policy: SecretPolicy, source_event: str | None = None) -> WriteRecorder:
    """Return the ``on_write`` callback that publishes each confirmed write as ``autonomy.heal.write``.

    It raises :class:`WriteNotRecorded` when the event is not stored (the Guardian blocked it),
    which stops further writes to that instance: no write goes unrecorded after that.
    """
    async def record(result: KeyResult) -> None:
        payload = write_payload(plan, result, policy.fingerprint(values[result.key]), heal_id=heal_id,
                                trigger=trigger, source_event=source_event)
        published = await bus.publish(WRITE, policy.mask_payload(payload), role=role)
        if published.status != "delivered":
            raise WriteNotRecorded(f"{WRITE} was not stored: {published.reason}")

    return record


# -- the lock of a running heal ----------------------------------------------------------------------

def _lock_path(state_dir: Path, heal_id: str) -> Path:
    return state_dir / "autonomy" / "running" / f"{heal_id}.lock"


@contextlib.contextmanager
def running(state_dir: Path, heal_id: str) -> Iterator[None]:
    """Hold ``heal_id``'s lock while the heal writes and publishes its results (POSIX ``flock``)."""
    path = _lock_path(state_dir, heal_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")  # noqa: SIM115 - held until the heal is over
    try:
        with contextlib.suppress(ImportError):
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        handle.close()


def is_running(state_dir: Path, heal_id: str) -> bool:
    """Return whether a process on this machine still holds ``heal_id``'s lock."""
    path = _lock_path(state_dir, heal_id)
    try:
        handle = open(path)  # noqa: SIM115
    except OSError:
        return False
    with handle:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: a lock file left behind means running
            return True
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    with contextlib.suppress(OSError):
        os.unlink(path)  # left by a heal that died
    return False


# -- finding interrupted heals ---------------------------------------------------------------------

def _events(bus: Any, topic: str) -> list[dict[str, Any]]:
    """Return the newest stored ``topic`` events (delivered form), oldest first."""
    return list(bus.get_event_history(limit=HISTORY_LIMIT, topic=topic))


def _finished(bus: Any) -> set[str]:
    """Return the ids of the heals that published a result."""
    return {str(event.get("heal_id")) for topic in RESULT_TOPICS for event in _events(bus, topic)}


def find_interrupted(bus: Any, state_dir: Path) -> list[InterruptedHeal]:
    """Return the heals whose confirmed writes were published but whose result never was, oldest first.

    A heal still running on this machine (it holds its lock) is not one of them.
    """
    by_heal: dict[str, list[dict[str, Any]]] = {}
    for event in _events(bus, WRITE):
        heal_id = event.get("heal_id")
        if isinstance(heal_id, str):
            by_heal.setdefault(heal_id, []).append(event)
    if not by_heal:
        return []
    finished = _finished(bus)
    candidates = [h for h in by_heal if h not in finished and not is_running(state_dir, h)]
    if candidates:
        finished = _finished(bus)  # a heal that ended between the two looks published its result first
    found = []
    for heal_id in candidates:
        if heal_id in finished:
            continue
        events = by_heal[heal_id]
        first = events[0]
        where = {k: first[k] for k in ("environment", "across_from") if isinstance(first.get(k), str)}
        writes = tuple(WrittenKey(str(e.get("instance", "")), str(e.get("key", "")), str(e.get("action", "")),
                                  str(e.get("fingerprint", "")), str(e.get("_genesis_timestamp", "")))
                       for e in events)
        found.append(InterruptedHeal(heal_id, str(first.get("trigger", "")), str(first.get("reference", "")),
                                     writes, where))
    return found
