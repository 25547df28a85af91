"""``genesis heal`` against the Render, Netlify and GitHub emulators and a local ``.env``."""

from __future__ import annotations

import json
import re

import pytest

from genesis_core.testing import Fault

RENDER_BULK = r"/v1/services/[^/]+/env-vars"
NETLIFY_KEY = r"/api/v1/accounts/[^/]+/env/[^/]+"


def test_dry_run_prints_the_masked_plan_and_writes_nothing(project, assert_no_canary) -> None:
    code, out, err = project.run("heal")
    assert code == 1, err
    assert "render (render): 3 to create, 1 to update" in out
    assert '~ DEBUG: "true" -> "false"' in out
    assert '+ FEATURE_X = "on"' in out
    assert re.search(r"\+ API_TOKEN = \"<secret fp:[0-9a-f]{12}>\"  \[secret\]", out)
    assert "github (github): 3 to create, 0 to update" in out
    assert "4 to create" not in out.split("github")[1]  # API_TOKEN exists there as a secret: left as it is
    assert "write(s) planned; run `genesis heal --apply`" in out
    assert all(not requests for requests in project.writes().values())
    planned = project.events("autonomy.heal.planned")
    assert len(planned) == 1 and planned[0]["trigger"] == "cli"
    assert planned[0]["targets"]["render"]["create"] == ["API_TOKEN", "DATABASE_URL", "FEATURE_X"]
    assert_no_canary(out, err, project.events())


def test_json_plan_shows_values_only_masked(project, assert_no_canary) -> None:
    code, out, _ = project.run("heal", "--json")
    assert code == 1
    data = json.loads(out)
    render = data["plan"]["targets"]["render"]
    created = {w["key"]: w for w in render["create"]}
    assert created["FEATURE_X"] == {"key": "FEATURE_X", "value": "on", "secret": False}
    assert created["API_TOKEN"]["secret"] is True and created["API_TOKEN"]["value"].startswith("<secret fp:")
    assert created["DATABASE_URL"]["secret"] is True
    assert render["update"] == [{"key": "DEBUG", "value": "false", "current": "true", "secret": False}]
    assert data["plan"]["summary"]["writes"] == 11
    assert_no_canary(out)


def test_apply_heals_everything_surgically_and_sync_then_finds_parity(project, assert_no_canary) -> None:
    netlify_before = project.netlify.snapshot_state()
    code, out, err = project.run("heal", "--apply")
    assert code == 0, out + err
    assert "11 of 11 key(s) healed" in out
    assert "✓ netlify API_TOKEN (create): applied, unverifiable (write-only)" in out
    assert "✓ render DEBUG (update): applied, verified" in out

    # Render: every value now matches the reference, written key by key, never with the bulk PUT.
    assert project.render.env(project.service_id) == project.local
    render_writes = project.writes()["render"]
    assert not [w for w in render_writes if re.fullmatch(RENDER_BULK, w[1])]
    assert sorted(render_writes) == sorted(("PUT", f"/v1/services/{project.service_id}/env-vars/{k}")
                                           for k in ("API_TOKEN", "DATABASE_URL", "FEATURE_X", "DEBUG"))

    # Netlify: only the production value of the planned keys changed; no PUT ever.
    netlify_writes = project.writes()["netlify"]
    assert all(method in ("PATCH", "POST") for method, _ in netlify_writes)
    after = project.netlify.snapshot_state()[project.account_id][project.site_id]
    before = netlify_before[project.account_id][project.site_id]
    for key in ("LOG_LEVEL", "DEBUG"):
        assert after[key] == before[key]
    assert project.netlify.values(project.account_id, project.site_id, "FEATURE_X") == {
        "production": "on", "deploy-preview": "off", "branch-deploy": "on"}
    assert project.netlify.values(project.account_id, project.site_id, "API_TOKEN") == {
        "deploy-preview": "preview-only-token", "production": project.canary}
    assert project.netlify.is_secret(project.account_id, project.site_id, "DATABASE_URL")
    assert project.netlify.values(project.account_id, project.site_id, "DATABASE_URL") == {
        "production": project.local["DATABASE_URL"]}
    assert project.netlify.values(project.account_id, project.site_id, "PUBLIC_URL") == {
        "production": "https://app.example.com"}

    # GitHub: the secret sealed to the repository key, plain values as variables; the old secret kept.
    assert project.github.secrets(project.repository) == {
        "API_TOKEN": "github-side-token", "DATABASE_URL": project.local["DATABASE_URL"]}
    assert project.github.variables(project.repository) == {
        "LOG_LEVEL": "info", "DEBUG": "false", "FEATURE_X": "on", "PUBLIC_URL": "https://app.example.com"}
    assert project.github.decrypt_failures == 0

    applied = project.events("autonomy.heal.applied")
    assert len(applied) == 1 and applied[0]["counts"] == {"verified": 8, "unverifiable": 3, "failed": 0,
                                                          "skipped": 0}
    assert not project.events("autonomy.heal.failed")

    code, out, err = project.run("sync")
    assert code == 0, out + err
    assert_no_canary(*project.outputs, project.events(), project.home)


def test_rerunning_after_success_changes_nothing(project) -> None:
    assert project.run("heal", "--apply")[0] == 0
    writes_after_first = project.writes()
    code, out, _ = project.run("heal", "--apply")
    assert code == 0
    assert "Nothing to write." in out
    assert project.writes() == writes_after_first
    assert project.run("heal")[0] == 0
    assert len(project.events("autonomy.heal.planned")) == 1


@pytest.mark.parametrize("status", [500, 403])
def test_a_failing_platform_write_is_reported_per_key_and_nothing_else_changes(project, status,
                                                                             assert_no_canary) -> None:
    render_before = project.render.env(project.service_id)
    project.render.inject(Fault("status", status=status, path=r"/env-vars/.+"))
    code, out, err = project.run("heal", "--apply")
    assert code == 1, out + err
    lines = [line for line in out.splitlines() if re.match(r"  [✓✗-] render ", line)]
    assert len(lines) == 4
    assert re.search(rf"✗ render API_TOKEN \(create\): failed: .*HTTP {status}", out)
    attempts = [r for r in project.render.requests if r.method != "GET"]
    assert {(r.method, r.path) for r in attempts} == {
        ("PUT", f"/v1/services/{project.service_id}/env-vars/API_TOKEN")}
    for key in ("DATABASE_URL", "FEATURE_X", "DEBUG"):
        assert f"- render {key} " in out and "not attempted: an earlier write to render failed" in out
    assert project.render.env(project.service_id) == render_before
    assert not [r for r in project.render.requests if r.method == "PUT" and re.fullmatch(RENDER_BULK, r.path)]
    # The other platforms were healed.
    assert "7 of 11 key(s) healed" in out
    assert project.github.variables(project.repository)["FEATURE_X"] == "on"
    failed = project.events("autonomy.heal.failed")
    assert [(r["instance"], r["key"], r["status"]) for r in failed[0]["results"]] == [
        ("render", "API_TOKEN", "failed"), ("render", "DATABASE_URL", "skipped"),
        ("render", "FEATURE_X", "skipped"), ("render", "DEBUG", "skipped")]
    assert len(project.events("autonomy.heal.applied")[0]["results"]) == 7
    assert_no_canary(out, err, project.events())


def test_netlify_write_failure_leaves_every_context_untouched(project) -> None:
    before = project.netlify.snapshot_state()
    project.netlify.inject(Fault("status", status=403, path=NETLIFY_KEY))
    code, out, _ = project.run("heal", "--apply")
    assert code == 1
    assert re.search(r"✗ netlify \w+ \(create\): failed: .*403", out)
    assert project.netlify.snapshot_state() == before
    assert not [r for r in project.netlify.requests if r.method in ("PUT", "POST", "DELETE")]


def test_a_platform_that_cannot_be_read_stops_every_write(project, assert_no_canary) -> None:
    dotenv_before = (project.root / ".env").read_bytes()
    project.netlify.inject(Fault("status", status=500, path=r"/api/v1/accounts/[^/]+/env"))
    code, out, err = project.run("heal", "--apply")
    assert code == 2
    assert "netlify:" in err and "heal refused: 1 instance(s) could not be read; nothing was written" in err
    assert project.writes() == {"render": [], "netlify": [], "github": []}
    assert not project.events("autonomy.>")
    assert (project.root / ".env").read_bytes() == dotenv_before

    code, out, err = project.run("heal", "--json")
    assert code == 2
    assert json.loads(out)["refused"] is True
    assert project.writes() == {"render": [], "netlify": [], "github": []}
    assert_no_canary(out, err)


def test_only_limits_the_targets(project) -> None:
    code, out, _ = project.run("heal", "--apply", "--only", "render")
    assert code == 0
    assert project.writes()["netlify"] == [] and project.writes()["github"] == []
    assert project.render.env(project.service_id) == project.local
    code, _, err = project.run("heal", "--only", "local")
    assert code == 2 and "is the reference" in err
    code, _, err = project.run("heal", "--only", "nope")
    assert code == 2 and "unknown platform nope" in err


def test_keys_missing_in_the_reference_are_left_alone(project) -> None:
    project.render.set_env(project.service_id, {**project.local, "RENDER_ONLY": "1"})
    code, out, _ = project.run("heal", "--apply", "--only", "render")
    assert code == 0
    assert "= 1 left alone (extra in render, not in the reference (local); never deleted): RENDER_ONLY" in out
    assert project.render.env(project.service_id)["RENDER_ONLY"] == "1"
    assert not [r for r in project.render.requests if r.method == "DELETE"]
    code, out, _ = project.run("heal", "--verbose", "--only", "render")
    assert "= RENDER_ONLY: left alone: extra in render, not in the reference (local); never deleted" in out


def test_conflicts_are_kept_unless_overwrite_conflicts(project) -> None:
    project.write_config('reference = "local"')
    code, out, _ = project.run("heal", "--apply", "--only", "render")
    assert code == 0
    assert "= 1 left alone (conflicting value kept (overwrite_conflicts = false)): DEBUG" in out
    assert project.render.env(project.service_id)["DEBUG"] == "true"


def test_deny_patterns_and_targets(project) -> None:
    project.write_config("""
        reference = "local"
        overwrite_conflicts = true
        targets = ["render", "github"]
        [instances.render]
        deny = ["*_URL"]
        [instances.github]
        allow = ["FEATURE_*"]
    """.replace("[instances.", "[engines.autonomy.instances."))
    code, out, _ = project.run("heal", "--json")
    plan = json.loads(out)["plan"]
    assert set(plan["targets"]) == {"render", "github"}
    render = plan["targets"]["render"]
    assert {"key": "DATABASE_URL", "reason": "denied by engines.autonomy.instances.render.deny"} in \
        render["cannot_heal"]
    github = plan["targets"]["github"]
    assert [w["key"] for w in github["create"]] == ["FEATURE_X"]
    assert {c["key"] for c in github["cannot_heal"]} == {"DATABASE_URL", "PUBLIC_URL"}


@pytest.mark.parametrize("autonomy, message", [
    ("overwrite_conflicts = true", "engines.autonomy.reference: is required"),
    ('reference = "staging"', "engines.autonomy.reference: unknown platform instance 'staging'"),
    ('reference = "local"\ntargets = ["nowhere"]', "engines.autonomy.targets[0]: unknown platform instance"),
    ('reference = "local"\nauto_heal = "yes"', "engines.autonomy.auto_heal: expected true or false"),
    ('reference = "local"\nrefernce = "x"', "engines.autonomy.refernce: unknown key"),
    ('reference = "local"\n[engines.autonomy.instances.render]\ndeny = ["re:("]',
     "engines.autonomy.instances.render.deny[0]: invalid key pattern"),
])
def test_config_errors_are_one_line_naming_the_key(project, autonomy, message) -> None:
    project.write_config(autonomy)
    code, out, err = project.run("heal")
    assert code == 2
    assert message in err and str(project.config) in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert all(not w for w in project.writes().values())


def test_a_role_that_cannot_record_the_results_cannot_apply(project) -> None:
    code, _, err = project.run("--role", "ci", "heal", "--apply")
    assert code == 2
    assert "does not let this role publish autonomy.heal.applied" in err
    assert all(not w for w in project.writes().values())


def test_any_readable_instance_can_be_the_reference(project, assert_no_canary) -> None:
    project.render.set_env(project.service_id, {"DEBUG": "true", "RENDER_ONLY": "r1"})
    project.write_config('reference = "render"\noverwrite_conflicts = true')
    code, out, err = project.run("heal", "--apply", "--only", "local", "--json")
    assert code == 0, err
    result = json.loads(out)["result"]
    assert [(r["instance"], r["key"], r["status"]) for r in result["results"]] == [
        ("local", "RENDER_ONLY", "verified"), ("local", "DEBUG", "verified")]
    from genesis_core.api import parse_dotenv

    # The two keys changed; the keys the reference lacks stay exactly as they were.
    assert parse_dotenv(project.root / ".env") == {**project.local, "DEBUG": "true", "RENDER_ONLY": "r1"}
    assert_no_canary(out, err)


def test_a_value_the_dotenv_file_refuses_fails_alone(project, assert_no_canary) -> None:
    """A value no quoting can hold for Node dotenv and python-dotenv fails its key; the other keys are healed."""
    refused = f"\"it's {project.canary}\""
    project.render.set_env(project.service_id,
                           {"A_QUOTED_SECRET": refused, "B_PLAIN": "b", "C_URL": "https://x.io/#top"})
    project.write_config('reference = "render"\noverwrite_conflicts = true',
                         platform_extra={"local": 'dialect = "node"'})
    code, out, err = project.run("heal", "--apply", "--only", "local", "--json")
    assert code == 1, err
    results = {r["key"]: r for r in json.loads(out)["result"]["results"]}
    assert results["A_QUOTED_SECRET"]["status"] == "failed"
    assert results["A_QUOTED_SECRET"]["detail"] == (
        ".env: refusing to write A_QUOTED_SECRET: no quoting makes Node dotenv and python-dotenv read the same value "
        "(nothing was written)")
    assert results["B_PLAIN"]["status"] == results["C_URL"]["status"] == "verified"
    text = (project.root / ".env").read_text()
    assert "A_QUOTED_SECRET" not in text and "C_URL='https://x.io/#top'" in text
    assert_no_canary(out, err)
