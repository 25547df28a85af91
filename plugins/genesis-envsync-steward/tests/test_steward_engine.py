"""The Steward engine on a real bus: reports, step summary and webhook, once per event, no secrets."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from _steward_support import (
    CANARY,
    SIGNING_KEY,
    Receiver,
    config_from,
    drift,
    planted_drift,
    start_bus,
)

from genesis_core.api import EngineContext, reset_bus
from genesis_steward.engine import subscriptions


@pytest.fixture(autouse=True)
def _reset_process_bus():
    yield
    reset_bus()


def webhook_config(url: str, attempts: int = 3) -> str:
    return f"""
        [engines.steward]
        webhook_url = "{url}"
        webhook_secret_env = "STEWARD_HOOK_KEY"
        webhook_attempts = {attempts}
        webhook_backoff = 0.0
        webhook_timeout = 2.0
    """


def all_output(state_dir: Path, *extra: Path) -> str:
    texts = [p.read_text(errors="replace") for p in state_dir.rglob("*") if p.is_file()
             and p.suffix in (".md", ".json", ".html")]
    texts += [p.read_text() for p in extra if p.exists()]
    return "\n".join(texts)


def test_drift_event_writes_all_reports(tmp_path: Path, policy) -> None:
    config = config_from(tmp_path, "")
    bus = start_bus(config, policy)
    result = asyncio.run(bus.publish("envsync.drift", drift()))
    assert result.ok and result.delivered == ("steward:steward",)
    reports = config.state_dir / "reports"
    seq = result.seq
    names = sorted(p.name for p in reports.iterdir())
    assert names == sorted([f"drift-{seq}.md", f"drift-{seq}.json", f"drift-{seq}.html",
                            "latest.md", "latest.json", "latest.html"])
    assert (reports / f"drift-{seq}.md").read_text() == (reports / "latest.md").read_text()
    doc = json.loads((reports / f"drift-{seq}.json").read_text())
    assert (doc["seq"], doc["event_id"], doc["status"]) == (seq, result.envelope.event_id, "drift")
    assert "`VAR_A`" in (reports / "latest.md").read_text()


def test_commit_events_are_not_reported(tmp_path: Path, policy) -> None:
    config = config_from(tmp_path, "")
    bus = start_bus(config, policy)
    asyncio.run(bus.publish("envsync.commit", drift(has_drift=False)))
    assert not (config.state_dir / "reports").exists()


def test_latest_copies_keep_the_newest_event(tmp_path: Path, policy) -> None:
    config = config_from(tmp_path, "")
    bus = start_bus(config, policy)
    asyncio.run(bus.publish("envsync.drift", drift(missing_in_render=["FIRST"])))
    asyncio.run(bus.publish("envsync.drift", drift(missing_in_render=["SECOND"])))
    first, second = bus.get_event_history(limit=None, topic="envsync.drift")
    for path in (config.state_dir / "steward").iterdir():
        path.unlink()  # forget what was done, so the old event is reported again in full
    asyncio.run(_handler(config, bus, policy)(dict(first)))
    assert (config.state_dir / "reports" / f"drift-{first['_genesis_seq']}.md").exists()
    latest = json.loads((config.state_dir / "reports" / "latest.json").read_text())
    assert latest["seq"] == second["_genesis_seq"]


def _handler(config, bus, policy):
    ctx = EngineContext("steward", config.engine("steward"), config, config.state_dir,
                        bus.with_role("engine"), policy)
    [subscription] = subscriptions(ctx)
    return subscription.handler


def test_step_summary_is_appended_once(tmp_path: Path, policy, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    config = config_from(tmp_path, "")
    bus = start_bus(config, policy)
    asyncio.run(bus.publish("envsync.drift", drift()))
    [event] = bus.get_event_history(limit=1, topic="envsync.drift")
    asyncio.run(_handler(config, bus, policy)(dict(event)))
    text = summary.read_text()
    assert text.startswith("earlier step\n### ⚠️ Genesis: drift detected")
    assert text.count("Genesis: drift detected") == 1


def test_step_summary_can_be_switched_off(tmp_path: Path, policy, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    bus = start_bus(config_from(tmp_path, "[engines.steward]\nstep_summary = false\n"), policy)
    asyncio.run(bus.publish("envsync.drift", drift()))
    assert not summary.exists()


def test_webhook_sent_once_across_redelivery_and_restart(
        tmp_path: Path, policy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEWARD_HOOK_KEY", SIGNING_KEY)
    with Receiver() as receiver:
        config = config_from(tmp_path, webhook_config(receiver.url))
        bus = start_bus(config, policy)
        result = asyncio.run(bus.publish("envsync.drift", drift()))
        [event] = bus.get_event_history(limit=1, topic="envsync.drift")
        asyncio.run(_handler(config, bus, policy)(dict(event)))  # redelivered to a new instance
        restarted = start_bus(config, policy)
        asyncio.run(_handler(config, restarted, policy)(dict(event)))
    assert len(receiver.requests) == 1 and receiver.requests[0]["signed"]
    [document] = receiver.documents()
    assert (document["seq"], document["event_id"]) == (result.seq, result.envelope.event_id)
    assert document["markdown"].startswith("### ⚠️ Genesis: drift detected")
    assert document["payload"]["missing_in_netlify"] == ["VAR_A", "VAR_B"]
    assert len(list((config.state_dir / "reports").glob("drift-*.md"))) == 1


def test_webhook_failure_is_published_and_does_not_fail_the_handler(
        tmp_path: Path, policy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEWARD_HOOK_KEY", SIGNING_KEY)
    with Receiver([500] * 10) as receiver:
        config = config_from(tmp_path, webhook_config(receiver.url, attempts=2))
        bus = start_bus(config, policy)
        result = asyncio.run(bus.publish("envsync.drift", drift()))
    assert result.ok  # no handler failure, no dead letter
    assert len(receiver.requests) == 2
    [failed] = bus.get_event_history(limit=None, topic="steward.webhook_failed")
    assert failed["error"] == "HTTP 500 after 2 attempt(s)" and failed["attempts"] == 2
    assert failed["source"]["seq"] == result.seq
    assert "T0KEN" not in json.dumps(failed)
    assert (config.state_dir / "reports" / "latest.md").exists()  # the report was still written


def test_failed_webhook_is_sent_on_a_later_redelivery(
        tmp_path: Path, policy, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEWARD_HOOK_KEY", SIGNING_KEY)
    with Receiver([500, 500]) as receiver:
        config = config_from(tmp_path, webhook_config(receiver.url, attempts=2))
        bus = start_bus(config, policy)
        asyncio.run(bus.publish("envsync.drift", drift()))
        [event] = bus.get_event_history(limit=1, topic="envsync.drift")
        asyncio.run(_handler(config, bus, policy)(dict(event)))
        asyncio.run(_handler(config, bus, policy)(dict(event)))
    assert [r["signed"] for r in receiver.requests] == [True, True, True]  # 2 failed, then 1 delivered


def test_no_secret_reaches_any_output(tmp_path: Path, policy, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("STEWARD_HOOK_KEY", SIGNING_KEY)
    with Receiver([500]) as receiver:
        config = config_from(tmp_path, webhook_config(receiver.url))
        bus = start_bus(config, policy)
        asyncio.run(bus.publish("envsync.drift", planted_drift(policy.fingerprint)))
    written = all_output(config.state_dir, summary)
    assert "STRIPE_SECRET_KEY" in written and policy.fingerprint(CANARY) in written
    bodies = b"".join(r["body"] for r in receiver.requests).decode()
    for text in (written, bodies):
        assert CANARY not in text
        assert "hunter2-but-longer" not in text
        assert SIGNING_KEY not in text
    steward_events = json.dumps(bus.get_event_history(limit=None, topic="steward.>"))
    assert CANARY not in steward_events


def test_bad_settings_stop_the_engine_from_starting(tmp_path: Path, policy) -> None:
    from genesis_core.api import ConfigError

    config = config_from(tmp_path, '[engines.steward]\nwebhook_url = "ftp://example.com/x"\n')
    with pytest.raises(ConfigError, match=r"genesis.toml: engines.steward.webhook_url: expected an http"):
        start_bus(config, policy)


CROSS = {"verified_at": "2026-12-01T10:00:00Z", "has_drift": True, "environments": ["production", "staging"],
         "missing": {"production": [], "staging": ["FEATURE_X"]},
         "conflicts": {"LOG_FORMAT": {"production": "json", "staging": "text"}}, "drift_count": 2}


def test_environment_drift_and_cross_drift_are_reported_with_their_names(tmp_path: Path, policy) -> None:
    config = config_from(tmp_path, "")
    bus = start_bus(config, policy)
    staging = asyncio.run(bus.publish("envsync.drift", drift(environment="staging")))
    cross = asyncio.run(bus.publish("envsync.cross_drift", CROSS))
    assert cross.delivered == ("steward:steward",)
    reports = config.state_dir / "reports"
    markdown = (reports / f"drift-{staging.seq}.md").read_text()
    assert markdown.startswith("### ⚠️ Genesis (staging): drift detected, 5 differences across 3 platforms")
    assert (reports / "latest-staging.md").read_text() == markdown
    across = (reports / f"drift-{cross.seq}.md").read_text()
    assert across.startswith("### ⚠️ Genesis: environments differ, 2 differences across 2 environments")
    assert "| `FEATURE_X` | ✓ | ✗ |" in across and "| `LOG_FORMAT` | `json` | `text` |" in across
    assert (reports / "latest-across.md").read_text() == across == (reports / "latest.md").read_text()
    doc = json.loads((reports / "latest-across.json").read_text())
    assert doc["topic"] == "envsync.cross_drift" and doc["payload"]["missing"]["staging"] == ["FEATURE_X"]
    html = (reports / "latest-across.html").read_text()
    assert "Keys missing in an environment (1)" in html and "<code>LOG_FORMAT</code>" in html


def test_environments_that_agree_write_no_report(tmp_path: Path, policy) -> None:
    config = config_from(tmp_path, "")
    bus = start_bus(config, policy)
    asyncio.run(bus.publish("envsync.cross_drift", {**CROSS, "has_drift": False, "drift_count": 0,
                                                    "missing": {"production": [], "staging": []},
                                                    "conflicts": {}}))
    assert not (config.state_dir / "reports").exists()
