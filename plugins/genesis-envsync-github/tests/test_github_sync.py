"""``genesis sync`` uses the installed github kind: a repository against one of its environments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genesis_github.emulator import GitHubEmulator

REPO = "acme/web"


def test_genesis_sync_reports_the_exact_drift(emulator: GitHubEmulator, env: dict[str, str], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from genesis_core.testing import genesis_main as main

    emulator.add_environment(REPO, "production")
    emulator.set_variable(REPO, "DEBUG", "true")
    emulator.set_variable(REPO, "SHARED", "same")
    emulator.set_secret(REPO, "API_KEY", "repo-secret-canary")
    emulator.set_variable(REPO, "DEBUG", "false", environment="production")
    emulator.set_variable(REPO, "SHARED", "same", environment="production")
    emulator.set_secret(REPO, "API_KEY", "env-secret-canary", environment="production")
    emulator.set_variable(REPO, "ONLY_PROD", "1", environment="production")
    config = tmp_path / "genesis.toml"
    config.write_text(f"""
[platforms.repo]
kind = "github"
repository = "{REPO}"
base_url = "{emulator.base_url}"

[platforms.prod]
kind = "github"
repository = "{REPO}"
environment = "production"
base_url = "{emulator.base_url}"
""")
    monkeypatch.setenv("GITHUB_TOKEN", env["GITHUB_TOKEN"])
    monkeypatch.setenv("GENESIS_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    code = main(["--config", str(config), "sync", "--json", "--no-progress"])
    out, err = capsys.readouterr()
    payload = json.loads(out)
    assert code == 1, err
    assert payload["missing_in_repo"] == ["ONLY_PROD"]
    assert payload["missing_in_prod"] == []
    assert payload["conflicts"] == {"DEBUG": {"repo": "true", "prod": "false"}}
    assert payload["summary"]["drift_count"] == 2
    assert env["GITHUB_TOKEN"] not in out + err
    assert "secret-canary" not in out + err
