"""Without ``[environments]`` the payloads keep the seed's shape exactly (GENESIS_EVENT_FLOW.md).

These pin every key and its value for a drift, a commit and the init event, as
``genesis sync --json`` prints them and as the event store keeps them: nothing added by
environments or write records may leak into a single-environment sync.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CONFIG = """
[platforms.local]
kind = "dotenv"
path = ".env"
[platforms.render]
kind = "dotenv"
path = ".env.render"
[platforms.github]
kind = "dotenv"
path = ".env.github"
"""

SEED_DRIFT_KEYS = ["verified_at", "has_drift", "missing_in_github", "missing_in_local", "missing_in_render",
                   "conflicts", "summary", "instances", "platforms"]


def _project(tmp_path: Path, render: str) -> Path:
    (tmp_path / ".env").write_text("A=1\nDEBUG=false\nVAR_A=x\n")
    (tmp_path / ".env.render").write_text(render)
    (tmp_path / ".env.github").write_text("A=1\nDEBUG=true\nVAR_A=x\n")
    cfg = tmp_path / "genesis.toml"
    cfg.write_text(CONFIG)
    return cfg


def _stable(payload: dict[str, Any]) -> dict[str, Any]:
    """Return ``payload`` with what varies between runs (times) replaced."""
    payload = dict(payload)
    payload["verified_at"] = "T"
    payload["platforms"] = {name: {**status, "seconds": 0} for name, status in payload["platforms"].items()}
    return payload


def _platforms(keys: dict[str, int]) -> dict[str, Any]:
    return {name: {"kind": "dotenv", "status": "ok", "keys": count, "seconds": 0, "error": None}
            for name, count in keys.items()}


def test_drift_payload_is_the_seeds(tmp_path: Path, run_cli) -> None:
    cfg = _project(tmp_path, "A=1\nDEBUG=false\n")
    code, out, err = run_cli("--config", str(cfg), "sync", "--json")
    assert code == 1, err
    printed = json.loads(out)
    expected = {
        "verified_at": "T", "has_drift": True,
        "missing_in_github": [], "missing_in_local": [], "missing_in_render": ["VAR_A"],
        "conflicts": {"DEBUG": {"github": "true", "local": "false", "render": "false"}},
        "summary": {"total_keys": 3, "github_count": 3, "local_count": 3, "render_count": 2, "drift_count": 2},
        "instances": ["local", "render", "github"],
        "platforms": _platforms({"local": 3, "render": 2, "github": 3}),
    }
    assert _stable(printed) == expected
    assert sorted(printed) == sorted(SEED_DRIFT_KEYS)
    code, out, _ = run_cli("--config", str(cfg), "events", "history", "--json")
    init, drift = (json.loads(line) for line in out.splitlines())
    assert {k: v for k, v in drift.items() if not k.startswith("_genesis_")} == printed
    assert drift["_genesis_topic"] == "envsync.drift"
    assert sorted(k for k in init if not k.startswith("_genesis_")) == sorted(
        ["type", "source", "target", "instances", "timestamp", "initiated_by"])
    assert (init["type"], init["source"], init["target"]) == ("sync_init", "local", "render,github")


def test_commit_payload_is_the_seeds(tmp_path: Path, run_cli) -> None:
    cfg = _project(tmp_path, "A=1\nDEBUG=false\nVAR_A=x\n")
    (tmp_path / ".env.github").write_text("A=1\nDEBUG=false\nVAR_A=x\n")
    code, out, err = run_cli("--config", str(cfg), "sync", "--json")
    assert code == 0, err
    printed = json.loads(out)
    assert _stable(printed) == {
        "verified_at": "T", "has_drift": False,
        "missing_in_github": [], "missing_in_local": [], "missing_in_render": [], "conflicts": {},
        "summary": {"total_keys": 3, "github_count": 3, "local_count": 3, "render_count": 3, "drift_count": 0},
        "instances": ["local", "render", "github"],
        "platforms": _platforms({"local": 3, "render": 3, "github": 3}),
    }
    assert sorted(printed) == sorted(SEED_DRIFT_KEYS)
