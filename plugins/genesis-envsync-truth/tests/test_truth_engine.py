"""The Truth engine: configuration, the handler, and events delivered by a real GenesisBus."""

from __future__ import annotations

import asyncio
import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest
from truth_testlib import CANARY, StandInPolicy, event

from genesis_core.api import ConfigError, EngineContext, Table, load_config
from genesis_truth.engine import DEFAULT_TOPICS, TruthRecorder, make_engine
from genesis_truth.ledger import LEDGER_FILE, Ledger

SEED_DRIFT = {
    "verified_at": "2025-10-11T22:43:00Z",
    "has_drift": True,
    "missing_in_render": [],
    "missing_in_netlify": ["VAR_A", "VAR_B"],
    "missing_in_github": ["AUTO_DIAGNOSE", "CORS_ALLOW_ALL"],
    "conflicts": {"DEBUG": {"render": "false", "netlify": "true", "github": "<secret>"}},
    "summary": {"total_keys": 45, "drift_count": 5},
}
SEED_COMMIT = {"verified_at": "2025-10-11T22:45:00Z", "has_drift": False, "missing_in_render": [],
               "missing_in_netlify": [], "missing_in_github": [], "conflicts": {},
               "summary": {"total_keys": 45, "local_count": 45}}


def context(state: Path, table: dict[str, Any], policy: Any = None) -> EngineContext:
    table_obj = Table(table, "genesis.toml", "engines.truth")
    return EngineContext("truth", table_obj, None, state, None,  # type: ignore[arg-type]
                         policy or StandInPolicy())


def test_engine_defaults(state_dir: Path) -> None:
    engine = make_engine()
    assert engine.name == "truth" and engine.enabled_by_default
    [sub] = list(engine.subscriptions(context(state_dir, {})))
    assert sub.topics == DEFAULT_TOPICS
    assert {"envsync.commit", "envsync.drift"} <= set(sub.topics)
    assert sub.name == "truth.record"
    assert asyncio.iscoroutinefunction(sub.handler)


def test_engine_topics_are_configurable_and_validated(state_dir: Path) -> None:
    [sub] = list(make_engine().subscriptions(context(state_dir, {"topics": ["envsync.*", "autonomy.>"],
                                                                 "fsync": False, "timeout": 5})))
    assert sub.topics == ("envsync.*", "autonomy.>") and sub.timeout == 5.0
    with pytest.raises(ConfigError, match=r"genesis.toml: engines.truth.topic: unknown key"):
        list(make_engine().subscriptions(context(state_dir, {"topic": ["x"]})))
    with pytest.raises(ConfigError, match=r"engines.truth.topics\[1\]"):
        list(make_engine().subscriptions(context(state_dir, {"topics": ["ok.one", "bad..topic"]})))
    with pytest.raises(ConfigError, match="engines.truth.topics: must list"):
        list(make_engine().subscriptions(context(state_dir, {"topics": []})))
    with pytest.raises(ConfigError, match="engines.truth.fsync"):
        list(make_engine().subscriptions(context(state_dir, {"fsync": "yes"})))


def test_handler_records_masked_payload_once(state_dir: Path) -> None:
    recorder = TruthRecorder(state_dir, StandInPolicy())
    delivered = event(1041, "envsync.drift", conflicts={"STRIPE_SECRET": {"render": CANARY}})
    assert asyncio.run(recorder.handle(delivered)) is True
    assert asyncio.run(recorder.handle(dict(delivered))) is False  # redelivery
    text = (state_dir / LEDGER_FILE).read_text()
    assert CANARY not in text
    [entry] = list(recorder.ledger.entries())
    assert (entry.event_id, entry.topic) == (1041, "envsync.drift")
    assert entry.payload["conflicts"]["STRIPE_SECRET"]["render"] == "<secret>"
    assert recorder.ledger.verify().ok


def test_a_restarted_recorder_does_not_double_record(state_dir: Path) -> None:
    asyncio.run(TruthRecorder(state_dir, StandInPolicy()).handle(event(7)))
    again = TruthRecorder(state_dir, StandInPolicy())
    assert asyncio.run(again.handle(event(7))) is False
    assert asyncio.run(again.handle(event(8))) is True
    assert [e.event_id for e in again.ledger.entries()] == [7, 8]


# ---------------------------------------------------------------- through a real bus

def start_bus(project: Path, extra: str = "") -> Any:
    import genesis_truth.plugin
    from genesis_core.api import configure_bus, policy_from_config
    from genesis_core.testing import build_plugin_host

    (project / "genesis.toml").write_text(textwrap.dedent(extra))
    config = load_config(project / "genesis.toml")
    host = build_plugin_host(entry_points=False, plugins=(("truth", genesis_truth.plugin),))
    return configure_bus(config, host=host, secret_policy=policy_from_config(config, config.state_dir))


def test_events_published_on_a_real_bus_are_recorded(tmp_path: Path, _isolated_env: Path) -> None:
    bus = start_bus(tmp_path)
    try:
        async def scenario() -> list[Any]:
            return [await bus.publish("envsync.drift", SEED_DRIFT),
                    await bus.publish("envsync.init", {"type": "sync_init"}),  # not subscribed
                    await bus.publish("envsync.commit", SEED_COMMIT),
                    await bus.publish("autonomy.heal.applied", {"keys": ["VAR_A"],
                                                                "api_token": CANARY})]
        results = asyncio.run(scenario())
    finally:
        bus.close()
    assert all(r.ok for r in results)
    assert "truth:truth.record" in results[0].delivered
    ledger = Ledger(_isolated_env, environ={})
    entries = list(ledger.entries())
    assert [(e.event_id, e.topic) for e in entries] == [
        (results[0].seq, "envsync.drift"), (results[2].seq, "envsync.commit"),
        (results[3].seq, "autonomy.heal.applied")]
    assert entries[0].payload["missing_in_github"] == ["AUTO_DIAGNOSE", "CORS_ALLOW_ALL"]
    assert entries[0].payload["_genesis_seq"] == results[0].seq
    assert entries[0].timestamp == results[0].envelope.timestamp
    assert CANARY not in (_isolated_env / LEDGER_FILE).read_text()
    assert ledger.verify().ok


def test_configured_topics_and_disabled_engine(tmp_path: Path, _isolated_env: Path) -> None:
    bus = start_bus(tmp_path, """
        [engines.truth]
        topics = ["envsync.init"]
    """)
    try:
        asyncio.run(bus.publish("envsync.init", {"type": "sync_init"}))
        asyncio.run(bus.publish("envsync.commit", SEED_COMMIT))
    finally:
        bus.close()
    assert [e.topic for e in Ledger(_isolated_env, environ={}).entries()] == ["envsync.init"]
    (tmp_path / "off").mkdir()
    bus = start_bus(tmp_path / "off", """
        [engines.truth]
        enabled = false
    """)
    try:
        result = asyncio.run(bus.publish("envsync.commit", SEED_COMMIT))
    finally:
        bus.close()
    assert "truth:truth.record" not in result.delivered


def test_a_failed_append_is_retried_from_dead_letters_and_recorded_once(
        tmp_path: Path, _isolated_env: Path) -> None:
    # Make the ledger lock unusable: a real OS error inside the handler.
    lock = _isolated_env / "truth" / "ledger.lock"
    lock.mkdir(parents=True)
    bus = start_bus(tmp_path)
    try:
        first = asyncio.run(bus.publish("envsync.drift", SEED_DRIFT))
        assert not first.ok and first.failures[0].subscriber == "truth:truth.record"
        assert [d.seq for d in bus.get_dead_letters()] == [first.seq]
        report = bus.retry_dead_letters_sync()
        assert len(report.failed) == 1  # still broken
    finally:
        bus.close()
    shutil.rmtree(lock)
    # A new process (new bus, new engine) retries after the fix.
    bus = start_bus(tmp_path)
    try:
        second = asyncio.run(bus.publish("envsync.commit", SEED_COMMIT))
        report = bus.retry_dead_letters_sync()
        assert len(report.succeeded) == 1
        assert bus.retry_dead_letters_sync().attempted == 0
    finally:
        bus.close()
    ledger = Ledger(_isolated_env, environ={})
    assert [e.event_id for e in ledger.entries()] == [second.seq, first.seq]
    # Delivering the same stored event again (e.g. a transport redelivery) records nothing new.
    recorder = TruthRecorder(_isolated_env, StandInPolicy())
    assert asyncio.run(recorder.handle(event(first.seq, "envsync.drift"))) is False
    assert ledger.verify().ok
