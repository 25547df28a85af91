"""Applying a plan to an adapter that writes a batch as one change: one call, all or nothing, effects reported."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from genesis_autonomy.apply import (
    FAILED,
    SKIPPED,
    VERIFIED,
    KeyResult,
    with_effects,
    write_plan,
)
from genesis_autonomy.plan import HealPlan, ReferenceValues, make_plan, reference_values
from genesis_core.api import (
    RESTART,
    STAGED,
    FetchContext,
    PlatformAdapter,
    PlatformError,
    SecretPolicy,
    Snapshot,
    VariableWrite,
    WriteEffect,
)

POLICY = SecretPolicy(fingerprint_key=b"autonomy-apply-batch-0123456789a")
CANARY = "canary-batch-value-77aa1c"
RESTARTS = WriteEffect(RESTART, "restarts the app")
STAGES = WriteEffect(STAGED, "staged: effective at the next deploy")


class Recorder(PlatformAdapter):
    """Records one-key writes (the default write_batch loops over them); fails when told to."""

    kind = "recorder"
    supports_write = True

    def __init__(self, name: str, *, fail: bool = False) -> None:
        self.name = name
        self.fail = fail
        self.calls: list[tuple[str, list[str]]] = []

    async def fetch(self, ctx: FetchContext) -> Snapshot:  # pragma: no cover - not read here
        raise NotImplementedError

    async def write(self, ctx: FetchContext, key: str, value: str, *, secret: bool) -> None:
        if self.fail:
            raise PlatformError(self.name, f"refused the value {value}")
        self.calls.append(("write", [key]))


class BatchRecorder(Recorder):
    """Writes a batch as one change (as Heroku's adapter does)."""

    supports_batch_write = True

    async def write_batch(self, ctx: FetchContext, writes: Sequence[VariableWrite]) -> None:
        if self.fail:
            raise PlatformError(self.name, "Release failed for " + ", ".join(w.value for w in writes))
        self.calls.append(("write_batch", [w.key for w in writes]))


def plan_and_values(adapters: dict[str, Recorder]) -> tuple[HealPlan, ReferenceValues]:
    local = Snapshot.from_values("local", "dotenv", {"A": "1", "B": CANARY, "C": "3"})
    snapshots = {"local": local, **{name: Snapshot.from_values(name, "recorder", {"C": "old"}) for name in adapters}}
    plan = make_plan(snapshots, reference="local", targets=list(adapters), policy=POLICY,
                     writable=dict.fromkeys(adapters, True), overwrite_conflicts=True,
                     effects={"heroku": lambda key: RESTARTS, "fly": lambda key: STAGES},
                     batch={name: adapter.supports_batch_write for name, adapter in adapters.items()})
    return plan, reference_values(plan, local)


def run(adapters: dict[str, Recorder]) -> list[KeyResult]:
    plan, values = plan_and_values(adapters)
    results = asyncio.run(write_plan(plan, values, adapters, FetchContext(env={})))
    return with_effects(plan, results)


def test_a_batch_target_gets_one_write_batch_with_all_its_keys() -> None:
    heroku, fly = BatchRecorder("heroku"), Recorder("fly")
    results = run({"heroku": heroku, "fly": fly})
    assert heroku.calls == [("write_batch", ["A", "B", "C"])]
    assert fly.calls == [("write", ["A"]), ("write", ["B"]), ("write", ["C"])]
    assert {(r.instance, r.status, r.written) for r in results} == {("heroku", VERIFIED, True), ("fly", VERIFIED, True)}


def test_written_keys_carry_their_effect() -> None:
    results = run({"heroku": BatchRecorder("heroku"), "fly": Recorder("fly")})
    assert {r.instance: r.effect for r in results} == {"heroku": "restarts the app",
                                                        "fly": "staged: effective at the next deploy"}
    assert results[0].to_dict()["effect"] in ("restarts the app", "staged: effective at the next deploy")


def test_a_failed_batch_fails_every_key_of_that_instance_only_and_hides_the_values() -> None:
    heroku, fly = BatchRecorder("heroku", fail=True), Recorder("fly")
    results = run({"heroku": heroku, "fly": fly})
    failed = [r for r in results if r.instance == "heroku"]
    assert [r.status for r in failed] == [FAILED] * 3 and not any(r.written or r.effect for r in failed)
    assert all("one change for all 3 key(s) of heroku, none written" in r.detail for r in failed)
    assert all(CANARY not in r.detail for r in failed)
    assert [r.status for r in results if r.instance == "fly"] == [VERIFIED] * 3


def test_a_one_key_target_still_stops_at_its_first_failure() -> None:
    results = run({"fly": Recorder("fly", fail=True)})
    assert [(r.key, r.status) for r in results] == [("A", FAILED), ("B", SKIPPED), ("C", SKIPPED)]
    assert "refused the value" in results[0].detail


@pytest.mark.parametrize("batch", [True, False])
def test_a_plan_with_nothing_to_write_calls_nothing(batch: bool) -> None:
    adapter = BatchRecorder("heroku") if batch else Recorder("heroku")
    local = Snapshot.from_values("local", "dotenv", {"A": "1"})
    plan = make_plan({"local": local, "heroku": Snapshot.from_values("heroku", "recorder", {"A": "1"})},
                     reference="local", targets=["heroku"], policy=POLICY, writable={"heroku": True},
                     batch={"heroku": batch})
    assert asyncio.run(write_plan(plan, reference_values(plan, local), {"heroku": adapter},
                                  FetchContext(env={}))) == []
    assert adapter.calls == []
