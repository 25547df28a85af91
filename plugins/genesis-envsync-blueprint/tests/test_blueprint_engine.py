"""The engine on a real bus: warnings from real events, once per event, across failures and restarts."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from _blueprint_support import CANARY, config_from, seed, start_bus

from genesis_core.api import ProcessedEvents, reset_bus

RULES = """
[engines.blueprint]
min_keys = 50
required = ["AUTO_DIAGNOSE"]
[engines.blueprint.keys.DEBUG]
type = "bool"
"""


@pytest.fixture(autouse=True)
def _reset_process_bus():
    yield
    reset_bus()


def warnings(bus) -> list[dict]:
    return bus.get_event_history(limit=None, topic="blueprint.warning")


def test_drift_event_publishes_one_schema_drift_warning(tmp_path: Path, policy) -> None:
    bus = start_bus(config_from(tmp_path, RULES), policy)
    result = asyncio.run(bus.publish("envsync.drift", seed("drift")))
    assert result.ok and "blueprint:blueprint" in result.delivered
    [warning] = warnings(bus)
    assert warning["type"] == "schema_drift"
    assert (warning["expected"], warning["actual"]) == (50, 45)
    assert sorted((v["rule"], v["key"], v["instance"]) for v in warning["violations"]) == [
        ("min_keys", None, None), ("required", "AUTO_DIAGNOSE", "github")]
    assert warning["source"] == {"topic": "envsync.drift", "seq": result.seq,
                                 "event_id": result.envelope.event_id}


def test_commit_event_is_checked_too(tmp_path: Path, policy) -> None:
    bus = start_bus(config_from(tmp_path, RULES), policy)
    asyncio.run(bus.publish("envsync.commit", seed("commit")))
    [warning] = warnings(bus)
    assert warning["violations"] == [{"rule": "min_keys", "key": None, "instance": None,
                                      "expected": 50, "actual": 45}]


def test_clean_event_publishes_nothing(tmp_path: Path, policy) -> None:
    bus = start_bus(config_from(tmp_path, "[engines.blueprint]\nmin_keys = 40\n"), policy)
    asyncio.run(bus.publish("envsync.commit", seed("commit")))
    assert warnings(bus) == []


def test_redelivery_and_restart_do_not_warn_twice(tmp_path: Path, policy) -> None:
    config = config_from(tmp_path, RULES)
    bus = start_bus(config, policy)
    asyncio.run(bus.publish("envsync.drift", seed("drift")))
    [event] = bus.get_event_history(limit=1, topic="envsync.drift")

    async def redeliver(target_bus) -> None:
        from genesis_blueprint.engine import subscriptions
        from genesis_core.api import EngineContext

        ctx = EngineContext("blueprint", config.engine("blueprint"), config, config.state_dir,
                            target_bus.with_role("engine"), policy)
        [subscription] = subscriptions(ctx)  # a fresh engine instance on the same state dir
        await subscription.handler(dict(event))
        await subscription.handler(dict(event))

    asyncio.run(redeliver(bus))
    assert len(warnings(bus)) == 1
    restarted = start_bus(config, policy)  # a new process: new bus on the same store
    asyncio.run(redeliver(restarted))
    assert len(warnings(restarted)) == 1
    assert ProcessedEvents(config.state_dir / "blueprint" / "processed.sqlite3").count() == 1


def test_failure_after_publishing_is_retried_without_a_second_warning(
        tmp_path: Path, policy, monkeypatch: pytest.MonkeyPatch) -> None:
    bus = start_bus(config_from(tmp_path, RULES), policy)
    real_mark = ProcessedEvents.mark
    calls = {"n": 0}

    def flaky_mark(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("disk full")  # the crash window: warning published, not yet recorded
        return real_mark(self, *args, **kwargs)

    monkeypatch.setattr(ProcessedEvents, "mark", flaky_mark)
    first = asyncio.run(bus.publish("envsync.drift", seed("drift")))
    assert [f.subscriber for f in first.failures] == ["blueprint:blueprint"]
    report = asyncio.run(bus.retry_dead_letters())
    assert len(report.succeeded) == 1
    assert len(warnings(bus)) == 1
    assert asyncio.run(bus.retry_dead_letters()).attempted == 0


def test_blocked_warning_is_not_retried_forever(tmp_path: Path, policy) -> None:
    config = config_from(tmp_path, RULES + """
        [guardian.roles.engine]
        deny = ["blueprint.>"]
    """)
    bus = start_bus(config, policy)
    result = asyncio.run(bus.publish("envsync.drift", seed("drift")))
    assert result.ok  # the handler did not fail: a denial is a decision
    assert warnings(bus) == []
    assert len(bus.get_event_history(limit=None, topic="genesis.blocked")) == 1


def test_no_secret_in_warnings(tmp_path: Path, policy) -> None:
    bus = start_bus(config_from(tmp_path, RULES), policy)
    payload = seed("drift")
    payload["missing_in_github"].append("STRIPE_SECRET_KEY")
    payload["conflicts"]["STRIPE_SECRET_KEY"] = {"render": CANARY, "netlify": policy.fingerprint(CANARY)}
    asyncio.run(bus.publish("envsync.drift", payload))
    stored = json.dumps(warnings(bus))
    assert CANARY not in stored
    assert "AUTO_DIAGNOSE" in stored
