"""Alert thresholds and the circuit breaker, with a fake clock and a real SQLite-backed bus history."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from genesis_autonomy.thresholds import (
    Alert,
    BreakerState,
    CircuitBreaker,
    Thresholds,
    assess,
    count_recent,
)

HOUR = 3600.0


def _config(tmp_path: Path, autonomy: str = "") -> Path:
    (tmp_path / ".env").write_text("A=1\n")
    path = tmp_path / "genesis.toml"
    path.write_text(textwrap.dedent("""\
        [platforms.local]
        kind = "dotenv"

        [engines.autonomy]
        """) + textwrap.dedent(autonomy))
    return path


# ---------------------------------------------------------------- pure parts

@pytest.mark.parametrize("drift_count, occurrences, reason", [
    (10, 5, None), (11, 1, "drift_count"), (0, 6, "frequency"), (11, 6, "drift_count"),
])
def test_assess_uses_the_seed_defaults(drift_count, occurrences, reason) -> None:
    alert = assess(drift_count, occurrences, Thresholds())
    assert (alert.reason if alert else None) == reason


def _stamp(at: float) -> str:
    import datetime as dt

    from genesis_core.api import format_time

    return format_time(dt.datetime.fromtimestamp(at, dt.UTC))


def test_count_recent_counts_only_the_window_and_after_a_reset() -> None:
    now = 1_760_000_000.0
    stamps = [_stamp(now - HOUR),  # the window is open at its start: not counted
              _stamp(now - HOUR + 1), _stamp(now - 600), "garbage", None, _stamp(now - 2 * HOUR)]
    assert count_recent(stamps, now=now, window=HOUR) == 2
    assert count_recent(stamps, now=now, window=HOUR, since=now - 1200) == 1


# ---------------------------------------------------------------- the breaker

def test_breaker_persists_across_instances_and_closes_when_the_window_passes(tmp_path: Path, fake_clock) -> None:
    breaker = CircuitBreaker(tmp_path, Thresholds(window_seconds=600), clock=fake_clock)
    assert not breaker.is_open()
    breaker.trip(Alert("frequency", "too often", 1, 6, 600))
    other = CircuitBreaker(tmp_path, Thresholds(window_seconds=600), clock=fake_clock)
    assert other.is_open() and other.state().reason == "frequency"
    stored = json.loads((tmp_path / "autonomy" / "breaker.json").read_text())
    assert stored["open"] is True and stored["until"] == fake_clock.now + 600
    fake_clock.advance(599)
    assert other.is_open()
    fake_clock.advance(1)
    assert not other.is_open()


def test_consecutive_failures_trip_and_a_success_clears_the_count(tmp_path: Path, fake_clock) -> None:
    breaker = CircuitBreaker(tmp_path, Thresholds(max_consecutive_failures=3), clock=fake_clock)
    assert breaker.record_failure()[1] is False
    assert breaker.record_failure()[1] is False
    breaker.record_success()
    assert [breaker.record_failure()[1] for _ in range(3)] == [False, False, True]


def test_manual_reset_closes_and_starts_counting_again(tmp_path: Path, fake_clock) -> None:
    breaker = CircuitBreaker(tmp_path, Thresholds(), clock=fake_clock)
    breaker.trip(Alert("drift_count", "many", 40, 1, HOUR))
    state = breaker.reset()
    assert not breaker.is_open() and state.reset_at == fake_clock.now and state.consecutive_failures == 0


def test_an_unreadable_breaker_file_fails_closed(tmp_path: Path, fake_clock) -> None:
    (tmp_path / "autonomy").mkdir()
    (tmp_path / "autonomy" / "breaker.json").write_text("{not json")
    assert CircuitBreaker(tmp_path, Thresholds(), clock=fake_clock).is_open()
    assert BreakerState.from_dict({"open": False, "until": "soon"}).open


# ---------------------------------------------------------------- the engine against a real history

def test_drift_more_than_frequency_limit_times_in_the_window_alerts_and_suspends(tmp_path, rig, fake_clock) -> None:
    r = rig(_config(tmp_path), fake_clock)
    start = fake_clock.now
    for minutes in (-180, -120, -70):  # older than the window: not counted
        r.append_drift(start + minutes * 60)
    outcomes = []
    for i in range(5):
        fake_clock.now = start + i * 60
        outcomes.append(r.handle(r.append_drift(fake_clock.now)))
    assert outcomes == ["observed"] * 5
    assert not r.events("autonomy.alert")
    fake_clock.now = start + 300
    assert r.handle(r.append_drift(fake_clock.now)) == "alerted"
    [alert] = r.events("autonomy.alert")
    assert {k: alert[k] for k in ("reason", "drift_count", "occurrences", "window")} == {
        "reason": "frequency", "drift_count": 1, "occurrences": 6, "window": HOUR}
    # Another process (a new engine on a new bus over the same files) sees the open breaker.
    other = rig(_config(tmp_path), fake_clock)
    fake_clock.advance(60)
    assert other.handle(other.append_drift(fake_clock.now)) == "suspended"
    assert len(other.events("autonomy.alert")) == 1  # suspended: no alert storm
    # An hour after the trip the breaker closes; the old events have left the window.
    fake_clock.now = start + 300 + HOUR
    assert other.handle(other.append_drift(fake_clock.now)) == "observed"


def test_the_frequency_is_counted_from_the_persisted_history_not_from_this_process(tmp_path, rig,
                                                                                  fake_clock) -> None:
    first = rig(_config(tmp_path, "frequency_limit = 2\n"), fake_clock)
    first.append_drift(fake_clock.now - 100)
    first.append_drift(fake_clock.now - 50)
    second = rig(_config(tmp_path, "frequency_limit = 2\n"), fake_clock)
    assert second.handle(second.append_drift(fake_clock.now)) == "alerted"


def test_too_many_drifted_variables_alert(tmp_path, rig, fake_clock) -> None:
    r = rig(_config(tmp_path, "alert_threshold = 3\n"), fake_clock)
    assert r.handle(r.append_drift(fake_clock.now, drift_count=3)) == "observed"
    assert r.handle(r.append_drift(fake_clock.now, drift_count=4)) == "alerted"
    [alert] = r.events("autonomy.alert")
    assert alert["reason"] == "drift_count" and alert["drift_count"] == 4
    assert alert["suspended_until"] == fake_clock.now + HOUR


def test_a_manual_reset_restarts_the_frequency_count(tmp_path, rig, fake_clock) -> None:
    r = rig(_config(tmp_path, "frequency_limit = 2\n"), fake_clock)
    for _ in range(3):
        r.append_drift(fake_clock.now - 10)
    CircuitBreaker(r.home, Thresholds(), clock=fake_clock).reset()
    assert r.handle(r.append_drift(fake_clock.now)) == "observed"


def test_the_heal_command_resets_a_tripped_breaker(project) -> None:
    project.write_config('reference = "local"\noverwrite_conflicts = true\nauto_heal = true')
    breaker = CircuitBreaker(project.home, Thresholds())
    breaker.trip(Alert("frequency", "drift detected 9 times", 2, 9, HOUR))
    code, out, _ = project.run("heal")
    assert code == 1 and "Automatic healing is suspended until" in out
    assert breaker.is_open()
    assert project.run("heal", "--apply")[0] == 0
    assert not breaker.is_open()
