"""``genesis heal`` masks exactly what ``genesis sync`` masks (issue 19, item 2).

docs/secrets.md: if any readable value of a key is secret, every value of that key is.  Here
the reference holds ``ADMIN_INITIAL=CANARYSummer2025`` (not secret on its own: an innocent name,
a word and a year) and another instance holds a random-looking value for the same key, so
``genesis sync`` fingerprints both.  The heal plan (text and ``--json``), its results, the events
and every file in the state directory must never show the reference value either: a real
``genesis`` subprocess, three dotenv instances, the canary searched everywhere.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

CANARY = "CANARYSummer2025"
RANDOM_LOOKING = "Zq8xT3vLm9RwK2pYb7Nc"

CONFIG = """\
[platforms.local]
kind = "dotenv"
path = ".env"

[platforms.other]
kind = "dotenv"
path = ".env.other"

[platforms.fresh]
kind = "dotenv"
path = ".env.fresh"

[engines.autonomy]
reference = "local"
overwrite_conflicts = true
"""

FINGERPRINT = re.compile(r"<secret fp:[0-9a-f]{12}>")


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """Return the project directory and the environment of a ``genesis`` subprocess run in it."""
    root = tmp_path / "app"
    root.mkdir()
    (root / ".env").write_text(f"ADMIN_INITIAL={CANARY}\nLOG_LEVEL=info\n", encoding="utf-8")
    (root / ".env.other").write_text(f"ADMIN_INITIAL={RANDOM_LOOKING}\nLOG_LEVEL=info\n", encoding="utf-8")
    (root / ".env.fresh").write_text("LOG_LEVEL=info\n", encoding="utf-8")
    (root / "genesis.toml").write_text(CONFIG, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENESIS_")}
    env.update(GENESIS_HOME=str(tmp_path / "state"), GENESIS_ROLE="operator")
    return root, env


def genesis(root: Path, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """Run ``genesis ARGS`` as a real subprocess in ``root``; return ``(code, stdout, stderr)``."""
    done = subprocess.run([sys.executable, "-m", "genesis_core", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    return done.returncode, done.stdout, done.stderr


def state_files(env: dict[str, str]) -> dict[Path, bytes]:
    """Return every file of the state directory (event store, ledger, reports, records)."""
    state = Path(env["GENESIS_HOME"])
    return {path: path.read_bytes() for path in state.rglob("*") if path.is_file()}


def test_heal_fingerprints_what_sync_fingerprints_in_every_output(project: tuple[Path, dict[str, str]]) -> None:
    root, env = project
    code, out, err = genesis(root, env, "sync", "--json")
    assert code == 1, err
    shown = json.loads(out)["conflicts"]["ADMIN_INITIAL"]
    assert FINGERPRINT.fullmatch(shown["local"]) and FINGERPRINT.fullmatch(shown["other"]), shown
    reference_fp = shown["local"]

    code, text, text_err = genesis(root, env, "heal")
    assert code == 1, text_err
    assert f'~ ADMIN_INITIAL: "{shown["other"]}" -> "{reference_fp}"' in text
    assert f'+ ADMIN_INITIAL = "{reference_fp}"' in text  # a create shows the key as sync does too

    code, plan_json, json_err = genesis(root, env, "heal", "--json")
    assert code == 1, json_err
    targets = json.loads(plan_json)["plan"]["targets"]
    assert targets["other"]["update"][0]["value"] == reference_fp
    assert targets["other"]["update"][0]["current"] == shown["other"]
    assert targets["fresh"]["create"][0]["value"] == reference_fp

    code, applied, applied_err = genesis(root, env, "heal", "--apply", "--json")
    assert code == 0, applied + applied_err
    assert (root / ".env.fresh").read_text(encoding="utf-8").count(CANARY) == 1  # the value was written
    code, history, history_err = genesis(root, env, "events", "history", "--json")
    assert code == 0, history_err
    assert "autonomy.heal.applied" in history

    for output in (out, err, text, text_err, plan_json, json_err, applied, applied_err, history, history_err):
        assert CANARY not in output
    for path, data in state_files(env).items():
        assert CANARY.encode() not in data, path
