"""Heroku, Fly.io and Railway end to end: `genesis init`, `emulate`, `sync` and `heal` against their emulators."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

for _module in ("genesis_heroku", "genesis_fly", "genesis_railway"):
    pytest.importorskip(_module, reason="needs the heroku, fly and railway plugins "
                                        "(pip install -r requirements-all.txt)")

from genesis_core.demo.app_data import DemoApp, dotenv_text, drifted_app  # noqa: E402
from genesis_core.demo.emulators import DEMO_IDS, RunningEmulator, running_emulators  # noqa: E402

KINDS = ("heroku", "fly", "railway")
SECRET_KEYS = ("STRIPE_SECRET_KEY", "JWT_SECRET", "AWS_SECRET_ACCESS_KEY", "DATABASE_URL")


def config_text(emulators: dict[str, RunningEmulator], extra: str = "") -> str:
    lines = ['[platforms.local]', 'kind = "dotenv"', 'path = ".env"', ""]
    for kind, running in emulators.items():
        lines.append(f"[platforms.{kind}]")
        lines += [f'{key} = "{value}"' for key, value in DEMO_IDS[kind].items()]
        lines += [f'base_url = "{running.base_url}"', "retries = 1", "timeout = 5", ""]
    return "\n".join(lines) + extra


@pytest.fixture
def project(tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, DemoApp, dict[str, RunningEmulator]]]:
    app = drifted_app()
    (tmp_path / ".env").write_text(dotenv_text(app.local))
    with running_emulators(app, KINDS) as emulators:
        (tmp_path / "genesis.toml").write_text(config_text(emulators, '\n[engines.autonomy]\nreference = "local"\n'
                                                                       "overwrite_conflicts = true\n"))
        for running in emulators.values():
            monkeypatch.setenv(running.token_env, running.token)
        monkeypatch.chdir(tmp_path)
        yield tmp_path, app, emulators


def test_init_writes_a_table_for_each_and_doctor_names_every_placeholder(run_cli, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli("init", "heroku", "fly", "railway")
    assert code == 0, err
    for name, env in (("heroku", "HEROKU_API_KEY"), ("fly", "FLY_API_TOKEN"), ("railway", "RAILWAY_TOKEN")):
        assert re.search(rf"^\s+{name}\s+{env}$", out, re.M), out
    text = (tmp_path / "genesis.toml").read_text()
    for table in ("[platforms.heroku]", "[platforms.fly]", "[platforms.railway]"):
        assert table in text
    assert 'project_id = "REPLACE_ME"' in text and "# redeploy = false" in text
    for name in ("HEROKU_API_KEY", "FLY_API_TOKEN", "RAILWAY_TOKEN"):
        monkeypatch.setenv(name, "placeholder-token")
    code, out, _ = run_cli("doctor", "--offline")
    assert code == 2
    for where in ("heroku.app", "fly.app", "railway.project_id", "railway.environment_id", "railway.service_id"):
        assert f"platforms.{where} still holds the placeholder" in out


def test_emulate_serves_heroku_fly_and_railway_until_stopped(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "genesis_core", "emulate", *KINDS, "--seconds", "30"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            env=dict(os.environ))
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(4)]
        found = {}
        for line in lines[1:]:
            kind, url, env, token = re.search(r'^\s+(\w+)\s+base_url = "([^"]+)"\s+export (\w+)=(\S+)', line).groups()
            found[kind] = (url, env, token)
        assert sorted(found) == sorted(KINDS)
        url, _, token = found["heroku"]
        request = urllib.request.Request(f"{url}/apps/acme-shop-api/config-vars", headers={
            "Authorization": f"Bearer {token}", "Accept": "application/vnd.heroku+json; version=3"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.load(response)["APP_NAME"] == "acme-shop"
        url, _, token = found["fly"]
        request = urllib.request.Request(f"{url}/v1/apps/acme-shop/secrets",
                                         headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert "APP_NAME" in [s["name"] for s in json.load(response)["secrets"]]
        url, env, token = found["railway"]
        assert env == "RAILWAY_TOKEN"
        body = json.dumps({"query": "query v($p: String!, $e: String!, $s: String) { variables(projectId: $p, "
                                    "environmentId: $e, serviceId: $s, unrendered: true) }",
                           "variables": {"p": DEMO_IDS["railway"]["project_id"],
                                         "e": DEMO_IDS["railway"]["environment_id"],
                                         "s": DEMO_IDS["railway"]["service_id"]}}).encode()
        request = urllib.request.Request(f"{url}/graphql/v2", data=body, headers={
            "Project-Access-Token": token, "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.load(response)["data"]["variables"]["LOG_LEVEL"] == "debug"
        proc.terminate()
        assert proc.wait(timeout=20) == 0
    finally:
        proc.kill()


def test_emulate_refuses_an_unknown_kind(run_cli) -> None:
    code, _, err = run_cli("emulate", "heroku", "dokku")
    assert code == 2 and "no emulator for dokku" in err


def test_sync_reports_each_platforms_drift(run_cli, project: tuple[Path, DemoApp, dict[str, RunningEmulator]]) -> None:
    _, app, _ = project
    code, out, err = run_cli("sync", "--json", "--no-progress")
    assert code == 1, err
    payload = json.loads(out)
    assert payload["missing_in_heroku"] == ["FEATURE_RECOMMENDATIONS"]
    assert payload["missing_in_fly"] == ["SESSION_TIMEOUT_MINUTES"]
    assert payload["missing_in_railway"] == ["CACHE_TTL_SECONDS"]
    conflicts = payload["conflicts"]
    assert set(conflicts["DATABASE_URL"]) >= {"local", "heroku"}  # the add-on's own value
    assert conflicts["LOG_LEVEL"]["railway"] == "debug"
    for key in SECRET_KEYS:
        assert app.local[key] not in out + err


# -- heal: one Heroku release, staged Fly secrets, Railway upserts without deploys -------------------

pytest.importorskip("genesis_autonomy", reason="heal needs the autonomy plugin")

HEROKU_DRIFT = {"LOG_LEVEL": "warning", "PORT": "5000"}  # two conflicts on top of the demo's drift
HEROKU_DROPPED = ("MAX_UPLOAD_MB",)


def drift_heroku_more(emulators: dict[str, RunningEmulator], app: DemoApp) -> dict[str, str]:
    heroku = emulators["heroku"].server
    config = {k: v for k, v in heroku.config("acme-shop-api").items() if k not in HEROKU_DROPPED}
    heroku.set_config("acme-shop-api", {**config, **HEROKU_DRIFT})
    return {key: app.local[key] for key in (*HEROKU_DRIFT, *HEROKU_DROPPED, "FEATURE_RECOMMENDATIONS")}


def test_heal_plan_says_what_each_platform_does_with_a_write(
        run_cli, project: tuple[Path, DemoApp, dict[str, RunningEmulator]]) -> None:
    _, app, emulators = project
    drift_heroku_more(emulators, app)
    code, out, err = run_cli("heal", "--verbose")
    assert code == 1, err
    assert "heroku (heroku): 2 to create, 2 to update" in out
    assert ("one change for all 4 key(s): the write restarts the app (Heroku makes one new release for the "
            "app's changes)") in out
    assert re.search(r"= DATABASE_URL: left alone: managed by the Heroku add-on heroku-postgresql-emulated-1 "
                     r"\(heroku-postgresql:essential-0\) through attachment DATABASE", out)
    assert "+ SESSION_TIMEOUT_MINUTES = \"30\"  [staged: effective at the next deploy]" in out
    assert "+ CACHE_TTL_SECONDS = \"300\"  [staged (skipDeploys): effective at the next deploy of the service]" in out
    for key in SECRET_KEYS:
        assert app.local[key] not in out + err

    code, out, _ = run_cli("heal", "--json")
    targets = json.loads(out)["plan"]["targets"]
    assert targets["heroku"]["batch"] is True and targets["fly"]["batch"] is False
    assert {w["effect"]["kind"] for w in targets["heroku"]["create"] + targets["heroku"]["update"]} == {"restart"}
    assert [w["effect"] for w in targets["fly"]["create"]] == [
        {"kind": "staged", "note": "staged: effective at the next deploy"}]
    managed = [s for s in targets["heroku"]["left_alone"] if s.get("managed")]
    assert [s["key"] for s in managed] == ["DATABASE_URL"]


def test_heal_apply_writes_heroku_in_one_release_and_stages_fly_and_railway(
        run_cli, project: tuple[Path, DemoApp, dict[str, RunningEmulator]]) -> None:
    _, app, emulators = project
    expected_patch = drift_heroku_more(emulators, app)
    heroku, fly, railway = (emulators[kind].server for kind in KINDS)
    deployed_before = fly.machine_env("acme-shop")
    code, out, err = run_cli("heal", "--apply")
    assert code == 0, out + err

    # Heroku: exactly one PATCH holding exactly the changed keys, all strings; one release, one restart.
    from genesis_heroku.testing import patches

    assert patches(heroku.requests) == [expected_patch]
    assert len(heroku.releases("acme-shop-api")) == 1 and heroku.restarts("acme-shop-api") == 1
    assert heroku.config("acme-shop-api")["DATABASE_URL"] != app.local["DATABASE_URL"]  # the add-on's, untouched
    assert "✓ heroku PORT (update): applied, verified; restarts the app" in out

    # Fly: one POST per secret, never the bulk endpoint nor a DELETE; running Machines see nothing yet.
    writes = [(r.method, r.path) for r in fly.requests if r.method != "GET"]
    assert writes == [("POST", "/v1/apps/acme-shop/secrets/SESSION_TIMEOUT_MINUTES")]
    assert fly.secrets("acme-shop")["SESSION_TIMEOUT_MINUTES"] == app.local["SESSION_TIMEOUT_MINUTES"]
    assert fly.machine_env("acme-shop") == deployed_before
    assert ("✓ fly SESSION_TIMEOUT_MINUTES (create): applied, write-only: recorded, later syncs verify it; "
            "staged: effective at the next deploy") in out

    # Railway: variableUpsert only, with skipDeploys; no deploy started.
    from genesis_railway.testing import graphql_operations

    operations = graphql_operations(railway.requests)
    assert set(operations) == {"variables", "variableUpsert"}
    upserts = [r.json()["variables"]["input"] for r in railway.requests
               if graphql_operations([r]) == ["variableUpsert"]]
    assert sorted(u["name"] for u in upserts) == ["CACHE_TTL_SECONDS", "LOG_LEVEL"]
    assert all(u["skipDeploys"] is True for u in upserts)
    assert railway.deployments() == []

    for key in SECRET_KEYS:
        assert app.local[key] not in out + err
    code, out, _ = run_cli("sync", "--json", "--no-progress")
    payload = json.loads(out)
    assert code == 1 and list(payload["conflicts"]) == ["DATABASE_URL"]  # only the add-on's value differs
    assert payload["missing_in_heroku"] == payload["missing_in_fly"] == payload["missing_in_railway"] == []


def test_a_failed_heroku_release_fails_all_its_keys_and_no_other_instance(
        run_cli, project: tuple[Path, DemoApp, dict[str, RunningEmulator]]) -> None:
    from genesis_core.testing.emulator import Response

    _, app, emulators = project
    drift_heroku_more(emulators, app)
    heroku = emulators["heroku"].server
    heroku.route_first("PATCH", r"/apps/[^/]+/config-vars",  # reads still work; the release fails
                       lambda request, match: Response(503, {"id": "unavailable", "message": "Release failed."}))
    code, out, err = run_cli("heal", "--apply", "--json")
    assert code == 1, err
    results = json.loads(out)["result"]["results"]
    heroku = [r for r in results if r["instance"] == "heroku"]
    assert len(heroku) == 4 and {r["status"] for r in heroku} == {"failed"}
    assert all("one change for all 4 key(s) of heroku, none written" in r["detail"] for r in heroku)
    assert {r["status"] for r in results if r["instance"] != "heroku"} <= {"verified", "unverifiable"}
    assert emulators["heroku"].server.releases("acme-shop-api") == []
    for key in SECRET_KEYS:
        assert app.local[key] not in out + err
