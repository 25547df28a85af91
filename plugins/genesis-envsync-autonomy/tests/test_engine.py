"""Automatic healing on ``envsync.drift``: gated by config and the Guardian, idempotent, fail-closed."""

from __future__ import annotations

import re

import pytest

from genesis_core.testing import Fault

HEALER = """
    reference = "local"
    overwrite_conflicts = true
    auto_heal = true
    role = "healer"
    alert_threshold = 50
"""
HEALER_ROLE = """
    [guardian.roles.healer]
    allow = ["autonomy.>"]
"""
ALL_OK = {name: {"status": "ok"} for name in ("local", "render", "netlify", "github")}


def _no_writes(project) -> bool:
    return all(not requests for requests in project.writes().values())


def test_sync_triggers_a_heal_when_allowed_and_the_next_sync_finds_parity(project, assert_no_canary) -> None:
    project.write_config(HEALER, HEALER_ROLE)
    code, out, err = project.run("sync")
    assert code == 1, out + err  # the drift that was found (and then healed)
    assert project.render.env(project.service_id) == project.local
    topics = [e["_genesis_topic"] for e in project.events("autonomy.>")]
    applied = project.events("autonomy.heal.applied")[0]
    written = [r for r in applied["results"] if r["written"]]
    # each confirmed write is recorded as it happens, before the outcome (a kill -9 leaves them)
    assert topics == ["autonomy.heal.planned", "autonomy.heal.apply", *["autonomy.heal.write"] * len(written),
                      "autonomy.heal.applied"]
    drift = project.events("envsync.drift")[0]
    assert applied["source_event"] == drift["_genesis_id"]
    writes = project.events("autonomy.heal.write")
    assert sorted((w["instance"], w["key"]) for w in writes) == sorted((r["instance"], r["key"]) for r in written)
    assert all(w["source_event"] == drift["_genesis_id"] and w["heal_id"] == applied["heal_id"]
               and w["trigger"] == "auto" and w["fingerprint"].startswith("<secret fp:") for w in writes)
    assert not [r for r in project.netlify.requests if r.method == "PUT"]
    assert project.run("sync")[0] == 0
    assert_no_canary(*project.outputs, project.events(), project.home)


def test_without_the_guardian_allowing_the_role_nothing_is_written(project) -> None:
    project.write_config(HEALER.replace('role = "healer"', ""))  # the built-in engine role
    assert project.run("sync")[0] == 1
    assert _no_writes(project)
    [blocked] = project.events("genesis.blocked")
    assert blocked["topic"] == "autonomy.heal.apply" and blocked["role"] == "engine"
    assert [e["_genesis_topic"] for e in project.events("autonomy.>")] == ["autonomy.heal.planned"]


def test_auto_heal_is_off_by_default(project) -> None:
    project.write_config('reference = "local"\nalert_threshold = 50')
    assert project.run("sync")[0] == 1
    assert _no_writes(project)
    assert not project.events("autonomy.>")


def test_too_much_drift_alerts_instead_of_healing_until_a_person_applies(project) -> None:
    project.write_config(HEALER.replace("alert_threshold = 50", ""), HEALER_ROLE)  # 11 drifted > 10
    assert project.run("sync")[0] == 1
    assert _no_writes(project)
    [alert] = project.events("autonomy.alert")
    assert alert["reason"] == "drift_count" and alert["drift_count"] == 11
    assert project.run("sync")[0] == 1  # suspended: still no writes, no second alert
    assert _no_writes(project) and len(project.events("autonomy.alert")) == 1
    code, out, _ = project.run("heal")
    assert "Automatic healing is suspended" in out
    assert project.run("heal", "--apply")[0] == 0  # the person heals; the breaker closes
    assert project.run("sync")[0] == 0


def test_a_drift_event_understating_the_drift_cannot_unlock_a_large_heal(project, rig, fake_clock) -> None:
    project.write_config(HEALER.replace("alert_threshold = 50", "alert_threshold = 3"), HEALER_ROLE)
    r = rig(project.config, fake_clock)
    event = r.append_drift(fake_clock.now, drift_count=0, platforms=ALL_OK)  # says 0; 11 are real
    assert r.handle(event) == "alerted"
    assert _no_writes(project)
    [alert] = r.events("autonomy.alert")
    assert alert["reason"] == "drift_count" and alert["drift_count"] > 3


def test_the_handler_is_idempotent_on_the_event_id(project, rig, fake_clock) -> None:
    project.write_config(HEALER, HEALER_ROLE)
    r = rig(project.config, fake_clock)
    event = r.append_drift(fake_clock.now, drift_count=11, platforms=ALL_OK)
    assert r.handle(event) == "healed"
    writes = project.writes()
    assert r.handle(event) is None
    restarted = rig(project.config, fake_clock)  # a new process with the same state dir
    assert restarted.handle(dict(event)) is None
    assert project.writes() == writes
    assert len(r.events("autonomy.heal.applied")) == 1
    assert restarted.engine.handled.note(event["_genesis_id"], "auto-heal") == "healed"


def test_a_drift_event_showing_an_unread_instance_is_refused_without_any_request(project, rig,
                                                                                fake_clock) -> None:
    project.write_config(HEALER, HEALER_ROLE)
    r = rig(project.config, fake_clock)
    platforms = {**ALL_OK, "netlify": {"status": "error", "error": "timeout"}}
    assert r.handle(r.append_drift(fake_clock.now, platforms=platforms)) == "refused"
    assert not project.render.requests and not project.netlify.requests and not project.github.requests
    [failed] = r.events("autonomy.heal.failed")
    assert failed["status"] == "refused" and list(failed["failed_reads"]) == ["netlify"]


def test_a_failed_re_read_refuses_the_heal(project, rig, fake_clock) -> None:
    project.write_config(HEALER, HEALER_ROLE)
    project.github.inject(Fault("status", status=502, path=r".*/variables"))
    r = rig(project.config, fake_clock)
    assert r.handle(r.append_drift(fake_clock.now, platforms=ALL_OK)) == "refused"
    assert _no_writes(project)
    assert not r.events("autonomy.heal.planned")
    assert r.events("autonomy.heal.failed")[0]["failed_reads"].keys() == {"github"}


def test_three_failed_heals_in_a_row_trip_the_breaker(project, rig, fake_clock, assert_no_canary) -> None:
    project.write_config(HEALER, HEALER_ROLE)
    project.render.inject(Fault("status", status=500, path=r"/env-vars/.+"))
    r = rig(project.config, fake_clock)
    outcomes = []
    for _ in range(4):
        fake_clock.advance(60)
        outcomes.append(r.handle(r.append_drift(fake_clock.now, platforms=ALL_OK)))
    assert outcomes == ["heal_failed", "heal_failed", "heal_failed", "suspended"]
    [alert] = r.events("autonomy.alert")
    assert alert["reason"] == "consecutive_failures"
    render_puts = [q for q in project.render.requests if q.method == "PUT"]
    assert len(render_puts) == 3 * 2  # one key per heal (then that instance is skipped), 2 attempts each
    failed = r.events("autonomy.heal.failed")
    assert len(failed) == 3 and all(re.search(r"HTTP 500", f["results"][0]["detail"]) for f in failed)
    assert_no_canary(r.events(">"), project.home)


def test_the_engine_refuses_to_start_with_auto_heal_and_no_reference(project) -> None:
    project.write_config("auto_heal = true")
    code, _, err = project.run("sync")
    assert code == 2
    assert "engines.autonomy.reference: is required" in err


@pytest.mark.parametrize("autonomy", ["", 'alert_threshold = 50'])
def test_without_a_reference_the_engine_still_watches_thresholds(project, autonomy) -> None:
    project.write_config(autonomy)
    assert project.run("sync")[0] == 1
    assert len(project.events("autonomy.alert")) == (0 if autonomy else 1)
