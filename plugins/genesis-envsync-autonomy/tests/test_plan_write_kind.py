"""What kind of variable a heal writes, and what the plan says about a write that changes more than a value.

A key is created as a secret when ``genesis sync`` fingerprints it (docs/secrets.md: its name, any
readable value or a platform's mark, including the project's own ``[secrets] patterns`` on the names
an expanded value was built from). An update keeps the kind the key already has; the plan warns when
a key sync calls secret lives as a plain variable on a platform that keeps secrets apart, and says when
a write replaces a value built by ``${NAME}`` expansion with a literal.
"""

from __future__ import annotations

import json

from genesis_autonomy.plan import HealPlan, make_plan
from genesis_core.api import Expansion, ReconcileOptions, SecretPolicy, Snapshot, Variable

POLICY = SecretPolicy(fingerprint_key=b"autonomy-write-kind-0123456789ab")
CANARY = "CANARYSummer2025"
RANDOM_LOOKING = "Zq8xT3vLm9RwK2pYb7Nc"


def plan_for(snapshots: dict[str, Snapshot], policy: SecretPolicy = POLICY, **kwargs) -> HealPlan:
    targets = [n for n in snapshots if n != "local"]
    return make_plan(snapshots, reference="local", targets=targets, policy=policy,
                     writable=dict.fromkeys(targets, True), **kwargs)


def writes(plan: HealPlan, target: str) -> dict[str, object]:
    [found] = [t for t in plan.targets if t.instance == target]
    return {w.key: w for w in found.writes}


def test_a_created_key_is_secret_when_sync_masks_any_value_of_it() -> None:
    snaps = {"local": Snapshot.from_values("local", "dotenv", {"ADMIN_INITIAL": CANARY, "LOG_LEVEL": "info"}),
             "other": Snapshot.from_values("other", "dotenv", {"ADMIN_INITIAL": RANDOM_LOOKING}),
             "github": Snapshot.from_values("github", "github", {})}
    assert not POLICY.is_secret("ADMIN_INITIAL", CANARY)  # not secret by itself
    created = writes(plan_for(snaps), "github")
    assert created["ADMIN_INITIAL"].secret is True
    assert created["LOG_LEVEL"].secret is False
    # mask_all masks every value on screen; it still does not make every write secret
    masked_all = writes(plan_for(snaps, attrs_evolve(POLICY, mask_all=True)), "github")
    assert {k: w.secret for k, w in masked_all.items()} == {"ADMIN_INITIAL": True, "LOG_LEVEL": False}


def attrs_evolve(policy: SecretPolicy, **changes: object) -> SecretPolicy:
    import attrs

    return attrs.evolve(policy, **changes)


def test_the_projects_own_patterns_reach_a_value_built_from_a_key_they_call_secret() -> None:
    local = Snapshot("local", "dotenv", {
        "BOOT_WORD": Variable("BOOT_WORD", CANARY),
        "START_ARGS": Variable("START_ARGS", f"--word={CANARY}", expansion=Expansion(keys=["BOOT_WORD"]))})
    snaps = {"local": local, "github": Snapshot.from_values("github", "github", {})}
    project = attrs_evolve(POLICY, extra_patterns=("BOOT_*",))
    assert not project.is_secret("START_ARGS", f"--word={CANARY}")
    for options in (None, ReconcileOptions(secret_policy=project)):  # marks computed by the plan itself
        created = writes(plan_for(snaps, project, options=options), "github")
        assert created["BOOT_WORD"].secret and created["START_ARGS"].secret, options
    assert not writes(plan_for(snaps), "github")["START_ARGS"].secret  # without the pattern: plain


def test_an_update_keeps_the_kind_the_key_has_and_warns_when_stored_in_clear() -> None:
    snaps = {"local": Snapshot.from_values("local", "dotenv", {"ADMIN_INITIAL": CANARY, "DEBUG": "false"}),
             "other": Snapshot.from_values("other", "dotenv", {"ADMIN_INITIAL": RANDOM_LOOKING}),
             "github": Snapshot.from_values("github", "github", {"ADMIN_INITIAL": "first", "DEBUG": "true"}),
             "render": Snapshot.from_values("render", "render", {"ADMIN_INITIAL": "first"}),
             "ssm": Snapshot.from_values("ssm", "aws-ssm", {"ADMIN_INITIAL": "first"},
                                         secret_keys={"ADMIN_INITIAL"})}
    plan = plan_for(snaps, overwrite_conflicts=True,
                    secret_kinds={"github": True, "render": False, "ssm": True, "other": False})
    github, render, ssm = writes(plan, "github"), writes(plan, "render"), writes(plan, "ssm")
    assert github["ADMIN_INITIAL"].secret is False  # GitHub cannot turn a variable into a secret
    assert [n.kind for n in github["ADMIN_INITIAL"].notes] == ["stored_in_clear"]
    [note] = github["ADMIN_INITIAL"].notes
    assert note.note.startswith("github ADMIN_INITIAL: secret by the sync rule, but a plain variable here: "
                                "its value is readable in clear")
    assert github["DEBUG"].notes == ()  # not secret: nothing to say
    assert render["ADMIN_INITIAL"].notes == ()  # Render keeps no secrets apart: nothing else to choose
    assert ssm["ADMIN_INITIAL"].secret is True and ssm["ADMIN_INITIAL"].notes == ()  # already a secret
    data = json.dumps(plan.to_dict())
    assert '"kind": "stored_in_clear"' in data and CANARY not in data
    assert "notes" not in json.dumps(plan.summary())


def test_an_update_of_an_expanded_value_says_it_becomes_a_literal() -> None:
    local = Snapshot.from_values("local", "dotenv", {"BASE": "https://b.example", "URL": "https://a.example/x"})
    target = Snapshot("target", "dotenv", {
        "BASE": Variable("BASE", "https://b.example"),
        "URL": Variable("URL", "https://b.example/x", expansion=Expansion(keys=["BASE"], environment=["HOME"]))})
    plan = plan_for({"local": local, "target": target}, overwrite_conflicts=True)
    [note] = writes(plan, "target")["URL"].notes
    assert (note.kind, note.note) == (
        "replaces_expansion",
        "target URL: replaces an expanded value (${BASE}, ${HOME} from the environment) with a literal")
    assert plan.to_dict()["targets"]["target"]["update"][0]["notes"] == [note.to_dict()]
