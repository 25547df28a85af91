"""Healing with environments: each environment from its own reference, never across environments,
except same_everywhere keys when a person passes --across; the engine heals the drift event's environment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from genesis_core.api import parse_dotenv, reset_bus
from genesis_core.testing import genesis_main, reset_plugin_host

CONFIG = """
[platforms.local_prod]
kind = "dotenv"
path = ".env.production"
[platforms.web_prod]
kind = "dotenv"
path = ".env.web.production"
[platforms.local_staging]
kind = "dotenv"
path = ".env.staging"
[platforms.web_staging]
kind = "dotenv"
path = ".env.web.staging"

[environments.production]
platforms = ["local_prod", "web_prod"]
reference = "local_prod"

[environments.staging]
platforms = ["local_staging", "web_staging"]
reference = "local_staging"

[sync]
same_everywhere = ["FEATURE_*", "LOG_FORMAT"]

[engines.autonomy]
overwrite_conflicts = true
"""

FILES = {
    ".env.production": {"DATABASE_URL": "postgres://prod", "FEATURE_X": "on", "LOG_FORMAT": "json",
                        "PROD_ONLY": "1"},
    ".env.web.production": {"DATABASE_URL": "postgres://prod", "FEATURE_X": "on", "LOG_FORMAT": "json",
                            "PROD_ONLY": "1"},
    ".env.staging": {"DATABASE_URL": "postgres://staging", "LOG_FORMAT": "text", "STAGING_NEW": "yes"},
    ".env.web.staging": {"DATABASE_URL": "postgres://other", "LOG_FORMAT": "text"},
}


@pytest.fixture
def envs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    root = tmp_path / "app"
    root.mkdir()
    monkeypatch.chdir(root)
    for name, values in FILES.items():
        (root / name).write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    (root / "genesis.toml").write_text(CONFIG)

    class Envs:
        config = root / "genesis.toml"

        def read(self, name: str) -> dict[str, str]:
            return {k: v for k, v in parse_dotenv(root / name).items() if v is not None}

        def run(self, *args: str) -> tuple[int, str, str]:
            reset_plugin_host()
            capsys.readouterr()
            try:
                code = genesis_main(["--config", str(self.config), *args])
            finally:
                reset_bus()
            out, err = capsys.readouterr()
            return code, out, err

    return Envs()


def test_each_environment_heals_from_its_own_reference_and_never_across(envs: Any) -> None:
    code, out, err = envs.run("heal", "--json")
    assert code == 1, err
    plans = {p["plan"]["environment"]: p["plan"] for p in json.loads(out)["plans"]}
    assert set(plans) == {"production", "staging"}
    assert plans["production"]["reference"] == "local_prod" and plans["staging"]["reference"] == "local_staging"
    assert plans["production"]["summary"]["writes"] == 0
    staging = plans["staging"]["targets"]["web_staging"]
    assert [w["key"] for w in staging["create"]] == ["STAGING_NEW"]
    assert [(w["key"], w["value"]) for w in staging["update"]] == [("DATABASE_URL", "postgres://staging")]

    code, out, err = envs.run("heal", "--apply")
    assert code == 0, out + err
    assert "Heal plan for environment staging: reference local_staging, 1 target(s)" in out
    web = envs.read(".env.web.staging")
    assert web["DATABASE_URL"] == "postgres://staging" and web["STAGING_NEW"] == "yes"
    assert "FEATURE_X" not in web and web["LOG_FORMAT"] == "text", "nothing is copied across environments"
    assert "PROD_ONLY" not in envs.read(".env.staging")
    assert envs.read(".env.production") == FILES[".env.production"]


def test_across_copies_only_same_everywhere_keys_from_the_source_environment(envs: Any) -> None:
    code, out, err = envs.run("heal", "--across", "--json")
    assert code == 1, err
    plans = json.loads(out)["plans"]
    across = next(p["plan"] for p in plans if p["plan"].get("across_from"))
    assert across["across_from"] == "production" and across["reference"] == "local_prod"
    assert set(across["targets"]) == {"local_staging", "web_staging"}
    for target in across["targets"].values():
        assert [w["key"] for w in target["create"]] == ["FEATURE_X"]
        assert [(w["key"], w["value"]) for w in target["update"]] == [("LOG_FORMAT", "json")]
    staging = next(p["plan"] for p in plans if p["plan"].get("environment") == "staging")
    left = staging["targets"]["web_staging"]["left_alone"]
    assert {"key": "LOG_FORMAT", "reason": "a same_everywhere key: healed across environments (--across)"} \
        not in left  # web_staging already agrees with local_staging on LOG_FORMAT: nothing to strip

    code, out, err = envs.run("heal", "--apply", "--across")
    assert code == 0, out + err
    assert "Heal plan across environments, from production: reference local_prod, 2 target(s)" in out
    for name in (".env.staging", ".env.web.staging"):
        values = envs.read(name)
        assert values["FEATURE_X"] == "on" and values["LOG_FORMAT"] == "json"
        assert "PROD_ONLY" not in values, "a key that is not same_everywhere never crosses environments"
    assert envs.read(".env.staging")["DATABASE_URL"] == "postgres://staging"
    code, out, err = envs.run("sync", "--json")
    assert code == 1  # PROD_ONLY is still missing in staging: never copied
    assert json.loads(out)["across"] == {"missing": {"production": ["STAGING_NEW"], "staging": ["PROD_ONLY"]},
                                         "conflicts": {}, "drift_count": 2}


def test_across_from_a_named_environment_and_the_env_option(envs: Any) -> None:
    code, out, err = envs.run("heal", "--env", "production", "--across", "staging", "--json")
    assert code == 1, err
    plans = json.loads(out)["plans"]
    assert [p["plan"].get("environment") or p["plan"]["across_from"] for p in plans] == ["production", "staging"]
    across = plans[1]["plan"]
    assert across["reference"] == "local_staging" and set(across["targets"]) == {"local_prod", "web_prod"}
    assert [(w["key"], w["value"]) for w in across["targets"]["web_prod"]["update"]] == [("LOG_FORMAT", "text")]


@pytest.mark.parametrize(("args", "config_change", "expected"), [
    (("--env", "qa"), None, "--env: unknown environment qa"),
    (("--across",), ('same_everywhere = ["FEATURE_*", "LOG_FORMAT"]', ""), "--across: [sync] same_everywhere"),
    ((), ('reference = "local_staging"\n', ""), "environments.staging.reference: is required to heal"),
    (("--only", "local_prod"), None, "--only: local_prod is the reference of environment production"),
])
def test_heal_errors_with_environments(envs: Any, args: tuple[str, ...], config_change: Any, expected: str) -> None:
    if config_change is not None:
        envs.config.write_text(CONFIG.replace(*config_change))
    code, out, err = envs.run("heal", *args)
    assert code == 2 and expected in err, err


def test_the_engine_heals_only_the_environment_of_the_drift_event(envs: Any) -> None:
    envs.config.write_text(CONFIG.replace("overwrite_conflicts = true", """overwrite_conflicts = true
auto_heal = true
role = "healer"
alert_threshold = 50

[guardian.roles.healer]
allow = ["autonomy.>"]
"""))
    code, out, err = envs.run("sync", "--env", "staging")
    assert code == 1, out + err  # the drift that was found (and then healed)
    assert envs.read(".env.web.staging")["DATABASE_URL"] == "postgres://staging"
    assert "FEATURE_X" not in envs.read(".env.web.staging")
    code, out, err = envs.run("events", "history", "--json", "--topic", "autonomy.>")
    events = [json.loads(line) for line in out.splitlines()]
    topics = [e["_genesis_topic"] for e in events]
    writes = topics.count("autonomy.heal.write")  # one per confirmed write, as it happens
    assert writes > 0
    assert topics == ["autonomy.heal.planned", "autonomy.heal.apply", *["autonomy.heal.write"] * writes,
                      "autonomy.heal.applied"]
    assert all(e["environment"] == "staging" for e in events)
    assert envs.run("sync", "--env", "staging")[0] == 0
