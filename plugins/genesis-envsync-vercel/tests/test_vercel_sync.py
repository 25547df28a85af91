"""``genesis sync`` uses the installed vercel kind: production against preview of one project."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genesis_vercel.emulator import VercelEmulator

P = "prj_web"


def test_genesis_sync_reports_the_exact_drift(emulator: VercelEmulator, env: dict[str, str], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from genesis_core.testing import genesis_main as main

    emulator.add_env(P, "SHARED", "same", target=["production", "preview"])
    emulator.add_env(P, "DEBUG", "false", type="plain", target=["production"])
    emulator.add_env(P, "DEBUG", "true", type="plain", target=["preview"])
    emulator.add_env(P, "SENTRY_DSN", "sensitive-canary", type="sensitive", target=["production", "preview"])
    emulator.add_env(P, "PROD_ONLY", "1", target=["production"])
    config = tmp_path / "genesis.toml"
    config.write_text(f"""
[platforms.prod]
kind = "vercel"
project = "web"
team_id = "team_acme"
base_url = "{emulator.base_url}"

[platforms.preview]
kind = "vercel"
project = "web"
team_id = "team_acme"
target = "preview"
base_url = "{emulator.base_url}"
""")
    monkeypatch.setenv("VERCEL_TOKEN", env["VERCEL_TOKEN"])
    monkeypatch.setenv("GENESIS_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    code = main(["--config", str(config), "sync", "--json", "--no-progress"])
    out, err = capsys.readouterr()
    payload = json.loads(out)
    assert code == 1, err
    assert payload["missing_in_preview"] == ["PROD_ONLY"]
    assert payload["missing_in_prod"] == []
    assert payload["conflicts"] == {"DEBUG": {"prod": "false", "preview": "true"}}
    assert payload["summary"]["drift_count"] == 2
    assert env["VERCEL_TOKEN"] not in out + err
    assert "sensitive-canary" not in out + err
