"""Environments: configuration errors, per-environment sync, the comparison across environments, events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

PLATFORMS = """
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
"""

ENVIRONMENTS = """
[environments.production]
platforms = ["local_prod", "web_prod"]
reference = "local_prod"

[environments.staging]
platforms = ["local_staging", "web_staging"]

[sync]
same_everywhere = ["FEATURE_*", "LOG_FORMAT"]
"""

PROD = "DATABASE_URL=postgres://prod\nFEATURE_X=on\nLOG_FORMAT=json\n"
STAGING = "DATABASE_URL=postgres://staging\nLOG_FORMAT=text\n"


def project(tmp_path: Path, config: str = PLATFORMS + ENVIRONMENTS, **files: str) -> Path:
    defaults = {".env.production": PROD, ".env.web.production": PROD, ".env.staging": STAGING,
                ".env.web.staging": STAGING}
    for name, text in {**defaults, **{"." + k.replace("_", "."): v for k, v in files.items()}}.items():
        (tmp_path / name).write_text(text)
    cfg = tmp_path / "genesis.toml"
    cfg.write_text(config)
    return cfg


def history(run_cli, cfg: Path) -> list[dict]:
    code, out, _ = run_cli("--config", str(cfg), "events", "history", "--json", "--limit", "100")
    assert code == 0
    return [json.loads(line) for line in out.splitlines()]


# -- configuration --------------------------------------------------------------------------

@pytest.mark.parametrize(("config", "expected"), [
    (PLATFORMS + '[environments.production]\nplatforms = ["local_prod", "web_prod"]\n'
                 '[environments.staging]\nplatforms = ["local_staging"]\n',
     "platforms.web_staging: web_staging is in no environment"),
    (PLATFORMS + '[environments.production]\nplatforms = ["local_prod", "web_prod", "web_staging"]\n'
                 '[environments.staging]\nplatforms = ["local_staging", "web_staging"]\n',
     "environments.staging.platforms[1]: web_staging is already in environment 'production'"),
    (PLATFORMS + '[environments.production]\nplatforms = ["local_prod", "web_prod", "nope"]\n',
     "environments.production.platforms[2]: unknown platform instance 'nope'"),
    (PLATFORMS + '[environments.production]\nplatforms = ["local_prod", "web_prod"]\nreference = "web_staging"\n'
                 '[environments.staging]\nplatforms = ["local_staging", "web_staging"]\n',
     "environments.production.reference: 'web_staging' is not one of this environment's platforms"),
    (PLATFORMS + '[environments.production]\nplatforms = []\n',
     "environments.production.platforms: must name at least one platform instance"),
    (PLATFORMS + '[environments.production]\nplatform = ["local_prod"]\n',
     "environments.production.platform: unknown key"),
    (PLATFORMS + '[environments."9lives"]\nplatforms = ["local_prod"]\n', "invalid environment name '9lives'"),
    (PLATFORMS + '[sync]\nsame_everywhere = ["FEATURE_*"]\n',
     "sync.same_everywhere: needs [environments.NAME] tables"),
    (PLATFORMS + ENVIRONMENTS.replace('"LOG_FORMAT"]', '"re:("]'), "sync.same_everywhere[1]: invalid key pattern"),
])
def test_configuration_errors_name_the_file_and_key(tmp_path: Path, run_cli, config: str, expected: str) -> None:
    cfg = project(tmp_path, config)
    code, out, err = run_cli("--config", str(cfg), "sync")
    assert code == 2
    assert expected in err, err
    assert str(cfg) in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_without_environments_nothing_changes(tmp_path: Path, run_cli) -> None:
    cfg = project(tmp_path, PLATFORMS)
    code, out, err = run_cli("--config", str(cfg), "sync", "--json")
    assert code == 1, err
    payload = json.loads(out)
    assert "environments" not in payload and "environment" not in payload
    assert payload["missing_in_local_staging"] == ["FEATURE_X"]
    topics = [e["_genesis_topic"] for e in history(run_cli, cfg)]
    assert topics == ["envsync.init", "envsync.drift"]
    assert "environments" not in history(run_cli, cfg)[0]


# -- sync with environments -------------------------------------------------------------------

def test_json_has_one_object_per_environment_and_the_across_result(tmp_path: Path, run_cli) -> None:
    cfg = project(tmp_path, env_web_staging="DATABASE_URL=postgres://staging2\nLOG_FORMAT=text\n")
    code, out, err = run_cli("--config", str(cfg), "sync", "--json")
    assert code == 1, err
    doc = json.loads(out)
    assert set(doc) == {"environments", "across", "has_drift", "verified_at"}
    assert list(doc["environments"]) == ["production", "staging"]
    assert doc["has_drift"] is True
    production, staging = doc["environments"]["production"], doc["environments"]["staging"]
    # each environment's object is exactly what a single-environment sync prints
    assert production["has_drift"] is False and production["instances"] == ["local_prod", "web_prod"]
    assert set(production) == {"verified_at", "has_drift", "missing_in_local_prod", "missing_in_web_prod",
                               "conflicts", "summary", "instances", "platforms"}
    assert staging["conflicts"] == {"DATABASE_URL": {"local_staging": "postgres://staging",
                                                     "web_staging": "postgres://staging2"}}
    assert list(staging["platforms"]) == ["local_staging", "web_staging"]
    # DATABASE_URL differs between environments on purpose: never a conflict across them
    assert doc["across"] == {"missing": {"production": [], "staging": ["FEATURE_X"]},
                             "conflicts": {"LOG_FORMAT": {"production": "json", "staging": "text"}},
                             "drift_count": 2}


def test_events_one_per_environment_then_cross_drift(tmp_path: Path, run_cli) -> None:
    cfg = project(tmp_path)
    code, _, err = run_cli("--config", str(cfg), "sync")
    assert code == 1, err
    events = history(run_cli, cfg)
    assert [e["_genesis_topic"] for e in events] == ["envsync.init", "envsync.commit", "envsync.commit",
                                                     "envsync.cross_drift"]
    init, production, staging, cross = events
    assert init["environments"] == ["production", "staging"]
    assert production["environment"] == "production" and staging["environment"] == "staging"
    assert production["summary"] == {"total_keys": 3, "local_prod_count": 3, "web_prod_count": 3,
                                     "drift_count": 0}
    assert cross["environments"] == ["production", "staging"] and cross["has_drift"] is True
    assert cross["missing"] == {"production": [], "staging": ["FEATURE_X"]}
    assert cross["drift_count"] == 2


def test_exit_code_is_0_only_when_every_environment_and_the_across_check_agree(tmp_path: Path, run_cli) -> None:
    same = "DATABASE_URL=postgres://x\nFEATURE_X=on\nLOG_FORMAT=json\n"
    other = "DATABASE_URL=postgres://y\nFEATURE_X=on\nLOG_FORMAT=json\n"
    cfg = project(tmp_path, env_production=same, env_web_production=same, env_staging=other,
                  env_web_staging=other)
    code, out, err = run_cli("--config", str(cfg), "sync")
    assert code == 0, out + err
    assert "Parity across environments: 2 environments hold the same keys" in out
    topics = [e["_genesis_topic"] for e in history(run_cli, cfg)]
    assert topics[-1] == "envsync.cross_drift" and history(run_cli, cfg)[-1]["has_drift"] is False


def test_env_option_checks_only_that_environment_and_nothing_across(tmp_path: Path, run_cli) -> None:
    cfg = project(tmp_path)
    code, out, err = run_cli("--config", str(cfg), "sync", "--env", "staging", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert list(doc["environments"]) == ["staging"] and doc["across"] is None
    events = history(run_cli, cfg)
    assert [e["_genesis_topic"] for e in events] == ["envsync.init", "envsync.commit"]
    assert events[0]["instances"] == ["local_staging", "web_staging"]
    code, out, err = run_cli("--config", str(cfg), "sync", "--env", "staging", "--env", "production")
    assert code == 0, err
    assert "nothing was compared across environments" in err


@pytest.mark.parametrize(("args", "expected"), [
    (("--env", "qa"), "--env: unknown environment qa (configured: production, staging)"),
    (("--env", "staging", "--only", "local_prod"), "--env and --only leave no platform to compare"),
])
def test_env_option_errors(tmp_path: Path, run_cli, args: tuple[str, ...], expected: str) -> None:
    cfg = project(tmp_path)
    code, _, err = run_cli("--config", str(cfg), "sync", *args)
    assert code == 2 and expected in err


def test_env_option_without_environments_is_a_usage_error(tmp_path: Path, run_cli) -> None:
    cfg = project(tmp_path, PLATFORMS)
    code, _, err = run_cli("--config", str(cfg), "sync", "--env", "staging")
    assert code == 2 and "--env: no environments are configured" in err


def test_terminal_view_has_a_section_per_environment_and_the_matrix(tmp_path: Path, run_cli) -> None:
    cfg = project(tmp_path)
    code, out, _ = run_cli("--config", str(cfg), "sync")
    assert code == 1
    assert out.index("Environment production") < out.index("Environment staging") < out.index(
        "Across environments")
    matrix = out[out.index("Keys missing in an environment"):]
    row = next(line for line in matrix.splitlines() if "FEATURE_X" in line)
    assert row.split("│")[2].strip() == "✓" and row.split("│")[3].strip() == "✗"
    assert "Drift across environments: 2 difference(s) (1 missing, 1 conflicting) across 2 environments" in out


def test_markdown_view_has_a_section_per_environment_and_the_matrix(tmp_path: Path, run_cli) -> None:
    cfg = project(tmp_path)
    code, out, _ = run_cli("--config", str(cfg), "sync", "--format", "markdown")
    assert code == 1
    assert "### ✅ Genesis (production): 2 platforms in parity" in out
    assert "### ✅ Genesis (staging): 2 platforms in parity" in out
    assert "### ⚠️ Genesis: environments differ, 2 differences across 2 environments" in out
    assert "| `FEATURE_X` | ✓ | ✗ |" in out
    assert "| `LOG_FORMAT` | `json` | `text` |" in out


def test_shared_secret_values_are_masked_across_environments(tmp_path: Path, run_cli) -> None:
    token_a, token_b = "ghp_" + "a" * 36, "ghp_" + "b" * 36
    config = PLATFORMS + ENVIRONMENTS.replace('"LOG_FORMAT"]', '"LOG_FORMAT", "SHARED_TOKEN"]')
    cfg = project(tmp_path, config, env_production=PROD + f"SHARED_TOKEN={token_a}\n",
                  env_web_production=PROD + f"SHARED_TOKEN={token_a}\n",
                  env_staging=STAGING + f"SHARED_TOKEN={token_b}\n",
                  env_web_staging=STAGING + f"SHARED_TOKEN={token_b}\n")
    code, out, err = run_cli("--config", str(cfg), "sync", "--json")
    assert code == 1
    shown = json.loads(out)["across"]["conflicts"]["SHARED_TOKEN"]
    assert shown["production"].startswith("<secret fp:") and shown["staging"].startswith("<secret fp:")
    assert shown["production"] != shown["staging"]
    everything = out + err + json.dumps(history(run_cli, cfg))
    assert token_a not in everything and token_b not in everything


def test_an_unreadable_platform_is_an_error_for_the_whole_run(tmp_path: Path, run_cli) -> None:
    cfg = project(tmp_path)
    (tmp_path / ".env.web.staging").unlink()
    code, out, err = run_cli("--config", str(cfg), "sync", "--json")
    assert code == 2
    payload = json.loads(out)
    assert payload["type"] == "sync_error" and payload["environments"] == {"web_staging": "staging"}
    assert [e["_genesis_topic"] for e in history(run_cli, cfg)] == ["envsync.init", "envsync.error"]


# -- engines follow ------------------------------------------------------------------------------

def test_truth_records_each_environment_and_the_comparison_across(tmp_path: Path, run_cli) -> None:
    cfg = project(tmp_path, env_web_staging="DATABASE_URL=postgres://other\nLOG_FORMAT=text\n")
    assert run_cli("--config", str(cfg), "sync")[0] == 1
    code, out, err = run_cli("--config", str(cfg), "ledger", "show", "--json")
    assert code == 0, err
    entries = json.loads(out)
    assert [(e["topic"], e["payload"].get("environment")) for e in entries] == [
        ("envsync.commit", "production"), ("envsync.drift", "staging"), ("envsync.cross_drift", None)]
    assert entries[2]["payload"]["missing"]["staging"] == ["FEATURE_X"]
    assert run_cli("--config", str(cfg), "ledger", "verify")[0] == 0


def test_steward_reports_the_drifting_environment_and_the_comparison_across(tmp_path: Path, run_cli) -> None:
    cfg = project(tmp_path, env_web_staging="DATABASE_URL=postgres://other\nLOG_FORMAT=text\n")
    assert run_cli("--config", str(cfg), "sync")[0] == 1
    code, out, _ = run_cli("--config", str(cfg), "steward", "report", "--env", "staging")
    assert code == 0 and out.startswith("### ⚠️ Genesis (staging): drift detected, 1 difference")
    code, out, _ = run_cli("--config", str(cfg), "steward", "report", "--across")
    assert code == 0 and "| `FEATURE_X` | ✓ | ✗ |" in out


def test_doctor_lists_the_environments_and_names_a_bad_table(tmp_path: Path, run_cli) -> None:
    cfg = project(tmp_path)
    code, out, err = run_cli("--config", str(cfg), "doctor", "--offline")
    assert "ok    2 environment(s): production (local_prod, web_prod); staging (local_staging, web_staging)" in out
    cfg.write_text(PLATFORMS + '[environments.production]\nplatforms = ["local_prod", "web_prod"]\n')
    code, out, err = run_cli("--config", str(cfg), "doctor", "--offline")
    assert code == 2
    assert "platforms.local_staging: local_staging is in no environment" in out
    assert "fix: correct the [environments.*] tables" in out


def test_only_narrows_platforms_and_skips_the_comparison_across(tmp_path: Path, run_cli) -> None:
    cfg = project(tmp_path)
    code, out, err = run_cli("--config", str(cfg), "sync", "--only", "local_prod,local_staging", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert {name: env["instances"] for name, env in doc["environments"].items()} == {
        "production": ["local_prod"], "staging": ["local_staging"]}
    assert doc["across"] is None
    assert "nothing was compared across environments (--env or --only narrowed the run)" in err
