"""Healing a ``.env`` key whose value comes from ``${NAME}`` expansion writes a literal, and the plan says so.

Real files and a real ``genesis`` subprocess: the target reads ``URL=${BASE}/x`` with expansion
on; the reference holds another literal URL.  Overwriting replaces the reference to ``BASE`` by a
fixed value, so the plan (text and ``--json``) carries a one-line note for that key.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

CONFIG = """\
[platforms.local]
kind = "dotenv"
path = ".env"

[platforms.target]
kind = "dotenv"
path = ".env.target"
expand = true

[engines.autonomy]
reference = "local"
overwrite_conflicts = true
"""

NOTE = "target URL: replaces an expanded value (${BASE}) with a literal"


def genesis(root: Path, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """Run ``genesis ARGS`` as a real subprocess in ``root``; return ``(code, stdout, stderr)``."""
    done = subprocess.run([sys.executable, "-m", "genesis_core", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    return done.returncode, done.stdout, done.stderr


def test_the_plan_says_a_heal_replaces_an_expanded_value_with_a_literal(tmp_path: Path) -> None:
    root = tmp_path / "app"
    root.mkdir()
    (root / ".env").write_text("BASE=https://b.example\nURL=https://a.example/x\nLOG_LEVEL=info\n", encoding="utf-8")
    (root / ".env.target").write_text("BASE=https://b.example\nURL=${BASE}/x\n", encoding="utf-8")
    (root / "genesis.toml").write_text(CONFIG, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENESIS_")}
    env.update(GENESIS_HOME=str(tmp_path / "state"), GENESIS_ROLE="operator")

    code, out, err = genesis(root, env, "heal")
    assert code == 1, out + err
    assert '~ URL: "https://b.example/x" -> "https://a.example/x"' in out
    assert f"      note: {NOTE}\n" in out
    assert out.count("note:") == 1  # LOG_LEVEL is created, BASE agrees: nothing to say about them

    code, out, err = genesis(root, env, "heal", "--json")
    assert code == 1, out + err
    [update] = json.loads(out)["plan"]["targets"]["target"]["update"]
    assert update["notes"] == [{"kind": "replaces_expansion", "note": NOTE}]

    code, out, err = genesis(root, env, "heal", "--apply")
    assert code == 0, out + err
    assert NOTE in out
    assert (root / ".env.target").read_text(encoding="utf-8") == (
        "BASE=https://b.example\nURL=https://a.example/x\nLOG_LEVEL=info\n")
