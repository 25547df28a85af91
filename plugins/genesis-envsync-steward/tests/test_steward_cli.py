"""``genesis steward report``: the latest drift event from the history, in every format."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from _steward_support import CANARY, config_from, drift, planted_drift, start_bus

from genesis_core.api import reset_bus


@pytest.fixture(autouse=True)
def _reset_process_bus():
    yield
    reset_bus()


def publish(tmp_path: Path, policy, *events: tuple[str, dict]) -> None:
    bus = start_bus(config_from(tmp_path, ""), policy)
    for topic, payload in events:
        asyncio.run(bus.publish(topic, payload))
    reset_bus()


def test_no_drift_yet(tmp_path: Path, run_cli) -> None:
    config_from(tmp_path, "")
    code, out, err = run_cli(tmp_path, "steward", "report")
    assert (code, err) == (0, "")
    assert out == "no drift event recorded yet (run `genesis sync`)\n"


def test_markdown_of_the_latest_drift(tmp_path: Path, policy, run_cli) -> None:
    publish(tmp_path, policy, ("envsync.drift", drift(missing_in_render=["OLD"])),
            ("envsync.drift", drift(missing_in_render=["NEWEST"])))
    code, out, err = run_cli(tmp_path, "steward", "report")
    assert (code, err) == (0, "")
    assert out.startswith("### ⚠️ Genesis: drift detected")
    assert "`NEWEST`" in out and "`OLD`" not in out


def test_json_and_html_to_a_file(tmp_path: Path, policy, run_cli) -> None:
    publish(tmp_path, policy, ("envsync.drift", drift()))
    code, out, _err = run_cli(tmp_path, "steward", "report", "--format", "json")
    assert code == 0 and json.loads(out)["payload"]["missing_in_netlify"] == ["VAR_A", "VAR_B"]
    target = tmp_path / "out" / "drift.html"
    code, out, _err = run_cli(tmp_path, "steward", "report", "--format", "html", "--output", str(target))
    assert code == 0 and out == f"wrote {target}\n"
    assert target.read_text().startswith("<!DOCTYPE html>")


def test_notes_a_later_parity(tmp_path: Path, policy, run_cli) -> None:
    publish(tmp_path, policy, ("envsync.drift", drift()), ("envsync.commit", drift(has_drift=False)))
    code, out, err = run_cli(tmp_path, "steward", "report")
    assert code == 0 and out.startswith("### ⚠️")
    assert err.startswith("genesis: note: parity was verified after this drift")


def test_report_masks_a_planted_secret(tmp_path: Path, policy, run_cli) -> None:
    publish(tmp_path, policy, ("envsync.drift", planted_drift(policy.fingerprint)))
    for fmt in ("md", "json", "html"):
        code, out, err = run_cli(tmp_path, "steward", "report", "--format", fmt)
        assert code == 0
        assert CANARY not in out + err and "hunter2-but-longer" not in out + err


def test_genesis_sync_drift_produces_reports(tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    (tmp_path / "a.env").write_text(f"SHARED=1\nONLY_A=x\nAPI_TOKEN={CANARY}\n")
    (tmp_path / "b.env").write_text("SHARED=2\nAPI_TOKEN=other-token-value-123\n")
    config_from(tmp_path, """
        [platforms.alpha]
        kind = "dotenv"
        path = "a.env"
        [platforms.beta]
        kind = "dotenv"
        path = "b.env"
    """)
    code, _out, err = run_cli(tmp_path, "sync", "--no-progress")
    assert code == 1, err
    latest = (tmp_path / "genesis-home" / "reports" / "latest.md").read_text()
    assert "- `beta` lacks 1: `ONLY_A`" in latest
    assert "| `SHARED` | `1` | `2` |" in latest
    assert summary.read_text().count("Genesis: drift detected") == 1
    code, out, _err = run_cli(tmp_path, "steward", "report")
    assert code == 0 and out == latest
    everything = latest + summary.read_text() + out + "".join(
        p.read_text() for p in (tmp_path / "genesis-home" / "reports").iterdir())
    assert CANARY not in everything


def test_the_latest_drift_of_one_environment_and_across(tmp_path: Path, policy, run_cli) -> None:
    cross = {"verified_at": "2026-12-01T10:00:00Z", "has_drift": True, "environments": ["production", "staging"],
             "missing": {"production": [], "staging": ["FEATURE_X"]}, "conflicts": {}, "drift_count": 1}
    publish(tmp_path, policy, ("envsync.drift", drift(environment="staging", missing_in_render=["STAGING_KEY"])),
            ("envsync.drift", drift(environment="production", missing_in_render=["PROD_KEY"])),
            ("envsync.cross_drift", cross))
    code, out, _ = run_cli(tmp_path, "steward", "report", "--env", "staging")
    assert code == 0 and out.startswith("### ⚠️ Genesis (staging): drift detected")
    assert "`STAGING_KEY`" in out and "`PROD_KEY`" not in out
    code, out, _ = run_cli(tmp_path, "steward", "report", "--across")
    assert code == 0 and "| `FEATURE_X` | ✓ | ✗ |" in out
    code, out, _ = run_cli(tmp_path, "steward", "report", "--env", "qa")
    assert code == 0 and out == "no drift event for environment qa recorded yet (run `genesis sync`)\n"
