"""The pure heal plan: what is created, updated, refused or left alone, and that it never shows a secret."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genesis_autonomy.plan import HealPlan, make_plan, reference_values
from genesis_autonomy.settings import KeyRules
from genesis_core.api import ReconcileOptions, SecretPolicy, Snapshot
from genesis_core.testing import env_keys, env_values, secret_values

POLICY = SecretPolicy(fingerprint_key=b"autonomy-plan-tests-0123456789ab")
SECRET = "sk_live_4eC39HqLyjWDarjtT1zdp7dcXYZ"


def snap(name: str, values: dict[str, str | None], *, kind: str | None = None,
         secret: frozenset[str] = frozenset()) -> Snapshot:
    return Snapshot.from_values(name, kind or name, values, secret_keys=secret)


def plan_for(snapshots: dict[str, Snapshot], **kwargs) -> HealPlan:
    targets = kwargs.pop("targets", [n for n in snapshots if n != "local"])
    writable = kwargs.pop("writable", dict.fromkeys(targets, True))
    return make_plan(snapshots, reference="local", targets=targets, policy=POLICY, writable=writable, **kwargs)


def test_creates_missing_readable_keys_and_never_deletes() -> None:
    plan = plan_for({
        "local": snap("local", {"A": "1", "B": "2", "HIDDEN": None}),
        "render": snap("render", {"A": "1", "EXTRA": "x"}),
    })
    [render] = plan.targets
    assert [(w.key, w.action, w.shown) for w in render.writes] == [("B", "create", "2")]
    assert [(s.key, s.reason) for s in render.cannot_heal] == [
        ("HIDDEN", "unreadable in the reference (local): the platform does not return its value")]
    assert [s.key for s in render.left_alone] == ["EXTRA"]
    assert "never deleted" in render.left_alone[0].reason


def test_conflicts_are_updated_only_with_overwrite_conflicts() -> None:
    snaps = {"local": snap("local", {"DEBUG": "false"}), "render": snap("render", {"DEBUG": "true"})}
    kept = plan_for(snaps)
    assert not kept.has_writes
    assert kept.targets[0].left_alone[0].reason == "conflicting value kept (overwrite_conflicts = false)"
    updated = plan_for(snaps, overwrite_conflicts=True)
    [write] = updated.targets[0].writes
    assert (write.key, write.action, write.shown, write.current) == ("DEBUG", "update", "false", "true")


def test_unreadable_target_values_are_not_overwritten() -> None:
    plan = plan_for({"local": snap("local", {"TOKEN_A": "v"}), "github": snap("github", {"TOKEN_A": None})},
                    overwrite_conflicts=True)
    assert plan.targets[0].writes == () and plan.targets[0].cannot_heal == ()


def test_adapters_without_write_support_and_key_rules_refuse() -> None:
    snaps = {"local": snap("local", {"A": "1", "VITE_X": "2", "VITE_SECRET_Y": "3"}),
             "web": snap("web", {}), "ro": snap("ro", {}, kind="readonly")}
    rules = {"web": KeyRules(allow=("VITE_*",), deny=("*SECRET*",), where="engines.autonomy.instances.web")}
    plan = plan_for(snaps, writable={"web": True, "ro": False}, rules=rules)
    web, ro = plan.targets
    assert [w.key for w in web.writes] == ["VITE_X"]
    assert {s.key: s.reason for s in web.cannot_heal} == {
        "A": "not matched by engines.autonomy.instances.web.allow",
        "VITE_SECRET_Y": "denied by engines.autonomy.instances.web.deny"}
    assert {s.reason for s in ro.cannot_heal} == {"the readonly adapter cannot write variables"}


def test_keys_only_other_instances_hold_are_left_alone_on_every_target() -> None:
    plan = plan_for({"local": snap("local", {"A": "1"}), "render": snap("render", {"A": "1", "B": "2"}),
                     "netlify": snap("netlify", {"A": "1"})})
    netlify = plan.targets[1]
    assert [(s.key, "does not hold it" in s.reason) for s in netlify.left_alone] == [("B", True)]


def test_scoping_follows_the_sync_options() -> None:
    options = ReconcileOptions(secret_policy=POLICY, exclude={"render": ("VITE_*",)}, ignore=("IGNORED",))
    plan = plan_for({"local": snap("local", {"A": "1", "VITE_API": "u", "IGNORED": "x"}),
                     "render": snap("render", {})}, options=options)
    assert [w.key for w in plan.targets[0].writes] == ["A"]


def test_secret_flag_comes_from_the_platform_mark_or_the_policy_but_not_mask_all() -> None:
    snaps = {"local": snap("local", {"API_KEY": "abc", "MARKED": "m", "PLAIN": "p", "DSN_URL": SECRET},
                           secret=frozenset({"MARKED"})),
             "github": snap("github", {})}
    flags = {w.key: w.secret for w in plan_for(snaps).targets[0].writes}
    assert flags == {"API_KEY": True, "MARKED": True, "PLAIN": False, "DSN_URL": True}
    masked_all = make_plan(snaps, reference="local", targets=["github"],
                           policy=SecretPolicy(fingerprint_key=b"autonomy-plan-tests-0123456789ab", mask_all=True),
                           writable={"github": True})
    assert {w.key: w.secret for w in masked_all.targets[0].writes} == flags
    assert all(w.shown.startswith("<secret fp:") for w in masked_all.targets[0].writes)


def test_values_are_held_apart_and_never_shown() -> None:
    snaps = {"local": snap("local", {"STRIPE_KEY": SECRET, "PORT": "8080"}), "render": snap("render", {})}
    plan = plan_for(snaps)
    values = reference_values(plan, snaps["local"])
    assert values["STRIPE_KEY"] == SECRET and values["PORT"] == "8080"
    for text in (json.dumps(plan.to_dict()), json.dumps(plan.summary()), repr(plan), repr(values), str(values)):
        assert SECRET not in text
    assert "8080" not in json.dumps(plan.summary())  # the event form carries no value at all


def test_the_reference_cannot_be_a_target() -> None:
    with pytest.raises(ValueError, match="reference"):
        plan_for({"local": snap("local", {})}, targets=["local"])


# ---------------------------------------------------------------- properties

VALUES = st.one_of(env_values(), secret_values())


@st.composite
def drifted(draw: st.DrawFn) -> dict[str, dict[str, str | None]]:
    pool = draw(st.lists(env_keys(), min_size=1, max_size=8, unique=True))
    names = ["local", "render", "github"]
    result = {}
    for name in names:
        held = draw(st.lists(st.sampled_from(pool), unique=True, max_size=len(pool)))
        result[name] = {key: draw(st.one_of(VALUES, st.none())) for key in held}
    return result


def _apply(plan: HealPlan, values: dict[str, dict[str, str | None]]) -> dict[str, dict[str, str | None]]:
    healed = {name: dict(snapshot) for name, snapshot in values.items()}
    for instance, write in plan.writes():
        healed[instance][write.key] = values["local"][write.key]
    return healed


@settings(max_examples=150, deadline=None)
@given(drifted(), st.booleans())
def test_a_plan_only_writes_reference_values_and_applying_it_converges(values, overwrite) -> None:
    snapshots = {name: snap(name, v) for name, v in values.items()}
    plan = plan_for(snapshots, overwrite_conflicts=overwrite)
    reference = values["local"]
    for instance, write in plan.writes():
        assert reference.get(write.key) is not None                      # readable in the reference
        current = values[instance].get(write.key, "<absent>")
        assert write.action == ("create" if current == "<absent>" else "update")
        assert overwrite or write.action == "create"
        assert current != reference[write.key]
    text = json.dumps(plan.to_dict()) + json.dumps(plan.summary())
    for value in reference.values():
        if value is not None and POLICY.is_secret("X", value):
            assert value not in text
    healed = _apply(plan, values)
    for target in plan.targets:                                           # nothing was removed
        assert set(values[target.instance]) <= set(healed[target.instance])
    again = plan_for({name: snap(name, v) for name, v in healed.items()}, overwrite_conflicts=overwrite)
    assert not again.has_writes                                           # re-running changes nothing
    for target in again.targets:
        for key, value in reference.items():
            if value is not None:
                assert key in healed[target.instance]
                if overwrite and healed[target.instance][key] is not None:
                    assert healed[target.instance][key] == value


# -- the plan shows values exactly as genesis sync does (issue 19, item 2) ---------------------------

_VALUES = st.one_of(st.none(), st.sampled_from(["false", "CANARYSummer2025", "Zq8xT3vLm9RwK2pYb7Nc", SECRET]),
                    env_values(), secret_values())
_INSTANCE = st.dictionaries(st.sampled_from(["ADMIN_INITIAL", "DEBUG", "API_TOKEN", "PUBLIC_URL"]), _VALUES)


@settings(max_examples=100, deadline=None)
@given(local=_INSTANCE, render=_INSTANCE, github=_INSTANCE,
       marked=st.sets(st.tuples(st.sampled_from(["local", "render", "github"]),
                                st.sampled_from(["ADMIN_INITIAL", "DEBUG", "API_TOKEN", "PUBLIC_URL"]))))
def test_the_plan_shows_every_value_as_sync_shows_it(local, render, github, marked) -> None:
    from genesis_core.api import reconcile

    values = {"local": local, "render": render, "github": github}
    snaps = {name: snap(name, held, secret=frozenset(k for n, k in marked if n == name and k in held))
             for name, held in values.items()}
    options = ReconcileOptions(secret_policy=POLICY,
                               platform_secret_keys={n: s.secret_keys() for n, s in snaps.items()})
    report = reconcile({n: s.values() for n, s in snaps.items()}, options)
    plan = plan_for(snaps, options=options, overwrite_conflicts=True)
    for target in plan.targets:
        for write in target.writes:
            row = report.conflicts.get(write.key)
            if write.action == "update":  # a conflict: sync shows exactly these two values
                assert row is not None
                assert (write.shown, write.current) == (row["local"], row[target.instance])
            elif row is not None:  # a create of a key other instances disagree about
                assert write.shown == row["local"]
