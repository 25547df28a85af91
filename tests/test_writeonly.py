"""The write-record checks, the record store and the across comparison's references, without I/O."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from genesis_core.across import reconcile_across
from genesis_core.platforms.model import Snapshot, Variable
from genesis_core.reconciliation import ReconcileOptions, reconcile
from genesis_core.secrets import SecretPolicy, is_masked
from genesis_core.writeonly import apply_checks, check_write_only
from genesis_core.writerecords import WriteRecord, WriteRecords

NOW = "2026-12-01T10:00:00Z"
POLICY = SecretPolicy(fingerprint_key=b"w" * 32)
OTHER_KEY = SecretPolicy(fingerprint_key=b"o" * 32)
OPTIONS = ReconcileOptions(secret_policy=POLICY)
TARGETS = {"github": "github repository acme/app"}


def snapshots(local: dict[str, str], stamp: str | None = "2026-11-30T09:00:00Z",
              hidden: tuple[str, ...] = ("API_TOKEN",)) -> dict[str, Snapshot]:
    github = {key: Variable(key, None, secret=True, stamp=stamp) for key in hidden}
    github["PORT"] = Variable("PORT", "3000", stamp="2026-11-01T00:00:00Z")
    return {"local": Snapshot.from_values("local", "dotenv", local),
            "github": Snapshot("github", "github", github)}


def record(value: str, *, stamp: str | None = "2026-11-30T09:00:00Z", policy: SecretPolicy = POLICY,
           target: str = TARGETS["github"], key: str = "API_TOKEN") -> WriteRecord:
    return WriteRecord("github", key, target, policy.record_fingerprint(value), policy.key_id, stamp,
                       "2026-11-30T09:00:00Z")


def statuses(snaps: dict[str, Snapshot], records: dict, reference: str | None = "local") -> dict[str, tuple]:
    checks = check_write_only(snaps, records, policy=POLICY, options=OPTIONS, targets=TARGETS,
                              reference=reference, now=NOW)
    return {c.key: (c.status, c.since or c.reason) for c in checks}


LOCAL = {"API_TOKEN": "token-v1", "PORT": "3000"}


@pytest.mark.parametrize(("local", "stamp", "rec", "expected"), [
    (LOCAL, "2026-11-30T09:00:00Z", None, ("unverified", "no write record")),
    (LOCAL, "2026-11-30T09:00:00Z", record("token-v1"), ("verified", "")),
    (LOCAL, "2026-12-01T08:00:00Z", record("token-v1"), ("changed_outside", "2026-12-01T08:00:00Z")),
    (LOCAL, None, record("token-v1"), ("changed_outside", "")),
    ({**LOCAL, "API_TOKEN": "token-v2"}, "2026-11-30T09:00:00Z", record("token-v1"), ("stale", NOW)),
    (LOCAL, None, record("token-v1", stamp=None), ("unverified", "the platform gives no change stamp")),
    ({**LOCAL, "API_TOKEN": "token-v2"}, None, record("token-v1", stamp=None), ("stale", NOW)),
    (LOCAL, "2026-11-30T09:00:00Z", record("token-v1", policy=OTHER_KEY),
     ("unverified", "recorded under another fingerprint key")),
    (LOCAL, "2026-11-30T09:00:00Z", record("token-v1", target="github repository acme/old"),
     ("unverified", "recorded for github repository acme/old")),
    ({"PORT": "3000"}, "2026-11-30T09:00:00Z", record("token-v1"), ("verified", "")),  # nothing to compare with
])
def test_each_status(local: dict[str, str], stamp: str | None, rec: WriteRecord | None,
                     expected: tuple[str, str]) -> None:
    records = {("github", "API_TOKEN"): rec} if rec is not None else {}
    assert statuses(snapshots(local, stamp), records)["API_TOKEN"] == expected


def test_stale_since_is_kept_from_the_first_sync_that_saw_it() -> None:
    rec = attrs.evolve(record("token-v1"), stale_since="2026-11-30T12:00:00Z")
    got = statuses(snapshots({**LOCAL, "API_TOKEN": "token-v2"}), {("github", "API_TOKEN"): rec})
    assert got["API_TOKEN"] == ("stale", "2026-11-30T12:00:00Z")


def test_without_a_reference_any_readable_value_the_record_matches_verifies() -> None:
    snaps = snapshots(LOCAL)
    snaps["render"] = Snapshot.from_values("render", "render", {"API_TOKEN": "token-other"})
    records = {("github", "API_TOKEN"): record("token-v1")}
    assert statuses(snaps, records, reference=None)["API_TOKEN"] == ("verified", "")
    assert statuses(snaps, records, reference="render")["API_TOKEN"] == ("stale", NOW)
    snaps["local"] = Snapshot.from_values("local", "dotenv", {**LOCAL, "API_TOKEN": "token-v3"})
    assert statuses(snaps, records, reference=None)["API_TOKEN"] == ("stale", NOW)


def test_out_of_scope_values_are_not_checked() -> None:
    options = ReconcileOptions(secret_policy=POLICY, exclude={"github": ("API_*",)})
    checks = check_write_only(snapshots(LOCAL), {("github", "API_TOKEN"): record("token-v2")}, policy=POLICY,
                              options=options, targets=TARGETS, reference="local", now=NOW)
    assert checks == []


def test_drift_becomes_a_conflict_with_its_mark_and_a_verified_value_shows_a_tick() -> None:
    snaps = snapshots({**LOCAL, "API_TOKEN": "token-v2"}, hidden=("API_TOKEN", "DEBUG"))
    snaps["local"] = Snapshot.from_values("local", "dotenv", {**LOCAL, "API_TOKEN": "token-v2", "DEBUG": "false"})
    snaps["render"] = Snapshot.from_values("render", "render", {"DEBUG": "true"})
    records = {("github", "API_TOKEN"): record("token-v1"), ("github", "DEBUG"): record("false", key="DEBUG")}
    values = {name: snap.values() for name, snap in snaps.items()}
    report = reconcile(values, OPTIONS, now=NOW)
    assert set(report.conflicts) == {"DEBUG"} and report.drift_count == 3  # render lacks API_TOKEN, PORT
    checks = check_write_only(snaps, records, policy=POLICY, options=OPTIONS, targets=TARGETS,
                              reference="local", now=NOW)
    checked = apply_checks(report, checks, values, OPTIONS)
    assert checked.conflicts["API_TOKEN"] == {"github": "<secret, stale since 2026-12-01>",
                                              "local": POLICY.fingerprint("token-v2")}
    assert checked.conflicts["DEBUG"] == {"github": "<secret ✓>", "local": "false", "render": "true"}
    assert checked.drift_count == report.drift_count + 1 and checked.has_drift
    assert all(is_masked(shown) for shown in (checked.conflicts["API_TOKEN"]["github"],
                                              checked.conflicts["DEBUG"]["github"]))
    payload = checked.to_dict()
    assert {(c["key"], c["status"]) for c in payload["write_only"]} == {("API_TOKEN", "stale"), ("DEBUG", "verified")}
    masked = POLICY.mask_payload(payload)
    assert masked["conflicts"] == payload["conflicts"] and masked["write_only"] == payload["write_only"]


def test_records_round_trip_replace_and_hold_no_value(tmp_path: Path) -> None:
    store = WriteRecords(tmp_path)
    assert store.lookup(["github"]) == {} and not store.path.exists()
    store.record_many([record("token-v1")])
    store.record_many([record("token-v2", stamp="2026-12-01T00:00:00Z")])
    [(where, kept)] = WriteRecords(tmp_path).lookup(["github", "vercel"]).items()
    assert where == ("github", "API_TOKEN") and kept.stamp == "2026-12-01T00:00:00Z"
    assert kept.fingerprint == POLICY.record_fingerprint("token-v2") and "fingerprint" not in repr(kept)
    store.set_stale_since({("github", "API_TOKEN"): NOW})
    assert store.lookup(["github"])[("github", "API_TOKEN")].stale_since == NOW
    store.set_stale_since({("github", "API_TOKEN"): None})
    assert store.lookup(["github"])[("github", "API_TOKEN")].stale_since is None
    assert b"token-v" not in b"".join(p.read_bytes() for p in tmp_path.iterdir())


def test_across_uses_each_environments_reference_when_it_holds_the_key() -> None:
    envs = {"production": {"local_prod": {"LOG_FORMAT": "json"}, "web_prod": {"LOG_FORMAT": "text"}},
            "staging": {"local_staging": {"LOG_FORMAT": "json"}}}
    without = reconcile_across(envs, OPTIONS, same_everywhere=("LOG_FORMAT",), now=NOW)
    assert without.conflicts == {}  # production disagrees inside: not compared without a reference
    with_ref = reconcile_across(envs, OPTIONS, same_everywhere=("LOG_FORMAT",), now=NOW,
                                references={"production": "web_prod", "staging": None})
    assert with_ref.conflicts == {"LOG_FORMAT": {"production": "text", "staging": "json"}}
    payload = with_ref.payload()
    assert payload["has_drift"] is True and payload["environments"] == ["production", "staging"]


def test_a_value_on_a_platform_without_stamps_is_not_worth_adopting() -> None:
    snaps = snapshots(LOCAL, stamp=None)
    [check] = [c for c in check_write_only(snaps, {}, policy=POLICY, options=OPTIONS, targets=TARGETS,
                                           reference="local", now=NOW) if c.key == "API_TOKEN"]
    assert (check.status, check.reason, check.adoptable) == ("unverified", "the platform gives no change stamp", False)
    report = apply_checks(reconcile({n: s.values() for n, s in snaps.items()}, OPTIONS, now=NOW), [check],
                          {n: s.values() for n, s in snaps.items()}, OPTIONS)
    assert report.unverified_count == 0


@pytest.mark.parametrize("stamp", ["token-v1", "sk-live-4f9a8b7c6d5e", "2026-12-01T08:00:00Z\nINJECTED", "x" * 500,
                                   "2026-12-01 08:00:00 secret"])
def test_a_changed_stamp_that_is_not_a_time_is_never_shown(stamp: str) -> None:
    """The platform's stamp is its own text: only an RFC 3339 time reaches the JSON, the event or the mark."""
    import json

    snaps = snapshots(LOCAL, stamp)
    [check] = [c for c in check_write_only(snaps, {("github", "API_TOKEN"): record("token-v1")}, policy=POLICY,
                                           options=OPTIONS, targets=TARGETS, reference="local", now=NOW)
               if c.key == "API_TOKEN"]
    assert check.status == "changed_outside"  # the stamp moved: still drift
    assert check.to_dict()["changed_at"] is None
    assert check.mark == "<secret, changed outside Genesis unknown>"
    report = apply_checks(reconcile({name: s.values() for name, s in snaps.items()}, OPTIONS), [check],
                          {name: s.values() for name, s in snaps.items()}, OPTIONS)
    assert stamp not in json.dumps(report.to_dict()) and "token-v1" not in json.dumps(report.to_dict())


@pytest.mark.parametrize("stamp", ["2026-12-01T08:00:00Z", "2026-12-01T08:00:00.123456+02:00",
                                   "2026-12-01T08:00:00.5Z"])
def test_a_changed_stamp_that_is_a_time_is_shown(stamp: str) -> None:
    [check] = [c for c in check_write_only(snapshots(LOCAL, stamp), {("github", "API_TOKEN"): record("token-v1")},
                                           policy=POLICY, options=OPTIONS, targets=TARGETS, reference="local", now=NOW)
               if c.key == "API_TOKEN"]
    assert check.to_dict()["changed_at"] == stamp
    assert check.mark == f"<secret, changed outside Genesis {stamp}>"
