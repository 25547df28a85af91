"""The heal plan says what platforms do with a write: managed variables left alone with the reason,
each write's effect (restart, staged, redeploy), and targets written as one change."""

from __future__ import annotations

import json

from genesis_autonomy.plan import HealPlan, make_plan
from genesis_core.api import (
    REDEPLOY,
    RESTART,
    STAGED,
    SecretPolicy,
    Snapshot,
    Variable,
    WriteEffect,
)

POLICY = SecretPolicy(fingerprint_key=b"autonomy-plan-effects-0123456789")
ADDON = "managed by the Heroku add-on postgresql-1 (heroku-postgresql:essential-0) through attachment DATABASE"
RESTARTS = WriteEffect(RESTART, "restarts the app (Heroku makes one new release for the app's changes)")
STAGES = WriteEffect(STAGED, "staged: effective at the next deploy")


def plan(overwrite: bool = True) -> HealPlan:
    local = Snapshot.from_values("local", "dotenv", {"DATABASE_URL": "postgres://local", "PORT": "80", "NEW": "n"})
    heroku = Snapshot("heroku", "heroku", {
        "DATABASE_URL": Variable("DATABASE_URL", "postgres://addon", managed=ADDON),
        "PORT": Variable("PORT", "81")})
    fly = Snapshot.from_values("fly", "fly", {"PORT": None})
    railway = Snapshot.from_values("railway", "railway", {"PORT": "80"})
    return make_plan({"local": local, "heroku": heroku, "fly": fly, "railway": railway}, reference="local",
                     targets=["heroku", "fly", "railway"], policy=POLICY,
                     writable={"heroku": True, "fly": True, "railway": True}, overwrite_conflicts=overwrite,
                     effects={"heroku": lambda key: RESTARTS, "fly": lambda key: STAGES,
                              "railway": lambda key: WriteEffect(REDEPLOY, "redeploys the service")},
                     batch={"heroku": True, "fly": False})


def test_a_managed_variable_is_left_alone_with_its_reason_even_with_overwrite() -> None:
    for overwrite in (True, False):
        heroku = plan(overwrite).targets[0]
        [managed] = [s for s in heroku.left_alone if s.key == "DATABASE_URL"]
        assert managed.reason == ADDON and managed.managed
        assert "DATABASE_URL" not in [w.key for w in heroku.writes]
        assert managed.to_dict() == {"key": "DATABASE_URL", "reason": ADDON, "managed": True}


def test_each_write_carries_its_targets_effect_and_heroku_is_one_change() -> None:
    heroku, fly, railway = plan().targets
    assert [(w.key, w.action, w.effect) for w in heroku.writes] == [("NEW", "create", RESTARTS),
                                                                   ("PORT", "update", RESTARTS)]
    assert heroku.batch and not fly.batch and not railway.batch
    assert {w.effect for w in fly.writes} == {STAGES}
    assert [(w.key, w.effect.kind if w.effect else None) for w in railway.writes] == [
        ("DATABASE_URL", REDEPLOY), ("NEW", REDEPLOY)]


def test_the_json_plan_shows_effects_batches_and_managed_keys() -> None:
    data = plan().to_dict()["targets"]
    assert data["heroku"]["batch"] is True and data["fly"]["batch"] is False
    assert data["heroku"]["create"] == [{"key": "NEW", "value": "n", "secret": False,
                                         "effect": {"kind": "restart", "note": RESTARTS.note}}]
    assert data["fly"]["create"][0]["effect"] == {"kind": "staged", "note": "staged: effective at the next deploy"}
    assert {"key": "DATABASE_URL", "reason": ADDON, "managed": True} in data["heroku"]["left_alone"]
    assert "postgres://addon" not in json.dumps(plan().to_dict())


def test_a_plan_without_effects_or_batches_is_as_before() -> None:
    local = Snapshot.from_values("local", "dotenv", {"A": "1"})
    render = Snapshot.from_values("render", "render", {})
    target = make_plan({"local": local, "render": render}, reference="local", targets=["render"], policy=POLICY,
                       writable={"render": True}).targets[0]
    assert target.batch is False
    assert target.to_dict()["create"] == [{"key": "A", "value": "1", "secret": False}]
