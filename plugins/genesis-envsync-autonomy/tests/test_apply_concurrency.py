"""Applying a heal plan: instances written concurrently, each one a key at a time, results in plan order.

The emulator test instruments real Render, Netlify and GitHub emulators: the
first write each one receives waits (on a thread barrier) until all three have
a write in flight, which only a heal that writes the platforms concurrently can
satisfy, and every write is held a moment while the emulator counts the writes
it has in flight, so two writes to one platform at once would be seen.  The
other tests drive in-memory adapters whose writes wait on each other, so the
order in which platforms answer is chosen by the test, not by timing.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs
import pytest

from genesis_autonomy.apply import (
    FAILED,
    SKIPPED,
    VERIFIED,
    KeyResult,
    apply_plan,
    write_plan,
)
from genesis_autonomy.plan import (
    CREATE,
    UPDATE,
    HealPlan,
    PlannedWrite,
    ReferenceValues,
    TargetPlan,
)
from genesis_core.api import (
    FetchContext,
    InstanceConfig,
    PlatformAdapter,
    PlatformError,
    Snapshot,
    Table,
)

WAIT = 5.0  # seconds a test waits for something that must happen before it gives up


# ---------------------------------------------------------------- real emulators

class InFlight:
    """Counts the write requests each emulator is serving at once; the first write of each waits for all."""

    def __init__(self, emulators: dict[str, Any]) -> None:
        self.barrier = threading.Barrier(len(emulators), timeout=3.0)
        self.lock = threading.Lock()
        self.now = dict.fromkeys(emulators, 0)
        self.most = dict.fromkeys(emulators, 0)
        self.writes = dict.fromkeys(emulators, 0)
        self.met = True
        for name, emulator in emulators.items():
            emulator.handle = self._wrap(name, emulator.handle)

    def _wrap(self, name: str, handle: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def instrumented(request: Any) -> Any:
            if request.method in ("GET", "HEAD"):
                return handle(request)
            with self.lock:
                self.now[name] += 1
                self.most[name] = max(self.most[name], self.now[name])
                self.writes[name] += 1
                first = self.writes[name] == 1
            try:
                if first:
                    try:
                        self.barrier.wait()
                    except threading.BrokenBarrierError:
                        self.met = False
                time.sleep(0.02)  # hold the write, so an overlapping one to this platform would count
                return handle(request)
            finally:
                with self.lock:
                    self.now[name] -= 1
        return instrumented


def test_heal_writes_the_platforms_concurrently_and_each_one_a_write_at_a_time(project) -> None:
    flight = InFlight({"render": project.render, "netlify": project.netlify, "github": project.github})
    code, out, err = project.run("heal", "--apply")
    assert code == 0, out + err
    assert flight.met, "the three platforms never had a write in flight at the same time"
    assert flight.most == {"render": 1, "netlify": 1, "github": 1}
    assert flight.writes["render"] == 4 and min(flight.writes.values()) >= 3  # several writes each
    # The report lists every key in plan order: target by target, creates then updates.
    lines = re.findall(r"^  [✓✗-] (\w+) (\w+) \((\w+)\)", out, flags=re.M)
    planned = project.events("autonomy.heal.planned")[0]["targets"]
    expected = [(target, key, action) for target, plan in planned.items()
                for action in ("create", "update") for key in plan[action]]
    assert lines == expected


# ---------------------------------------------------------------- in-memory adapters

Gate = Callable[[str, str], Awaitable[None]]


class MemoryAdapter(PlatformAdapter):
    """Variables in a dict; ``gate(instance, key)`` runs before a write lands; ``refuse`` keys fail."""

    kind = "memory-test"
    supports_write = True

    def __init__(self, name: str, log: list[tuple[str, str, str]], *, gate: Gate | None = None,
                 refuse: frozenset[str] = frozenset()) -> None:
        super().__init__(InstanceConfig(name, self.kind, Table({}, "test.toml", f"platforms.{name}"), Path(".")))
        self.values: dict[str, str] = {}
        self.log = log
        self.gate = gate
        self.refuse = refuse
        self.in_flight = 0
        self.most_in_flight = 0

    async def fetch(self, ctx: FetchContext) -> Snapshot:
        return Snapshot.from_values(self.name, self.kind, dict(self.values))

    async def write(self, ctx: FetchContext, key: str, value: str, *, secret: bool) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        self.log.append(("start", self.name, key))
        try:
            await asyncio.sleep(0)  # let every other instance's writer run in between
            if self.gate is not None:
                await asyncio.wait_for(self.gate(self.name, key), WAIT)
            if key in self.refuse:
                raise PlatformError(self.name, f"HTTP 403: refused {key} = {value}")
            self.values[key] = value
            self.log.append(("done", self.name, key))
        finally:
            self.in_flight -= 1


def plan_of(**targets: list[str]) -> HealPlan:
    """Return a plan writing ``keys`` to each named target (``~KEY`` is an update), in the given order."""
    plans = []
    for name, keys in targets.items():
        writes = tuple(PlannedWrite(k.lstrip("~"), UPDATE if k.startswith("~") else CREATE, "shown", False)
                       for k in keys)
        plans.append(TargetPlan(name, "memory-test", True, writes))
    return HealPlan("local", True, tuple(plans))


def values_for(plan: HealPlan) -> ReferenceValues:
    return ReferenceValues({w.key: f"value-of-{w.key}" for _, w in plan.writes()})


def triples(results: list[KeyResult]) -> list[tuple[str, str, str]]:
    return [(r.instance, r.key, r.status) for r in results]


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]


def test_results_keep_plan_order_when_a_later_platform_finishes_first() -> None:
    plan = plan_of(slow=["A", "B"], fast=["C", "D", "E"])
    log: list[tuple[str, str, str]] = []
    fast_done = asyncio.Event()

    async def gate(instance: str, key: str) -> None:
        if instance == "slow":
            await fast_done.wait()  # the first target in the plan answers last
        elif key == "E":
            fast_done.set()

    adapters = {"slow": MemoryAdapter("slow", log, gate=gate), "fast": MemoryAdapter("fast", log, gate=gate)}
    result = run(apply_plan(plan, values_for(plan), adapters, {}))
    assert triples(list(result.results)) == [
        ("slow", "A", VERIFIED), ("slow", "B", VERIFIED),
        ("fast", "C", VERIFIED), ("fast", "D", VERIFIED), ("fast", "E", VERIFIED)]
    assert all(r.written for r in result.results)
    done = [(name, key) for event, name, key in log if event == "done"]
    assert done == [("fast", "C"), ("fast", "D"), ("fast", "E"), ("slow", "A"), ("slow", "B")]


def test_each_instance_gets_one_write_at_a_time_in_plan_order() -> None:
    plan = plan_of(a=["K1", "K2", "K3", "~K4"], b=["K1", "K2"], c=["K9"])
    log: list[tuple[str, str, str]] = []
    adapters = {name: MemoryAdapter(name, log) for name in ("a", "b", "c")}
    results = run(write_plan(plan, values_for(plan), adapters, FetchContext(env={})))
    assert [(r.instance, r.key, r.action) for r in results] == [
        ("a", "K1", "create"), ("a", "K2", "create"), ("a", "K3", "create"), ("a", "K4", "update"),
        ("b", "K1", "create"), ("b", "K2", "create"), ("c", "K9", "create")]
    assert {name: a.most_in_flight for name, a in adapters.items()} == {"a": 1, "b": 1, "c": 1}
    for name in adapters:
        events = [(event, key) for event, instance, key in log if instance == name]
        # start K1, done K1, start K2, done K2, ...: a write starts only after the previous one landed
        assert events == [(e, w.key) for w in plan.targets[list(adapters).index(name)].writes
                          for e in ("start", "done")]
    # The writers interleave: b and c started before a finished.
    first_done_a = log.index(("done", "a", "K4"))
    assert log.index(("start", "b", "K1")) < first_done_a and log.index(("start", "c", "K9")) < first_done_a


def test_a_failing_platform_neither_stops_nor_undoes_the_others() -> None:
    plan = plan_of(good=["A", "B", "C"], bad=["X", "Y", "Z"], late=["M", "N"])
    log: list[tuple[str, str, str]] = []
    bad_failed = asyncio.Event()

    async def gate(instance: str, key: str) -> None:
        if instance == "late" and key == "N":
            await bad_failed.wait()  # N is written after the other platform failed

    class Refusing(MemoryAdapter):
        async def write(self, ctx: FetchContext, key: str, value: str, *, secret: bool) -> None:
            try:
                await super().write(ctx, key, value, secret=secret)
            finally:
                if key == "Y":
                    bad_failed.set()

    good = MemoryAdapter("good", log)
    bad = Refusing("bad", log, refuse=frozenset({"Y"}))
    late = MemoryAdapter("late", log, gate=gate)
    values = values_for(plan)
    result = run(apply_plan(plan, values, {"good": good, "bad": bad, "late": late}, {}))
    assert triples(list(result.results)) == [
        ("good", "A", VERIFIED), ("good", "B", VERIFIED), ("good", "C", VERIFIED),
        ("bad", "X", VERIFIED), ("bad", "Y", FAILED), ("bad", "Z", SKIPPED),
        ("late", "M", VERIFIED), ("late", "N", VERIFIED)]
    written = {(r.instance, r.key) for r in result.results if r.written}
    assert written == {("good", "A"), ("good", "B"), ("good", "C"), ("bad", "X"), ("late", "M"), ("late", "N")}
    # Nothing was rolled back: what was written stays, on the failing platform too.
    assert good.values == {k: values[k] for k in "ABC"}
    assert bad.values == {"X": values["X"]}
    assert late.values == {"M": values["M"], "N": values["N"]}
    [failed] = [r for r in result.results if r.status == FAILED]
    assert "HTTP 403" in failed.detail and values["Y"] not in failed.detail
    [skipped] = [r for r in result.results if r.status == SKIPPED]
    assert skipped.detail == "not attempted: an earlier write to bad failed (Y)"
    assert not [e for e in log if e[1:] == ("bad", "Z")]


def test_every_confirmed_write_is_recorded_as_it_happens_before_the_next_write() -> None:
    plan = plan_of(a=["K1", "K2", "K3"], b=["L1", "L2"])
    log: list[tuple[str, str, str]] = []
    adapters = {"a": MemoryAdapter("a", log, refuse=frozenset({"K3"})), "b": MemoryAdapter("b", log)}

    async def record(result: KeyResult) -> None:
        assert result.written and result.status == VERIFIED
        log.append(("recorded", result.instance, result.key))

    run(write_plan(plan, values_for(plan), adapters, FetchContext(env={}), on_write=record))
    for name, keys in (("a", ["K1", "K2"]), ("b", ["L1", "L2"])):
        own = [(event, key) for event, instance, key in log if instance == name]
        expected = [(e, k) for k in keys for e in ("start", "done", "recorded")]
        if name == "a":
            expected.append(("start", "K3"))  # refused: started, never done, never recorded
        assert own == expected


def test_a_failed_record_stops_further_writes_to_that_instance_only() -> None:
    plan = plan_of(a=["K1", "K2"], b=["L1", "L2"])
    log: list[tuple[str, str, str]] = []
    adapters = {"a": MemoryAdapter("a", log), "b": MemoryAdapter("b", log)}

    async def record(result: KeyResult) -> None:
        if result.key == "K1":
            raise OSError("the event store is gone")

    results = run(write_plan(plan, values_for(plan), adapters, FetchContext(env={}), on_write=record))
    assert triples(results) == [("a", "K1", VERIFIED), ("a", "K2", SKIPPED), ("b", "L1", VERIFIED),
                                ("b", "L2", VERIFIED)]
    assert results[0].written and not results[1].written
    assert results[1].detail == "not attempted: recording the write of K1 to a failed (OSError)"
    assert adapters["a"].values == {"K1": "value-of-K1"}


def test_two_dotenv_instances_writing_one_file_do_not_lose_an_update(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text('KEEP="1"\n', encoding="utf-8")

    from genesis_core.testing import build_plugin_host

    kind = build_plugin_host(entry_points=False).platform_kinds()["dotenv"]  # the core's own adapter

    def dotenv(name: str) -> PlatformAdapter:
        return kind.factory(InstanceConfig(name, "dotenv", Table({"path": ".env"}, "t.toml", f"platforms.{name}"),
                                           tmp_path))

    keys_one = [f"ONE_{i}" for i in range(20)]
    keys_two = [f"TWO_{i}" for i in range(20)]
    plan = plan_of(one=keys_one, two=keys_two)
    result = run(apply_plan(plan, values_for(plan), {"one": dotenv("one"), "two": dotenv("two")}, {}))
    assert result.ok, [r.to_dict() for r in result.failed]
    text = env_file.read_text(encoding="utf-8")
    for key in ["KEEP", *keys_one, *keys_two]:
        assert re.search(rf"^{key}=", text, flags=re.M), f"{key} lost"


@pytest.mark.parametrize("debug", ["", "1"])
def test_an_unexpected_adapter_error_is_reported_or_raised_after_the_others_finished(
        monkeypatch: pytest.MonkeyPatch, debug: str) -> None:
    class Broken(MemoryAdapter):
        async def write(self, ctx: FetchContext, key: str, value: str, *, secret: bool) -> None:
            raise ZeroDivisionError(value)

    monkeypatch.setenv("GENESIS_DEBUG", debug)
    plan = plan_of(broken=["A"], ok=["B", "C"])
    log: list[tuple[str, str, str]] = []
    adapters = {"broken": Broken("broken", log), "ok": MemoryAdapter("ok", log)}
    if debug:
        with pytest.raises(ZeroDivisionError):
            run(write_plan(plan, values_for(plan), adapters, FetchContext(env={})))
    else:
        results = run(write_plan(plan, values_for(plan), adapters, FetchContext(env={})))
        assert triples(results) == [("broken", "A", FAILED), ("ok", "B", VERIFIED), ("ok", "C", VERIFIED)]
        assert "unexpected ZeroDivisionError" in results[0].detail
    assert adapters["ok"].values == {"B": "value-of-B", "C": "value-of-C"}


def test_a_batch_instance_is_one_change_written_alongside_the_others() -> None:
    class Batching(MemoryAdapter):
        supports_batch_write = True

        async def write_batch(self, ctx: FetchContext, writes: Any) -> None:
            self.log.append(("batch", self.name, ",".join(w.key for w in writes)))
            await asyncio.sleep(0)
            if self.gate is not None:
                await asyncio.wait_for(self.gate(self.name, "*"), WAIT)
            self.values.update({w.key: w.value for w in writes})
            self.log.append(("done", self.name, "*"))

    plan = plan_of(app=["A", "B", "C"], other=["X", "Y"])
    plan = HealPlan(plan.reference, plan.overwrite_conflicts,
                    (attrs.evolve(plan.targets[0], batch=True), plan.targets[1]))
    log: list[tuple[str, str, str]] = []
    other_done = asyncio.Event()

    async def gate(instance: str, key: str) -> None:
        if instance == "app":
            await other_done.wait()  # the batch lands only after the other instance is done
        elif key == "Y":
            other_done.set()

    recorded: list[tuple[str, str]] = []

    async def record(result: KeyResult) -> None:
        recorded.append((result.instance, result.key))

    adapters = {"app": Batching("app", log, gate=gate), "other": MemoryAdapter("other", log, gate=gate)}
    results = run(write_plan(plan, values_for(plan), adapters, FetchContext(env={}), on_write=record))
    assert triples(results) == [("app", "A", VERIFIED), ("app", "B", VERIFIED), ("app", "C", VERIFIED),
                                ("other", "X", VERIFIED), ("other", "Y", VERIFIED)]
    assert [e for e in log if e[0] == "batch"] == [("batch", "app", "A,B,C")]  # one change
    assert log.index(("batch", "app", "A,B,C")) < log.index(("done", "other", "Y"))  # concurrent
    assert recorded == [("other", "X"), ("other", "Y"), ("app", "A"), ("app", "B"), ("app", "C")]
