"""`genesis sync` end to end on local platforms: events, exit codes, output formats, failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genesis_core.sync import initiated_by

CANARY = "sk_live_CANARY9f8e7d6c5b4a3928"

SLOW_KIND = """
import asyncio
from genesis_core import hookimpl
from genesis_core.platforms.model import PlatformAdapter, PlatformKind, Snapshot, Variable

BARRIER = None

class Rendezvous(PlatformAdapter):
    kind = "rendezvous"
    def __init__(self, instance):
        super().__init__(instance)
        self.parties = instance.table.int("parties")
    async def fetch(self, ctx):
        global BARRIER
        if BARRIER is None:
            BARRIER = asyncio.Barrier(self.parties)
        # Completes only if every instance is being fetched at the same time.
        await asyncio.wait_for(BARRIER.wait(), timeout=5)
        return Snapshot(self.name, self.kind, {"SHARED": Variable("SHARED", "1")})

class Exploding(PlatformAdapter):
    kind = "exploding"
    async def fetch(self, ctx):
        raise RuntimeError("boom with secret sk_live_CANARY9f8e7d6c5b4a3928")

@hookimpl
def genesis_register_platforms(register):
    register(PlatformKind(name="rendezvous", factory=Rendezvous))
    register(PlatformKind(name="exploding", factory=Exploding))
"""


def project(tmp_path: Path, config: str, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    cfg = tmp_path / "genesis.toml"
    cfg.write_text(config)
    return cfg


THREE = """
[platforms.local]
kind = "dotenv"
path = ".env"
[platforms.staging]
kind = "dotenv"
path = ".env.staging"
[platforms.prod]
kind = "dotenv"
path = ".env.prod"
"""


def history(run_cli, cfg: Path) -> list[dict]:
    code, out, _ = run_cli("--config", str(cfg), "events", "history", "--json", "--limit", "50")
    assert code == 0
    return [json.loads(line) for line in out.splitlines()]


def test_parity_exits_0_and_publishes_init_then_commit(tmp_path: Path, run_cli) -> None:
    env = "A=1\nDEBUG=false\n"
    cfg = project(tmp_path, THREE, {".env": env, ".env.staging": env, ".env.prod": env})
    code, out, err = run_cli("--config", str(cfg), "sync")
    assert code == 0, err
    assert "Parity" in out and "2 keys" in out
    events = history(run_cli, cfg)
    assert [e["_genesis_topic"] for e in events] == ["envsync.init", "envsync.commit"]
    init, commit = events
    assert init["type"] == "sync_init" and init["source"] == "local" and init["initiated_by"] in ("cli", "ci")
    assert commit["has_drift"] is False and commit["summary"]["total_keys"] == 2
    assert commit["summary"]["prod_count"] == 2
    assert commit["_genesis_seq"] > init["_genesis_seq"]


def test_drift_exits_1_with_the_seed_payload_shape(tmp_path: Path, run_cli) -> None:
    cfg = project(tmp_path, THREE, {
        ".env": "A=1\nB=2\nDEBUG=false\n",
        ".env.staging": "A=1\nB=2\nDEBUG=true\n",
        ".env.prod": "A=1\nDEBUG=false\nEXTRA=x\n",
    })
    code, out, err = run_cli("--config", str(cfg), "sync", "--json")
    assert code == 1, err
    payload = json.loads(out)
    assert payload["has_drift"] is True
    assert payload["missing_in_prod"] == ["B"]
    assert payload["missing_in_local"] == ["EXTRA"] and payload["missing_in_staging"] == ["EXTRA"]
    assert payload["conflicts"] == {"DEBUG": {"local": "false", "staging": "true", "prod": "false"}}
    assert payload["summary"]["drift_count"] == 4
    assert payload["platforms"]["prod"]["status"] == "ok"
    assert history(run_cli, cfg)[-1]["_genesis_topic"] == "envsync.drift"


def test_unreadable_platform_exits_2_publishes_error_and_no_drift(tmp_path: Path, run_cli) -> None:
    cfg = project(tmp_path, THREE, {".env": "A=1\n", ".env.staging": "A=1\nB=2\n"})
    code, out, err = run_cli("--config", str(cfg), "sync", "--json")
    assert code == 2
    payload = json.loads(out)
    assert payload["type"] == "sync_error" and payload["failed"] == ["prod"]
    assert "prod: .env.prod: file not found" in err
    topics = [e["_genesis_topic"] for e in history(run_cli, cfg)]
    assert topics == ["envsync.init", "envsync.error"]
    assert "Traceback" not in err


def test_a_crashing_adapter_is_an_error_for_that_platform_only(tmp_path: Path, run_cli, fake_dist) -> None:
    fake_dist("genesis-testkinds", {"testkinds": "testkinds_mod"}, {"testkinds_mod": SLOW_KIND})
    cfg = project(tmp_path, THREE.replace('kind = "dotenv"\npath = ".env.prod"', 'kind = "exploding"'),
                  {".env": "A=1\n", ".env.staging": "A=1\n"})
    code, out, err = run_cli("--config", str(cfg), "sync")
    assert code == 2
    assert "prod: adapter failed unexpectedly (RuntimeError)" in err
    assert CANARY not in out + err


def test_platforms_are_fetched_concurrently(tmp_path: Path, run_cli, fake_dist) -> None:
    fake_dist("genesis-testkinds", {"testkinds": "testkinds_mod"}, {"testkinds_mod": SLOW_KIND})
    config = "".join(f'[platforms.p{i}]\nkind = "rendezvous"\nparties = 4\n' for i in range(4))
    cfg = project(tmp_path, config, {})
    code, out, err = run_cli("--config", str(cfg), "sync", "--json")
    assert code == 0, err
    assert json.loads(out)["summary"]["total_keys"] == 1


def test_only_limits_instances_and_rejects_unknown_names(tmp_path: Path, run_cli) -> None:
    cfg = project(tmp_path, THREE, {".env": "A=1\n", ".env.staging": "A=1\n"})
    code, out, _ = run_cli("--config", str(cfg), "sync", "--only", "local,staging", "--json")
    assert code == 0 and json.loads(out)["instances"] == ["local", "staging"]
    code, _, err = run_cli("--config", str(cfg), "sync", "--only", "nope")
    assert code == 2 and "--only: unknown platform nope (configured: local, staging, prod)" in err


def test_scoping_and_ignore(tmp_path: Path, run_cli) -> None:
    config = """
[sync]
ignore = ["LOCAL_ONLY_*"]
[platforms.frontend]
kind = "dotenv"
path = "fe.env"
[platforms.backend]
kind = "dotenv"
path = "be.env"
exclude = ["VITE_*"]
"""
    cfg = project(tmp_path, config, {"fe.env": "API=1\nVITE_URL=x\nLOCAL_ONLY_X=1\n", "be.env": "API=1\n"})
    code, out, err = run_cli("--config", str(cfg), "sync", "--json")
    assert code == 0, out + err
    assert json.loads(out)["missing_in_backend"] == []


def test_secret_values_never_reach_any_output(tmp_path: Path, run_cli) -> None:
    cfg = project(tmp_path, THREE, {
        ".env": f"STRIPE_KEY={CANARY}\nA=1\n",
        ".env.staging": "STRIPE_KEY=sk_live_other0000000000000000\nA=1\n",
        ".env.prod": "A=1\n",
    })
    outputs = []
    for fmt in ("table", "json", "markdown"):
        code, out, err = run_cli("--config", str(cfg), "sync", "--format", fmt)
        assert code == 1
        outputs.append(out + err)
    outputs.append("".join(run_cli("--config", str(cfg), "events", "history", "--json", "--limit", "100")[1:]))
    assert "STRIPE_KEY" in outputs[1]
    for text in outputs:
        assert CANARY not in text
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.name != ".env":
            assert CANARY.encode() not in path.read_bytes(), path


def test_markdown_format(tmp_path: Path, run_cli) -> None:
    cfg = project(tmp_path, THREE, {".env": "A=1\nB=1\n", ".env.staging": "A=1\n", ".env.prod": "A=2\n"})
    code, out, _ = run_cli("--config", str(cfg), "sync", "--format", "markdown")
    assert code == 1
    assert out.startswith("### ⚠️ Genesis: drift detected, 3 differences across 3 platforms")
    assert "| `A` | `1` | `1` | `2` |" in out
    assert "- `staging` lacks 1: `B`" in out


def test_markdown_of_an_unreadable_platform(tmp_path: Path, run_cli) -> None:
    cfg = project(tmp_path, THREE, {".env": "A=1\n", ".env.staging": "A=1\n"})
    code, out, _ = run_cli("--config", str(cfg), "sync", "--format", "markdown")
    assert code == 2
    assert out.startswith("### ⛔ Genesis: sync could not complete, 1 platform unreadable")
    assert "- `prod`: \\.env\\.prod: file not found" in out or "- `prod`: " in out
    assert "No drift is reported" in out


def test_config_errors_are_one_line_exit_2(tmp_path: Path, run_cli) -> None:
    cfg = project(tmp_path, '[platforms.web]\nkind = "renderr"\n', {})
    code, out, err = run_cli("--config", str(cfg), "sync")
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0
    assert f"{cfg}: platforms.web.kind: unknown platform kind 'renderr': did you mean 'render'?" in err
    assert "pip install" not in err
    code, _, err = run_cli("--config", str(tmp_path / "missing.toml"), "sync")
    assert code == 2 and "missing.toml: file not found" in err


BROKEN_ADAPTER = """
def _load():
    raise ImportError("No module named 'acme_sdk'")
_load()
"""


def test_a_kind_whose_plugin_failed_to_load_says_so(tmp_path: Path, run_cli, fake_dist,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dist("genesis-envsync-acme", {"acme": "acme_broken_mod"}, {"acme_broken_mod": BROKEN_ADAPTER})
    cfg = project(tmp_path, '[platforms.shop]\nkind = "acme"\n', {})
    code, out, err = run_cli("--config", str(cfg), "sync")
    assert (code, out) == (2, "")
    assert err.startswith(f"genesis: {cfg}: platforms.shop.kind: unknown platform kind 'acme' (installed: ")
    assert err.endswith("); plugins that did not load: acme (genesis-envsync-acme): ImportError: No module named "
                        "'acme_sdk'; see `genesis plugins`\n") and err.count("\n") == 1
    monkeypatch.setenv("GENESIS_DEBUG", "1")
    code, _, err = run_cli("--config", str(cfg), "sync")
    assert code == 2
    assert "genesis: plugin acme (genesis-envsync-acme) failed to load:\nTraceback (most recent call last)" in err
    assert 'acme_broken_mod.py", line 3, in _load' in err
    assert err.endswith("plugins that did not load: acme (genesis-envsync-acme): ImportError: No module named "
                        "'acme_sdk'; see `genesis plugins`\n")


def test_no_platforms_configured(tmp_path: Path, run_cli) -> None:
    cfg = project(tmp_path, "", {})
    code, _, err = run_cli("--config", str(cfg), "sync")
    assert code == 2 and "no platforms configured" in err


@pytest.mark.parametrize(("env", "expected"), [
    ({"GITHUB_ACTIONS": "true", "CI": "true"}, "github_actions"),
    ({"CI": "1"}, "ci"),
    ({}, "cli"),
])
def test_initiated_by(env, expected) -> None:
    assert initiated_by(env) == expected


KEY_KIND = """
from genesis_core import hookimpl
from genesis_core.platforms.model import PlatformAdapter, PlatformKind, Snapshot, Variable

class OddKeys(PlatformAdapter):
    kind = "oddkeys"
    async def fetch(self, ctx):
        key = "NEW\\nDEBUG"
        return Snapshot(self.name, self.kind, {key: Variable(key, "true"), "A": Variable("A", "1")})

@hookimpl
def genesis_register_platforms(register):
    register(PlatformKind(name="oddkeys", factory=OddKeys))
"""


def test_a_platform_returning_unusable_key_names_is_an_error(tmp_path: Path, run_cli, fake_dist) -> None:
    fake_dist("genesis-oddkeys", {"oddkeys": "oddkeys_mod"}, {"oddkeys_mod": KEY_KIND})
    cfg = project(tmp_path, '[platforms.local]\nkind = "dotenv"\n[platforms.odd]\nkind = "oddkeys"\n',
                  {".env": "A=1\n"})
    code, out, err = run_cli("--config", str(cfg), "sync")
    assert code == 2
    assert "odd: 1 variable name(s) are empty or contain spaces or control characters (not shown)" in err
    assert "NEW" not in out + err


FAILING_ENGINE = """
from genesis_core import hookimpl
from genesis_core.engines import Engine, Subscription

def _boom(event):
    raise RuntimeError("ledger disk is full")

@hookimpl
def genesis_register_engines(register):
    register(Engine("fragile", lambda ctx: [Subscription(("envsync.*",), _boom, "record")]))
"""


def test_an_engine_failing_on_the_result_is_reported_and_kept_for_retry(tmp_path: Path, run_cli,
                                                                        fake_dist) -> None:
    fake_dist("genesis-fragile", {"fragile": "fragile_mod"}, {"fragile_mod": FAILING_ENGINE})
    env = "A=1\n"
    cfg = project(tmp_path, THREE, {".env": env, ".env.staging": env, ".env.prod": env})
    code, _, err = run_cli("--config", str(cfg), "sync")
    assert code == 0  # the comparison itself completed
    assert "engine handler fragile:record failed on envsync.commit" in err
    assert "genesis events retry" in err
    code, out, _ = run_cli("--config", str(cfg), "events", "dead-letters", "--json")
    assert any(d["subscriber"] == "fragile:record" and d["topic"] == "envsync.commit" for d in json.loads(out))


def test_an_official_kind_that_is_not_registered_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    """Broken, disabled or not installed: told apart through the plugins seen (first_party.missing)."""
    import importlib.metadata

    from genesis_core.plugins import PluginInfo
    from genesis_core.sync import unknown_kind_message

    broken = PluginInfo("aws", "genesis-envsync-aws", "0.1.0", error="ImportError: kaput")
    assert unknown_kind_message("aws-secrets-manager", {"dotenv": None}, [broken]).endswith(
        "genesis-envsync-aws, which is installed but failed to load (ImportError: kaput); "
        "`genesis plugins` shows every plugin's state")
    disabled = PluginInfo("vault", "genesis-envsync-vault", "0.1.0", disabled=True)
    assert unknown_kind_message("vault", {"dotenv": None}, [broken, disabled]).endswith(
        "whose plugin 'vault' is disabled: remove vault from GENESIS_DISABLE_PLUGINS")

    def version(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    for kind, dist in (("aws-ssm", "aws"), ("vault", "vault"), ("render", "render")):
        assert unknown_kind_message(kind, {"dotenv": None}) == (
            f"platform kind {kind!r} needs genesis-envsync-{dist}, which is not installed: "
            f"pip install genesis-envsync-{dist}")
    assert "did you mean 'aws-ssm'?" in unknown_kind_message("aws-sms", {"dotenv": None})
