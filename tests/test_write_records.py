"""Write-only values against the emulators: heal records what it writes; sync verifies it, notices a change
made outside Genesis (the emulator's direct "changed in the UI" call) and a reference that moved on (stale).

GitHub secrets, Vercel sensitive variables and Fly secrets never return their value; a record of the
keyed fingerprint written and the platform's change stamp is all Genesis has.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

import attrs
import pytest

SECRET_V1 = "sk_live_FIRSTvalue0123456789abcdef"
SECRET_V2 = "sk_live_SECONDvalue0123456789abcde"
SECRET_UI = "sk_live_UIvalue0123456789abcdefgh"
LOCAL = {"API_TOKEN": SECRET_V1, "PORT": "3000"}


@attrs.define
class WriteOnlyPlatform:
    """One platform whose values are write-only, and how to change a value behind Genesis' back."""

    name: str
    change_in_ui: Callable[[str, str], Any]
    stored: Callable[[], dict[str, str]]
    seed_secret: Callable[[str, str], Any]


def _github(project: Any, robust: Any) -> WriteOnlyPlatform:
    platform = project.add_platform("github", "github")
    em = platform.emulator
    em.set_variable(robust.REPOSITORY, "PORT", "3000")
    return WriteOnlyPlatform("github", lambda key, value: em.change_in_ui(robust.REPOSITORY, key, value),
                             lambda: em.secrets(robust.REPOSITORY),
                             lambda key, value: em.set_secret(robust.REPOSITORY, key, value))


def _vercel(project: Any, robust: Any) -> WriteOnlyPlatform:
    platform = project.add_platform("vercel", "vercel")
    em = platform.emulator
    em.add_env(robust.PROJECT, "PORT", "3000", target=["production"])
    return WriteOnlyPlatform(
        "vercel", lambda key, value: em.change_in_ui(robust.PROJECT, key, value, target="production"),
        lambda: {e["key"]: e["value"] for e in em.entries(robust.PROJECT) if e["type"] == "sensitive"},
        lambda key, value: em.add_env(robust.PROJECT, key, value, type="sensitive", target=["production"]))


def _fly(project: Any, robust: Any) -> WriteOnlyPlatform:
    from genesis_fly.emulator import FlyEmulator

    em = FlyEmulator().start()
    em.add_app("acme-api", {"PORT": "3000"})
    project.monkeypatch.setenv("FLY_API_TOKEN", em.token)
    project.sections["platforms.fly"] = {"kind": "fly", "app": "acme-api", "base_url": em.base_url}
    project.stops.append(em.stop)
    return WriteOnlyPlatform("fly", lambda key, value: em.change_in_ui("acme-api", key, value),
                             lambda: em.secrets("acme-api"),
                             lambda key, value: em.set_secrets("acme-api", {key: value}, replace=False))


PLATFORMS = {"github": _github, "vercel": _vercel, "fly": _fly}


@pytest.fixture(params=sorted(PLATFORMS))
def setup(request: pytest.FixtureRequest, genesis_project: Any, robust: Any) -> tuple[Any, WriteOnlyPlatform]:
    project = genesis_project
    project.stops = []
    request.addfinalizer(lambda: [stop() for stop in project.stops])
    project.add_local(LOCAL)
    platform = PLATFORMS[request.param](project, robust)
    project.sections["engines.autonomy"] = {"reference": "local", "overwrite_conflicts": True}
    project.write_config()
    return project, platform


def sync_json(project: Any) -> tuple[int, dict[str, Any], str]:
    code, out, err = project.run("sync", "--json")
    return code, json.loads(out), err


def checks(payload: dict[str, Any], instance: str) -> dict[str, dict[str, Any]]:
    return {c["key"]: c for c in payload.get("write_only", []) if c["instance"] == instance}


def test_heal_records_then_sync_verifies_then_notices_a_change_outside_genesis_then_staleness(
        setup: tuple[Any, WriteOnlyPlatform]) -> None:
    project, platform = setup
    code, payload, _ = sync_json(project)
    assert code == 1 and payload[f"missing_in_{platform.name}"] == ["API_TOKEN"]

    code, out, err = project.run("heal", "--apply")
    assert code == 0, out + err
    assert f"✓ {platform.name} API_TOKEN (create): applied, write-only: recorded, later syncs verify it" in out
    assert platform.stored()["API_TOKEN"] == SECRET_V1

    # 1. verified by record
    code, payload, err = sync_json(project)
    assert code == 0, err
    check = checks(payload, platform.name)["API_TOKEN"]
    assert check["status"] == "verified" and check["verified_by"] == "write-record"
    code, out, _ = project.run("sync")
    assert code == 0 and f"Verified by write record (1): {platform.name} API_TOKEN" in out

    # 2. changed in the UI: the stamp moves, the sync names it
    platform.change_in_ui("API_TOKEN", SECRET_UI)
    code, payload, _ = sync_json(project)
    assert code == 1
    check = checks(payload, platform.name)["API_TOKEN"]
    assert check["status"] == "changed_outside" and check["changed_at"]
    shown = payload["conflicts"]["API_TOKEN"]
    assert shown[platform.name] == f"<secret, changed outside Genesis {check['changed_at']}>"
    assert shown["local"].startswith("<secret fp:")
    assert payload["summary"]["drift_count"] == 1
    code, out, _ = project.run("sync")
    assert code == 1 and "changed outside Genesis" in out

    # heal writes the reference value again (overwrite_conflicts) and the record is renewed
    code, out, err = project.run("heal", "--apply")
    assert code == 0, out + err
    assert platform.stored()["API_TOKEN"] == SECRET_V1
    code, payload, _ = sync_json(project)
    assert code == 0 and checks(payload, platform.name)["API_TOKEN"]["status"] == "verified"

    # 3. the reference moves on: what was written is stale
    project.add_local({**LOCAL, "API_TOKEN": SECRET_V2})
    code, payload, _ = sync_json(project)
    assert code == 1
    check = checks(payload, platform.name)["API_TOKEN"]
    assert check["status"] == "stale" and check["stale_since"]
    assert payload["conflicts"]["API_TOKEN"][platform.name] == f"<secret, stale since {check['stale_since'][:10]}>"
    code, again, _ = sync_json(project)
    assert checks(again, platform.name)["API_TOKEN"]["stale_since"] == check["stale_since"], (
        "stale since is when a sync first saw it, not the latest sync")

    everything = json.dumps(project.outputs) + json.dumps(project.history())
    for value in (SECRET_V1, SECRET_V2, SECRET_UI):
        assert value not in everything


def test_unverified_values_are_counted_and_adopt_makes_them_verifiable(setup: tuple[Any, WriteOnlyPlatform]) -> None:
    project, platform = setup
    platform.seed_secret("API_TOKEN", SECRET_V1)  # written by someone else: Genesis has no record
    unverified = 2 if platform.name == "fly" else 1  # every Fly value is a secret, PORT too
    code, out, err = project.run("sync")
    assert code == 0, out + err
    assert f"{unverified} write-only value(s) could not be verified" in out
    assert "`genesis heal --apply --adopt`" in out
    code, out, err = project.run("sync", "--json")
    assert "write_only" not in json.loads(out), "no record yet: the payload is the seed's"
    assert f"{unverified} write-only value(s) could not be verified" in err

    code, out, _ = project.run("heal")
    assert code == 0 and "Nothing to write." in out
    code, out, _ = project.run("heal", "--adopt")
    assert code == 1 and '~ API_TOKEN: "<secret>" -> ' in out
    assert f"{unverified} write(s) planned; run `genesis heal --apply --adopt` to write them." in out
    code, out, err = project.run("heal", "--apply", "--adopt")
    assert code == 0, out + err
    code, payload, _ = sync_json(project)
    assert code == 0 and checks(payload, platform.name)["API_TOKEN"]["status"] == "verified"
    assert payload["unverified"] == []
    code, out, _ = project.run("sync")
    assert "could not be verified" not in out


def test_records_are_shared_with_other_processes_and_hold_no_value(setup: tuple[Any, WriteOnlyPlatform]) -> None:
    project, platform = setup
    code, out, err = project.run("heal", "--apply")
    assert code == 0, out + err
    code, out, err = project.run_process("sync", "--json")
    assert code == 0, err
    assert checks(json.loads(out), platform.name)["API_TOKEN"]["status"] == "verified"
    database = project.state_dir / "write-records.db"
    rows = sqlite3.connect(database).execute("SELECT instance, key, fingerprint, stamp FROM write_records").fetchall()
    assert [(r[0], r[1]) for r in rows] == [(platform.name, "API_TOKEN")]
    assert len(rows[0][2]) == 64 and rows[0][3]
    raw = b"".join(path.read_bytes() for path in project.state_dir.glob("write-records.db*"))
    assert SECRET_V1.encode() not in raw


def test_a_failed_write_keeps_no_record(setup: tuple[Any, WriteOnlyPlatform], monkeypatch: pytest.MonkeyPatch) -> None:
    from genesis_core.platforms.model import PlatformAdapter

    project, platform = setup

    async def refuse(self: Any, ctx: Any, key: str, value: str, *, secret: bool) -> None:
        from genesis_core.errors import PlatformError

        raise PlatformError(self.name, "emulated refusal")

    adapter_class = type(project_adapter(project, platform.name))
    monkeypatch.setattr(adapter_class, "write", refuse)
    code, out, _ = project.run("heal", "--apply")
    assert code == 1 and "emulated refusal" in out
    assert not (project.state_dir / "write-records.db").exists()
    assert issubclass(adapter_class, PlatformAdapter)


def project_adapter(project: Any, name: str) -> Any:
    from genesis_core.config import load_config
    from genesis_core.plugins import get_plugin_host
    from genesis_core.sync import build_adapters

    return next(a for a in build_adapters(load_config(project.config), get_plugin_host()) if a.name == name)


def test_a_record_made_under_another_fingerprint_key_does_not_verify(setup: tuple[Any, WriteOnlyPlatform],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    project, platform = setup
    code, out, err = project.run("heal", "--apply")
    assert code == 0, out + err
    monkeypatch.setenv("GENESIS_FINGERPRINT_KEY", "ab" * 32)
    code, payload, err = sync_json(project)
    assert code == 0
    assert "write_only" not in payload
    assert f"{2 if platform.name == 'fly' else 1} write-only value(s) could not be verified" in err


def test_an_unusable_records_file_is_a_one_line_error_before_anything_is_published(
        genesis_project: Any) -> None:
    project = genesis_project
    project.add_local(LOCAL)
    project.write_config()
    project.state_dir.mkdir(parents=True, exist_ok=True)
    (project.state_dir / "write-records.db").write_bytes(b"this is not a database" * 100)
    code, out, err = project.run("sync")
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "write-records.db: cannot use the write records" in err
    assert "Traceback" not in err
    assert project.topics() == []


def test_a_record_that_cannot_be_kept_leaves_the_write_reported(setup: tuple[Any, WriteOnlyPlatform],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from genesis_core.errors import GenesisError
    from genesis_core.writerecords import WriteRecords

    project, platform = setup

    def broken(self: Any, records: Any) -> None:
        raise GenesisError(f"{self.path}: cannot use the write records (disk full)")

    monkeypatch.setattr(WriteRecords, "record_many", broken)
    code, out, err = project.run("heal", "--apply")
    assert code == 0, out + err
    assert f"✓ {platform.name} API_TOKEN (create): applied, write-only; no write record kept:" in out
    applied = [e for e in project.history() if e["_genesis_topic"] == "autonomy.heal.applied"]
    assert applied and applied[0]["results"][0]["key"] == "API_TOKEN"
