"""Alert thresholds and the circuit breaker that suspends automatic healing.

* more than ``alert_threshold`` drifted variables in one ``envsync.drift``
  (``summary.drift_count``), or
* more than ``frequency_limit`` ``envsync.drift`` events in the last
  ``window_seconds`` (counted from the bus's *persisted* history, so every
  process sees the same count), or
* ``max_consecutive_failures`` failed heals in a row

trip the breaker: automatic healing stops until a person runs ``genesis heal
--apply`` (which resets it) or ``window_seconds`` have passed since it tripped.
The state lives in ``state_dir/autonomy/breaker.json``, written atomically.
Every function takes its time from an injectable clock (``time.time`` by default).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import attrs

Clock = Callable[[], float]

DRIFT_ALERT_THRESHOLD = 10   # the seed's default: alert if more than 10 variables drifted
DRIFT_FREQUENCY_LIMIT = 5    # the seed's default: alert if drift is detected more than 5 times an hour
REASON_DRIFT_COUNT = "drift_count"
REASON_FREQUENCY = "frequency"
REASON_FAILURES = "consecutive_failures"
BREAKER_FILE = "breaker.json"


@attrs.frozen
class Thresholds:
    """When to alert and suspend automatic healing."""

    alert_threshold: int = DRIFT_ALERT_THRESHOLD
    frequency_limit: int = DRIFT_FREQUENCY_LIMIT
    window_seconds: float = 3600.0
    max_consecutive_failures: int = 3


@attrs.frozen
class Alert:
    """Why automatic healing must stop: the ``autonomy.alert`` payload's facts."""

    reason: str
    message: str
    drift_count: int
    occurrences: int
    window: float

    def to_dict(self) -> dict[str, Any]:
        """Return the ``autonomy.alert`` payload (no values, only counts)."""
        return {"reason": self.reason, "message": self.message, "drift_count": self.drift_count,
                "occurrences": self.occurrences, "window": self.window}


def parse_timestamp(text: object) -> float | None:
    """Return the epoch seconds of an RFC 3339 timestamp (``...Z``), ``None`` if it is not one."""
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.UTC)
    return moment.timestamp()


def count_recent(timestamps: Iterable[object], *, now: float, window: float,
                 since: float | None = None) -> int:
    """Return how many ``timestamps`` fall in ``(now - window, now]`` and after ``since``."""
    start = now - window
    if since is not None:
        start = max(start, since)
    count = 0
    for text in timestamps:
        moment = parse_timestamp(text)
        if moment is not None and start < moment <= now + 1.0:  # 1 s of tolerance for clock skew
            count += 1
    return count


def drift_timestamps(bus: Any, *, limit: int = 10_000, topic: str = "envsync.drift") -> list[str]:
    """Return the timestamps of the newest ``limit`` stored ``topic`` events, oldest first."""
    history = getattr(bus, "history", None)
    if history is not None:
        return [envelope.timestamp for envelope in history(topic=topic, limit=limit)]
    return [str(event.get("_genesis_timestamp", "")) for event in bus.get_event_history(limit=limit, topic=topic)]


def assess(drift_count: int, occurrences: int, thresholds: Thresholds) -> Alert | None:
    """Return the alert one drift event deserves (``None`` when it stays within the thresholds)."""
    window = thresholds.window_seconds
    if drift_count > thresholds.alert_threshold:
        return Alert(REASON_DRIFT_COUNT,
                     f"{drift_count} variables drifted (alert_threshold is {thresholds.alert_threshold})",
                     drift_count, occurrences, window)
    if occurrences > thresholds.frequency_limit:
        return Alert(REASON_FREQUENCY,
                     f"drift detected {occurrences} times in the last {window:g} s "
                     f"(frequency_limit is {thresholds.frequency_limit})",
                     drift_count, occurrences, window)
    return None


# ---------------------------------------------------------------- the circuit breaker

@attrs.frozen
class BreakerState:
    """What ``breaker.json`` holds. Times are epoch seconds."""

    open: bool = False
    reason: str = ""
    message: str = ""
    opened_at: float | None = None
    until: float | None = None
    consecutive_failures: int = 0
    reset_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return attrs.asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> BreakerState:
        """Return the state in ``data``; anything unreadable is treated as a tripped breaker (fail closed)."""
        if not isinstance(data, dict):
            return cls(open=True, reason="corrupt", message="breaker state unreadable")
        try:
            return cls(
                open=bool(data.get("open", False)),
                reason=str(data.get("reason", "")),
                message=str(data.get("message", "")),
                opened_at=_opt_float(data.get("opened_at")),
                until=_opt_float(data.get("until")),
                consecutive_failures=int(data.get("consecutive_failures", 0)),
                reset_at=_opt_float(data.get("reset_at")),
            )
        except (TypeError, ValueError):
            return cls(open=True, reason="corrupt", message="breaker state unreadable")


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


class CircuitBreaker:
    """The persisted breaker of one state dir; ``clock`` returns epoch seconds."""

    def __init__(self, state_dir: Path, thresholds: Thresholds, *, clock: Clock = time.time) -> None:
        self.dir = Path(state_dir) / "autonomy"
        self.path = self.dir / BREAKER_FILE
        self.thresholds = thresholds
        self.clock = clock

    # -- storage
    def _read(self) -> BreakerState:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return BreakerState()
        try:
            return BreakerState.from_dict(json.loads(text))
        except ValueError:
            return BreakerState.from_dict(None)

    def _write(self, state: BreakerState) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_name(f".{BREAKER_FILE}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
        try:
            with open(temp, "w", encoding="utf-8") as handle:
                json.dump(state.to_dict(), handle, sort_keys=True, indent=2)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self.path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold an exclusive lock on ``breaker.lock`` for a read-modify-write (POSIX; best effort elsewhere)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            yield
            return
        with open(self.dir / "breaker.lock", "a+") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    # -- queries
    def state(self) -> BreakerState:
        """Return the current state; an open breaker whose window has passed reads as closed."""
        state = self._read()
        if state.open and state.until is not None and self.clock() >= state.until:
            return attrs.evolve(state, open=False, reason="", message="", opened_at=None, until=None)
        return state

    def is_open(self) -> bool:
        """Return whether automatic healing is suspended now."""
        return self.state().open

    def counting_since(self) -> float | None:
        """Return when drift frequency starts counting: the last manual reset, if any."""
        return self.state().reset_at

    # -- changes
    def trip(self, alert: Alert) -> BreakerState:
        """Open the breaker for ``window_seconds`` because of ``alert``; return the new state."""
        with self._locked():
            now = self.clock()
            state = attrs.evolve(self.state(), open=True, reason=alert.reason, message=alert.message,
                                 opened_at=now, until=now + self.thresholds.window_seconds)
            self._write(state)
            return state

    def record_success(self) -> BreakerState:
        """Clear the failure count after a heal whose every write was verified."""
        with self._locked():
            state = attrs.evolve(self.state(), consecutive_failures=0)
            self._write(state)
            return state

    def record_failure(self) -> tuple[BreakerState, bool]:
        """Count one failed heal; return the new state and whether this failure reached the limit."""
        with self._locked():
            state = self.state()
            failures = state.consecutive_failures + 1
            state = attrs.evolve(state, consecutive_failures=failures)
            self._write(state)
            return state, failures >= self.thresholds.max_consecutive_failures and not state.open

    def reset(self) -> BreakerState:
        """Close the breaker and clear the failure count (a person ran ``genesis heal --apply``)."""
        with self._locked():
            state = BreakerState(reset_at=self.clock())
            self._write(state)
            return state
