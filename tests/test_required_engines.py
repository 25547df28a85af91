"""``[engines.NAME] required``: a required engine that fails on a sync's own event makes it exit 2.

Issue 19 item 3.  Real ``genesis`` subprocesses, a real Truth key file with mode
0644 (which Truth refuses), real ``.env`` files at parity.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("genesis_truth", reason="the Truth engine (genesis-envsync-truth) is not installed")

KEY = "22" * 32


def _project(root: Path, engines: str = "") -> Path:
    (root / "a.env").write_text("APP_NAME=demo\nPORT=8000\n")
    (root / "b.env").write_text("APP_NAME=demo\nPORT=8000\n")
    config = root / "genesis.toml"
    config.write_text('[platforms.a]\nkind = "dotenv"\npath = "a.env"\n\n'
                      '[platforms.b]\nkind = "dotenv"\npath = "b.env"\n\n' + engines)
    return config


def _genesis(config: Path, home: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("GENESIS_TRUTH_KEY", "GENESIS_DISABLE_PLUGINS", "GENESIS_ROLE")}
    env["GENESIS_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "genesis_core", "--config", str(config), *argv],
                          capture_output=True, text=True, env=env, cwd=config.parent, timeout=120)


def _key_with_mode_0644(config: Path, home: Path) -> Path:
    made = _genesis(config, home, "ledger", "export-key")
    assert made.returncode == 0, made.stderr
    key = home / "truth" / "ed25519.key"
    key.chmod(0o644)
    return key


def test_sync_exits_2_when_the_required_truth_engine_cannot_record(tmp_path: Path) -> None:
    home = tmp_path / "home"
    config = _project(tmp_path)
    key = _key_with_mode_0644(config, home)
    run = _genesis(config, home, "sync", "--no-progress")
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert "Parity" in run.stdout  # the comparison itself is reported as usual
    # One line from the command, and nothing else (the bus's own log line for the failure is dropped).
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("genesis: "), run.stderr
    line = lines[0]
    assert line.startswith("genesis: required engine truth failed on envsync.commit: ")
    assert "mode 0644" in line and "chmod 600" in line  # the fix
    assert "required = false" in line
    # Once the key is fixed, the sync passes and the kept event is recorded on retry.
    key.chmod(0o600)
    again = _genesis(config, home, "sync", "--no-progress")
    assert again.returncode == 0, again.stderr
    assert again.stderr == ""


def test_a_failing_engine_that_is_not_required_keeps_the_exit_code(tmp_path: Path) -> None:
    home = tmp_path / "home"
    config = _project(tmp_path, "[engines.truth]\nrequired = false\n")
    _key_with_mode_0644(config, home)
    run = _genesis(config, home, "sync", "--no-progress")
    assert run.returncode == 0, run.stderr
    assert "engine handler truth:truth.record failed on envsync.commit" in run.stderr
    assert "kept for retry" in run.stderr


def test_required_must_be_true_or_false(tmp_path: Path) -> None:
    home = tmp_path / "home"
    config = _project(tmp_path, '[engines.truth]\nrequired = "yes"\n')
    run = _genesis(config, home, "sync", "--no-progress")
    assert run.returncode == 2
    assert run.stderr.strip() == f"genesis: {config}: engines.truth.required: expected true or false, got a string"


def test_heal_exits_2_when_a_required_engine_cannot_record_its_result(tmp_path: Path) -> None:
    pytest.importorskip("genesis_autonomy", reason="the Autonomy engine (genesis-envsync-autonomy) is not installed")
    home = tmp_path / "home"
    config = _project(tmp_path, '[engines.autonomy]\nreference = "a"\n')
    (tmp_path / "b.env").write_text("APP_NAME=demo\n")
    _key_with_mode_0644(config, home)
    run = _genesis(config, home, "heal", "--apply")
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert "PORT=8000" in (tmp_path / "b.env").read_text()  # the write itself happened
    required = [line for line in run.stderr.splitlines() if "required engine truth" in line]
    assert required and all("chmod 600" in line for line in required), run.stderr


def test_required_is_the_cores_switch_only_when_it_is_true_or_false(tmp_path: Path) -> None:
    from genesis_core.config import load_config
    from genesis_core.engines import Engine, required_engines

    config = load_config(_project(tmp_path, "[engines.steward]\nrequired = true\n\n"
                                            '[engines.blueprint]\nrequired = ["DATABASE_URL"]\n\n'
                                            "[engines.truth]\nrequired = false\n"))
    assert "required" not in config.engine("steward")  # the engine never sees the core's switch
    assert config.engine("blueprint")["required"] == ["DATABASE_URL"]  # Blueprint's own rule stays

    def engine(name: str, required: bool = False) -> Engine:
        return Engine(name, lambda ctx: [], required_by_default=required)

    engines = {"steward": engine("steward"), "blueprint": engine("blueprint"),
               "truth": engine("truth", True), "cascade": engine("cascade"), "other": engine("other", True)}
    assert required_engines(config, engines) == {"steward", "other"}


def test_heal_plan_exits_2_when_a_required_engine_records_plans_and_cannot(tmp_path: Path) -> None:
    pytest.importorskip("genesis_autonomy", reason="the Autonomy engine (genesis-envsync-autonomy) is not installed")
    home = tmp_path / "home"
    config = _project(tmp_path, '[engines.autonomy]\nreference = "a"\n\n'
                                '[engines.truth]\ntopics = ["autonomy.heal.planned"]\n')
    (tmp_path / "b.env").write_text("APP_NAME=demo\n")
    _key_with_mode_0644(config, home)
    run = _genesis(config, home, "heal")
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert "PORT=8000" not in (tmp_path / "b.env").read_text()  # a plan writes nothing
    assert "genesis: required engine truth failed on autonomy.heal.planned: " in run.stderr
