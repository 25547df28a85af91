"""Benchmark ``GenesisBus`` publish-to-delivery throughput next to blinker and pyee.

Each measurement publishes small events (``{"n", "key", "value"}``) on one
topic to 1 or 4 synchronous subscribers that count what they receive; a
publish returns only after every subscriber has run, so events/s is
publish-to-delivery.  The bus is the core's: Guardian with the built-in
policy, then the transport, then delivery.

* embedded durable store (SQLite WAL, ``durability = "full"``: fsync per commit),
  one ``await publish`` after another, ``asyncio.gather`` of 500 concurrent
  publishes (one group commit each), and ``publish_many`` of 500 (one commit);
* in-memory transport, the same three ways;
* blinker ``Signal.send`` and pyee ``EventEmitter.emit`` doing the bare dispatch.

Targets: durable at least 10,000 events/s with batched commits (``gather`` or
``publish_many``; one-at-a-time publishing pays one fsync per event and is shown
for reference), and in-memory one-at-a-time within 3x of blinker at 4 receivers
(the ratio comes from runs of the two that alternate).

    python benchmarks/bench_bus.py [--quick] [--repeat N] [--profile]
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    Table,
    Timing,
    fmt_rate,
    fmt_ratio,
    header,
    make_parser,
    repeats,
    verdict,
)

from genesis_core.bus import GenesisBus, Guardian
from genesis_core.bus.guardian import DefaultPolicy
from genesis_core.bus.memory import MemoryTransport
from genesis_core.bus.store import SqliteTransport

TOPIC = "bench.event"
BATCH = 500
DURABLE_TARGET = 10_000
BLINKER_RATIO_TARGET = 3.0


class Counter:
    """Handlers that count deliveries (one shared count, so a lost delivery shows)."""

    def __init__(self) -> None:
        self.count = 0

    def make(self) -> Callable[[dict[str, Any]], None]:
        def handler(event: dict[str, Any]) -> None:
            self.count += 1

        return handler


def payload(n: int) -> dict[str, Any]:
    """Return the event payload number ``n``."""
    return {"n": n, "key": "DATABASE_URL", "value": "postgres://db.internal:5432/app"}


# ---------------------------------------------------------------- the bus

def make_bus(kind: str, directory: Path) -> GenesisBus:
    """Return a bus on a fresh ``memory`` or ``durable`` (SQLite, fsync) transport."""
    if kind == "memory":
        transport: Any = MemoryTransport()
    else:
        transport = SqliteTransport(directory / "events.db", durability="full")
    return GenesisBus(transport, Guardian.of(DefaultPolicy()))


async def publish_sequential(bus: GenesisBus, events: int) -> None:
    for n in range(events):
        await bus.publish(TOPIC, payload(n))


async def publish_gather(bus: GenesisBus, events: int) -> None:
    for start in range(0, events, BATCH):
        await asyncio.gather(*(bus.publish(TOPIC, payload(n))
                               for n in range(start, min(events, start + BATCH))))


async def publish_batched(bus: GenesisBus, events: int) -> None:
    for start in range(0, events, BATCH):
        await bus.publish_many([(TOPIC, payload(n)) for n in range(start, min(events, start + BATCH))])


SEQUENTIAL = "one await publish after another"
MODES: dict[str, Callable[[GenesisBus, int], Awaitable[None]]] = {
    SEQUENTIAL: publish_sequential,
    f"gather of {BATCH} concurrent publishes": publish_gather,
    f"publish_many of {BATCH}": publish_batched,
}


def run_bus(kind: str, mode: str, subscribers: int, events: int) -> float:
    """Return the seconds to publish ``events`` and deliver each to every subscriber."""
    publish = MODES[mode]
    with tempfile.TemporaryDirectory(prefix="genesis-bench-bus-") as tmp:
        bus = make_bus(kind, Path(tmp))
        counter = Counter()
        for i in range(subscribers):
            bus.subscribe(TOPIC, counter.make(), name=f"counter{i}")

        async def go() -> float:
            await publish(bus, 20)  # warm-up: the writer thread, the match cache
            counter.count = 0
            started = time.perf_counter()
            await publish(bus, events)
            return time.perf_counter() - started

        try:
            elapsed = asyncio.run(go())
        finally:
            bus.close()
        if counter.count != events * subscribers:
            raise RuntimeError(f"{kind}/{mode}: {counter.count} deliveries, expected "
                               f"{events * subscribers}")
        if kind == "durable":
            check = SqliteTransport(Path(tmp) / "events.db")
            try:
                stored = check.last_seq()
            finally:
                check.close()
            if stored != events + 20:
                raise RuntimeError(f"durable/{mode}: {stored} events stored, expected {events + 20}")
        return elapsed


# ---------------------------------------------------------------- bare dispatch

def run_blinker(subscribers: int, events: int) -> float:
    """Return the seconds blinker takes to send ``events`` signals to ``subscribers`` receivers."""
    from blinker import Signal

    signal = Signal()
    counter = Counter()
    for _ in range(subscribers):
        signal.connect(counter.make(), weak=False)  # blinker calls receiver(sender)
    started = time.perf_counter()
    for n in range(events):
        signal.send(payload(n))
    elapsed = time.perf_counter() - started
    assert counter.count == events * subscribers
    return elapsed


def run_pyee(subscribers: int, events: int) -> float:
    """Return the seconds pyee takes to emit ``events`` events to ``subscribers`` listeners."""
    from pyee.base import EventEmitter

    emitter = EventEmitter()
    counter = Counter()
    for _ in range(subscribers):
        emitter.on(TOPIC, counter.make())
    started = time.perf_counter()
    for n in range(events):
        emitter.emit(TOPIC, payload(n))
    elapsed = time.perf_counter() - started
    assert counter.count == events * subscribers
    return elapsed


def median_rate(measure: Callable[[], float], events: int, repeat: int) -> float:
    """Return the median events/s over ``repeat`` runs of ``measure`` (seconds for ``events``)."""
    return events / Timing(tuple(measure() for _ in range(repeat))).median


# ---------------------------------------------------------------- profile

def profile_memory_publish(events: int, subscribers: int = 4, top: int = 25) -> str:
    """Return cProfile's top functions (by own time) for in-memory one-at-a-time publishing."""
    bus = make_bus("memory", Path("."))
    counter = Counter()
    for i in range(subscribers):
        bus.subscribe(TOPIC, counter.make(), name=f"counter{i}")

    async def go() -> cProfile.Profile:
        await publish_sequential(bus, 100)
        profiler = cProfile.Profile()
        profiler.enable()
        await publish_sequential(bus, events)
        profiler.disable()
        return profiler

    profiler = asyncio.run(go())
    bus.close()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def _drive(make: Callable[[], Any]) -> Callable[[], Any]:
    """Return a function running the never-suspending coroutine ``make()`` without an event loop."""
    def run() -> Any:
        coroutine = make()
        try:
            coroutine.send(None)
        except StopIteration as stop:
            return stop.value
        coroutine.close()
        raise RuntimeError("the coroutine suspended")
    return run


def component_table(subscribers: int = 4, number: int = 20_000) -> Table:
    """Return the microseconds per event of each step of an in-memory publish (timeit, median of 5).

    The steps are timed on their own, without a profiler's overhead; they use
    the bus's internals, so a step that no longer exists is shown as n/a.
    """
    import timeit

    from genesis_core.bus import dispatcher, results
    from genesis_core.bus import envelope as envelope_module

    bus = make_bus("memory", Path("."))
    counter = Counter()
    for i in range(subscribers):
        bus.subscribe(TOPIC, counter.make(), name=f"counter{i}")
    event = payload(1)
    ids = iter(range(10**12))

    def per_call(fn: Callable[[], Any]) -> float:
        return statistics.median(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6

    steps: list[tuple[str, Callable[[], Any]]] = []
    try:
        context = bus._context(None, None)
        transport = bus.transport
        envelope = transport.append_now(TOPIC, event, "template", "ts", "src")
        template, copy = dispatcher.event_template(envelope)
        registry = bus._registry

        def whole() -> None:
            asyncio.run(publish_sequential(bus, number))

        def claim_and_deliver() -> Any:
            matched, names, tickets = registry.claim(TOPIC)
            return bus._deliver(envelope, matched, tickets, (), False, names)

        def turns() -> None:
            matched, _names, tickets = registry.claim(TOPIC)
            registry.release_many(matched, tickets)

        steps = [
            ("validate topic, payload and context (validate_topic, _payload, _context)",
             lambda: (dispatcher.validate_topic(TOPIC), bus._payload(event), bus._context(None, None))),
            ("Guardian.gate (built-in policy)", lambda: bus.guardian.gate(TOPIC, event, context)),
            ("event id and timestamp (fast_event_id, fast_utc_now)",
             lambda: (envelope_module.fast_event_id(), envelope_module.fast_utc_now())),
            ("MemoryTransport.append_now", lambda: transport.append_now(
                TOPIC, event, str(next(ids)), "ts", "src")),
            ("  of which normalise_payload (the stored copy)",
             lambda: dispatcher.normalise_payload(TOPIC, event)),
            (f"claim + _deliver: delivery to {subscribers} subscribers", claim_and_deliver),
            ("  of which event_template", lambda: dispatcher.event_template(envelope)),
            (f"  of which a copy per extra subscriber (x {subscribers - 1})",
             lambda: [copy(template) for _ in range(subscribers - 1)]),
            (f"  of which turns (claim + release_many: one lock each for all {subscribers})", turns),
            ("PublishResult(...)", lambda: results.PublishResult("delivered", envelope, "", ("a",) * subscribers, ())),
        ]
        wholes = []
        for _ in range(3):
            started = time.perf_counter()
            whole()
            wholes.append((time.perf_counter() - started) / number * 1e6)
        total = statistics.median(wholes)
    except Exception as exc:  # internals changed: say so instead of failing the benchmark
        table = Table("in-memory publish: time per step", ["step", "µs/event", "share"])
        table.add(f"n/a ({type(exc).__name__}: {exc})", "-", "-")
        return table
    finally:
        bus.close()
    table = Table(f"in-memory publish to {subscribers} subscribers: time per step (µs/event)",
                  ["step", "µs/event", "share"],
                  note=("Each step timed on its own (timeit, median of 5); indented rows are part of "
                        "the row above; the remainder is publish()'s own code, its coroutine, the "
                        "handlers themselves and the cache misses of a store that keeps every event."))
    table.add("whole `await bus.publish(...)`", f"{total:.2f}", "100%")
    accounted = 0.0
    for label, fn in steps:
        cost = per_call(fn)
        if not label.startswith("  "):
            accounted += cost
        table.add(label, f"{cost:.2f}", f"{cost / total:.0%}")
    table.add("remainder", f"{total - accounted:.2f}", f"{(total - accounted) / total:.0%}")
    return table


def alternating_rates(subscribers: int, events: int, bare_events: int, repeat: int
                      ) -> tuple[float, float]:
    """Return (bus events/s, blinker sends/s): in-memory one-at-a-time runs alternating with blinker's.

    Alternating the two (instead of timing one after the other) makes a change of the
    machine's speed during the run hit both sides of the ratio alike.
    """
    bus_times: list[float] = []
    blinker_times: list[float] = []
    for _ in range(repeat):
        bus_times.append(run_bus("memory", SEQUENTIAL, subscribers, events) / events)
        blinker_times.append(run_blinker(subscribers, bare_events) / bare_events)
    return 1 / statistics.median(bus_times), 1 / statistics.median(blinker_times)


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--profile", action="store_true",
                        help="also print a cProfile of in-memory publishing to 4 subscribers")
    args = parser.parse_args(argv)
    repeat = repeats(args, 5, 1)
    scale = 10 if args.quick else 1
    counts = {
        ("durable", "one await publish after another"): 2_000 // scale,
        ("durable", f"gather of {BATCH} concurrent publishes"): 10_000 // scale,
        ("durable", f"publish_many of {BATCH}"): 10_000 // scale,
        ("memory", "one await publish after another"): 20_000 // scale,
        ("memory", f"gather of {BATCH} concurrent publishes"): 20_000 // scale,
        ("memory", f"publish_many of {BATCH}"): 20_000 // scale,
    }
    bare_events = 200_000 // scale
    header("bench_bus", args, f"{repeat} runs each, median")

    rates: dict[tuple[str, str, int], float] = {}
    for (kind, mode), events in counts.items():
        for subscribers in (1, 4):
            rates[kind, mode, subscribers] = median_rate(
                lambda: run_bus(kind, mode, subscribers, events), events, repeat)
    for subscribers in (1, 4):
        rates["blinker", "Signal.send", subscribers] = median_rate(
            lambda: run_blinker(subscribers, bare_events), bare_events, repeat)
        rates["pyee", "EventEmitter.emit", subscribers] = median_rate(
            lambda: run_pyee(subscribers, bare_events), bare_events, repeat)

    pairs = 2 * repeat  # cheap, and the ratio is the target: more runs, a steadier median
    paired = {subscribers: alternating_rates(subscribers, counts["memory", SEQUENTIAL], bare_events, pairs)
              for subscribers in (1, 4)}

    def blinker_ratio(subscribers: int) -> float:
        bus_rate, blinker_rate = paired[subscribers]
        return blinker_rate / bus_rate

    table = Table("publish-to-delivery events/s",
                  ["transport", "how", "events", "1 subscriber", "4 subscribers", "target", "result"])
    for (kind, mode), events in counts.items():
        one, four = rates[kind, mode, 1], rates[kind, mode, 4]
        if kind == "durable" and mode != SEQUENTIAL:
            target = f">= {DURABLE_TARGET:,}/s"
            result = verdict(min(one, four) >= DURABLE_TARGET)
        elif kind == "memory" and mode == SEQUENTIAL:
            target = f"4 subs >= blinker / {BLINKER_RATIO_TARGET:.0f}"
            result = verdict(blinker_ratio(4) <= BLINKER_RATIO_TARGET)
        else:
            target, result = "-", "-"
        name = "embedded (SQLite, fsync)" if kind == "durable" else "in-memory"
        table.add(name, mode, f"{events:,}", fmt_rate(one), fmt_rate(four), target, result)
    for kind, mode in (("blinker", "Signal.send"), ("pyee", "EventEmitter.emit")):
        table.add(kind, mode + " (bare dispatch)", f"{bare_events:,}", fmt_rate(rates[kind, mode, 1]),
                  fmt_rate(rates[kind, mode, 4]), "-", "-")
    table.print()

    ratios = Table(f"in-memory bus vs bare dispatch ({SEQUENTIAL})",
                   ["receivers", "bus", "blinker", "blinker / bus", "pyee / bus", "target", "result"],
                   note=(f"bus and blinker from {pairs} alternating runs each (medians), so that a "
                         "change of the machine's speed hits both; pyee from the table above."))
    for subscribers in (1, 4):
        bus_rate, blinker_rate = paired[subscribers]
        ratio = blinker_rate / bus_rate
        ratios.add(subscribers, fmt_rate(bus_rate), fmt_rate(blinker_rate), fmt_ratio(ratio),
                   fmt_ratio(rates["pyee", "EventEmitter.emit", subscribers] / bus_rate),
                   f"<= {BLINKER_RATIO_TARGET:.1f}x" if subscribers == 4 else "-",
                   verdict(ratio <= BLINKER_RATIO_TARGET) if subscribers == 4 else "-")
    ratios.print()

    if args.profile:
        component_table(number=2_000 if args.quick else 20_000).print()
        print("### cProfile: in-memory bus, one await publish after another, 4 subscribers\n")
        print("```")
        print(profile_memory_publish(2_000 if args.quick else 20_000).rstrip())
        print("```")
    return 0


if __name__ == "__main__":
    sys.exit(main())
