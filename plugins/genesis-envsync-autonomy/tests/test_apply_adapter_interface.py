"""What ``write_plan`` learns from an adapter through the typed ``PlatformAdapter`` interface, not by sniffing.

A third-party adapter (defined here, not one of Genesis' own) decides two things: a
``KeyRefused`` from its ``write`` fails that key alone, and ``write_scope()`` says which
instances must not be written at the same time (the scope names used here are the test's own).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, ClassVar

from genesis_autonomy.apply import FAILED, SKIPPED, VERIFIED, KeyResult, write_plan
from genesis_autonomy.plan import CREATE, HealPlan, PlannedWrite, ReferenceValues, TargetPlan
from genesis_core.api import FetchContext, InstanceConfig, KeyRefused, PlatformAdapter, PlatformError, Snapshot, Table

CANARY = "canary-7d2b91-key-refused"


class ThirdParty(PlatformAdapter):
    """Variables in a dict; a key in ``refuse`` is refused with ``error(name, message)``."""

    kind: ClassVar[str] = "third-party"
    supports_write: ClassVar[bool] = True

    def __init__(self, name: str, *, refuse: frozenset[str] = frozenset(),
                 error: type[PlatformError] = KeyRefused) -> None:
        super().__init__(InstanceConfig(name, self.kind, Table({}, "test.toml", f"platforms.{name}"), Path(".")))
        self.values: dict[str, str] = {}
        self.refuse = refuse
        self.error = error

    async def fetch(self, ctx: FetchContext) -> Snapshot:
        return Snapshot.from_values(self.name, self.kind, dict(self.values))

    async def write(self, ctx: FetchContext, key: str, value: str, *, secret: bool) -> None:
        await asyncio.sleep(0)
        if key in self.refuse:
            raise self.error(self.name, f"refused {key}: the platform cannot hold this value")
        self.values[key] = value


def _plan(**targets: list[str]) -> HealPlan:
    return HealPlan("local", True, tuple(
        TargetPlan(name, ThirdParty.kind, True, tuple(PlannedWrite(k, CREATE, "shown", False) for k in keys))
        for name, keys in targets.items()))


def _values(plan: HealPlan) -> ReferenceValues:
    return ReferenceValues({w.key: f"{CANARY}-{w.key}" for _, w in plan.writes()})


def _statuses(results: list[KeyResult]) -> list[tuple[str, str, str]]:
    return [(r.instance, r.key, r.status) for r in results]


def _run(plan: HealPlan, adapters: dict[str, Any]) -> list[KeyResult]:
    results: list[KeyResult] = asyncio.run(write_plan(plan, _values(plan), adapters, FetchContext(env={})))
    return results


def test_a_key_refused_by_a_third_party_adapter_fails_alone_and_the_instance_goes_on() -> None:
    plan = _plan(app=["A", "B", "C"])
    adapter = ThirdParty("app", refuse=frozenset({"B"}))
    results = _run(plan, {"app": adapter})
    assert _statuses(results) == [("app", "A", VERIFIED), ("app", "B", FAILED), ("app", "C", VERIFIED)]
    assert results[1].detail == "refused B: the platform cannot hold this value"
    assert set(adapter.values) == {"A", "C"}
    assert all(CANARY not in r.detail for r in results)


def test_any_other_platform_error_stops_the_instance() -> None:
    plan = _plan(app=["A", "B", "C"])
    adapter = ThirdParty("app", refuse=frozenset({"B"}), error=PlatformError)
    assert _statuses(_run(plan, {"app": adapter})) == [
        ("app", "A", VERIFIED), ("app", "B", FAILED), ("app", "C", SKIPPED)]
    assert set(adapter.values) == {"A"}


def test_an_only_this_key_attribute_is_not_the_contract() -> None:
    class Flagged(PlatformError):
        only_this_key = True  # what heal once sniffed for; only the KeyRefused type counts now

    plan = _plan(app=["A", "B", "C"])
    adapter = ThirdParty("app", refuse=frozenset({"B"}), error=Flagged)
    assert [r.status for r in _run(plan, {"app": adapter})] == [VERIFIED, FAILED, SKIPPED]


class Logged(ThirdParty):
    """Logs each write's start and end in ``log``; ``scope`` replaces the default ``write_scope()``."""

    def __init__(self, name: str, log: list[tuple[str, str, str]], *, scope: str | None = None) -> None:
        super().__init__(name)
        self.log = log
        self.scope = scope

    async def write(self, ctx: FetchContext, key: str, value: str, *, secret: bool) -> None:
        self.log.append(("start", self.name, key))
        for _ in range(3):
            await asyncio.sleep(0)  # every other chain gets to run in between
        self.values[key] = value
        self.log.append(("done", self.name, key))

    def write_scope(self) -> str:
        return self.scope if self.scope is not None else super().write_scope()


def test_instances_sharing_a_write_scope_are_written_one_after_the_other() -> None:
    plan = _plan(one=["A", "B"], two=["C", "D"], other=["E"])
    log: list[tuple[str, str, str]] = []
    adapters = {"one": Logged("one", log, scope="acme-file:/srv/shared.cfg"),
                "two": Logged("two", log, scope="acme-file:/srv/shared.cfg"), "other": Logged("other", log)}
    assert [r.status for r in _run(plan, adapters)] == [VERIFIED] * 5
    shared = [(event, name, key) for event, name, key in log if name != "other"]
    assert shared == [(e, name, key) for name, key in (("one", "A"), ("one", "B"), ("two", "C"), ("two", "D"))
                      for e in ("start", "done")]
    # An instance of its own scope (the default) is written at the same time as the shared chain.
    assert log.index(("start", "other", "E")) < log.index(("done", "one", "A"))


def test_instances_with_the_default_write_scope_are_written_at_the_same_time() -> None:
    plan = _plan(one=["A"], two=["C"])
    log: list[tuple[str, str, str]] = []
    adapters = {"one": Logged("one", log), "two": Logged("two", log)}
    assert adapters["one"].write_scope() != adapters["two"].write_scope()
    _run(plan, adapters)
    assert log.index(("start", "two", "C")) < log.index(("done", "one", "A"))
