"""Benchmark the NATS JetStream transport next to the embedded one: published and consumed events/s.

The script starts its own ``nats-server -js`` on a free loopback port with a
temporary store (file storage, so JetStream writes to disk like the embedded
store does) and stops it at the end.  Events are small (``{"n", "key",
"value"}``) and go through the whole ``GenesisBus`` (Guardian with the
built-in policy, then the transport).

* **publish**: events/s until every publish returned, i.e. stored and
  acknowledged (embedded: committed with ``durability = "full"``; NATS:
  acknowledged by the stream), one ``await`` at a time, ``gather`` of 500
  concurrent publishes, and ``publish_many`` of 500;
* **end to end**: events/s from the first publish until a consumer has
  handled the last event.  Embedded: the in-process subscriber of the
  publishing bus (the only consumer it has).  NATS: a ``genesis worker``
  (``genesis_nats.worker.Worker``, its own connection, durable pull consumer,
  explicit acks) in the same process while ``gather`` batches are published,
  and the same worker draining a backlog that was published before it
  started.

Target: NATS end to end (published while consumed) at least 5,000 events/s
with every publish acknowledged by the stream and every event acknowledged by
the worker, which is orders of magnitude above what syncs, schedulers and CI
publish.

``--profile`` adds a cProfile of one end-to-end run (publish while the worker
consumes) for each thread that does the work: the main thread (the publishing
bus and the worker, one event loop) and the transport's own event-loop thread
(nats-py's publishes and their acknowledgements), each with its CPU time.

    python benchmarks/bench_nats.py [--quick] [--repeat N] [--events N] [--nats-server PATH] [--profile]
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import os
import pstats
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Table, Timing, fmt_rate, header, make_parser, repeats, verdict

from genesis_core.bus import GenesisBus, Guardian
from genesis_core.bus.guardian import DefaultPolicy
from genesis_core.bus.store import SqliteTransport

TOPIC = "bench.event"
BATCH = 500
E2E_TARGET = 5_000
WORKER_BATCH = 256


# ---------------------------------------------------------------- the server

def find_server(configured: str | None) -> str | None:
    """Return the nats-server binary: ``--nats-server``, ``$NATS_SERVER_BIN``, PATH, /usr/sbin."""
    for candidate in (configured, os.environ.get("NATS_SERVER_BIN"), shutil.which("nats-server"),
                      "/usr/sbin/nats-server"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``nats-server -js`` on a free port with a temporary store; a context manager."""

    def __init__(self, binary: str, root: Path) -> None:
        self.binary = binary
        self.root = root
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        log = self.root / "nats-server.log"
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [self.binary, "-js", "-a", "127.0.0.1", "-p", str(self.port),
                 "-sd", str(self.root / "store")], stdout=out, stderr=out)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"nats-server exited: {log.read_text()[-1000:]}")
            if "Server is ready" in log.read_text(errors="replace"):
                return self
            time.sleep(0.02)
        raise SystemExit("nats-server did not become ready")

    def __exit__(self, *exc: Any) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


# ---------------------------------------------------------------- building blocks

def nats_settings(url: str, run: int) -> Any:
    """Return settings for a fresh stream per run (so every run starts from an empty stream)."""
    from genesis_core.config import Table as ConfigTable
    from genesis_nats.settings import NatsSettings

    return NatsSettings.from_table(ConfigTable({
        "transport": "nats", "url": url, "stream": f"BENCH{run}", "subject_prefix": f"bench{run}",
        "worker": {"batch": WORKER_BATCH, "max_ack_pending": 20_000, "poll_interval": 0.2}},
        "bench", "bus"))


def make_bus(transport: Any, subscriber: Callable[[dict[str, Any]], Any] | None = None
             ) -> GenesisBus:
    bus = GenesisBus(transport, Guardian.of(DefaultPolicy()))
    if subscriber is not None:
        bus.subscribe(TOPIC, subscriber, name="bench-counter")
    return bus


def payload(n: int) -> dict[str, Any]:
    return {"n": n, "key": f"KEY_{n % 97}", "value": "x" * 16}


async def publish_sequential(bus: GenesisBus, count: int) -> None:
    for n in range(count):
        await bus.publish(TOPIC, payload(n))


async def publish_gather(bus: GenesisBus, count: int) -> None:
    for start in range(0, count, BATCH):
        await asyncio.gather(*(bus.publish(TOPIC, payload(n))
                               for n in range(start, min(count, start + BATCH))))


async def publish_many(bus: GenesisBus, count: int) -> None:
    for start in range(0, count, BATCH):
        await bus.publish_many([(TOPIC, payload(n))
                                for n in range(start, min(count, start + BATCH))])


MODES: dict[str, Callable[[GenesisBus, int], Awaitable[None]]] = {
    "one await at a time": publish_sequential,
    f"gather of {BATCH}": publish_gather,
    f"publish_many of {BATCH}": publish_many,
}


class Runs:
    """Fresh stores and streams per timed run, and a check of what each run stored."""

    def __init__(self, root: Path, url: str) -> None:
        self.root = root
        self.url = url
        self.count = 0

    def embedded(self) -> Any:
        self.count += 1
        return SqliteTransport(self.root / f"embedded-{self.count}" / "events.db")

    def nats(self) -> tuple[Any, Any]:
        from genesis_nats.transport import NatsTransport

        self.count += 1
        settings = nats_settings(self.url, self.count)
        return settings, NatsTransport(settings, self.root / f"nats-{self.count}").open()


def timed(run: Callable[[], float], repeat: int) -> Timing:
    run()  # warm-up (connections, imports, the server's first stream)
    return Timing(tuple(run() for _ in range(repeat)))


def timed_with_cpu(run: Callable[[], tuple[float, float]], repeat: int) -> tuple[Timing, Timing]:
    """Return (wall times, CPU times of this process) of ``repeat`` runs after a warm-up."""
    run()
    pairs = [run() for _ in range(repeat)]
    return Timing(tuple(wall for wall, _ in pairs)), Timing(tuple(cpu for _, cpu in pairs))


# ---------------------------------------------------------------- measurements

def measure_publish(runs: Runs, kind: str, mode: str, count: int, repeat: int) -> Timing:
    def run() -> float:
        transport = runs.embedded() if kind == "embedded" else runs.nats()[1]
        bus = make_bus(transport)
        try:
            started = time.perf_counter()
            asyncio.run(MODES[mode](bus, count))
            elapsed = time.perf_counter() - started
            stored = bus.last_seq()
            if stored != count:
                raise SystemExit(f"{kind} {mode}: stored {stored} of {count} events")
            return elapsed
        finally:
            bus.close()

    return timed(run, repeat)


def measure_embedded_e2e(runs: Runs, count: int, repeat: int) -> Timing:
    def run() -> float:
        seen: list[int] = []
        bus = make_bus(runs.embedded(), lambda event: seen.append(event["n"]))
        try:
            started = time.perf_counter()
            asyncio.run(publish_gather(bus, count))
            elapsed = time.perf_counter() - started
        finally:
            bus.close()
        if sorted(seen) != list(range(count)):
            raise SystemExit(f"embedded end to end: handled {len(seen)} of {count}")
        return elapsed

    return timed(run, repeat)


async def consume(settings: Any, transport: Any, count: int, *, backlog: bool
                  ) -> tuple[float, float]:
    """Return (seconds, CPU seconds of this process) until a worker handled ``count`` events.

    The events are published meanwhile, or before the worker starts (``backlog``).
    The CPU time covers every thread of this process (the publishing bus, the
    transport's loop thread and the worker), not the server.
    """
    from genesis_core.api import Dispatcher
    from genesis_core.bus.memory import MemoryDeadLetters
    from genesis_nats.worker import EngineBinding, Worker

    handled: set[int] = set()
    all_handled = asyncio.Event()
    ready = asyncio.Event()

    async def handler(event: dict[str, Any]) -> None:
        handled.add(event["n"])
        if len(handled) == count:
            all_handled.set()

    bus = make_bus(transport)
    handlers = Dispatcher(handler_timeout=None)
    handlers.subscribe(TOPIC, handler, "bench:count")
    binding = EngineBinding("bench", settings.worker.durable("bench"), handlers,
                            (settings.subject(TOPIC),))

    def report(line: str) -> None:
        if line.startswith("ready:"):
            ready.set()

    worker = Worker(settings, [binding], dead_letters=MemoryDeadLetters(), report=report)
    try:
        if backlog:
            await publish_gather(bus, count)
        started, cpu = time.perf_counter(), time.process_time()
        task = asyncio.create_task(worker.run())
        if not backlog:
            await ready.wait()
            started, cpu = time.perf_counter(), time.process_time()
            await publish_gather(bus, count)
        await asyncio.wait_for(all_handled.wait(), 120)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        worker.stop()
        await task
    finally:
        bus.close()
    if worker.counts.processed < count:
        raise SystemExit(f"nats end to end: handled {worker.counts.processed} of {count}")
    return elapsed, cpu


def measure_nats_e2e(runs: Runs, count: int, repeat: int, *, backlog: bool) -> tuple[Timing, Timing]:
    """Return (wall times, CPU times of this process) of ``repeat`` end-to-end runs."""
    def run() -> tuple[float, float]:
        settings, transport = runs.nats()
        return asyncio.run(consume(settings, transport, count, backlog=backlog))

    return timed_with_cpu(run, repeat)


# ---------------------------------------------------------------- profile

def _thread_cpu() -> float:
    return time.thread_time()


def profile_e2e(runs: Runs, count: int, top: int = 25) -> str:
    """Return cProfile's top functions of one end-to-end run, per thread, with each thread's CPU time.

    The transport runs nats-py on its own event-loop thread; a profiler is
    switched on inside that thread (cProfile profiles the thread that enables it).
    """
    settings, transport = runs.nats()
    loop_thread = transport._loop  # the transport's private loop: the only way into its thread
    side = cProfile.Profile()
    cpu: dict[str, float] = {}

    async def switch(on: bool) -> None:
        if on:
            cpu["loop"] = _thread_cpu()
            side.enable()
        else:
            side.disable()
            cpu["loop"] = _thread_cpu() - cpu["loop"]

    close = transport.close

    def stop_then_close() -> None:  # the run closes its bus (and so the transport) at its end
        if "stopped" not in cpu:
            loop_thread.run(switch(False), 10)
            cpu["stopped"] = 1.0
        close()

    transport.close = stop_then_close
    main = cProfile.Profile()
    loop_thread.run(switch(True), 10)
    started, main_cpu = time.perf_counter(), _thread_cpu()
    main.enable()
    try:
        asyncio.run(consume(settings, transport, count, backlog=False))
    finally:
        main.disable()
        main_cpu = _thread_cpu() - main_cpu
        wall = time.perf_counter() - started
    out = io.StringIO()
    out.write(f"one end-to-end run of {count:,} events under the profiler: {wall:.3f} s wall "
              f"({count / wall:,.0f}/s); CPU: main thread {main_cpu:.3f} s, transport loop thread "
              f"{cpu['loop']:.3f} s\n")
    for label, profiler in (("main thread: publishing bus + worker", main),
                            ("transport loop thread: nats-py publishes", side)):
        out.write(f"\n--- {label} (by own time) ---\n")
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


# ---------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    parser = make_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=None,
                        help="events per measurement (default 5000, --quick 500)")
    parser.add_argument("--nats-server", default=None, help="the nats-server binary to start")
    parser.add_argument("--profile", action="store_true",
                        help="also print a cProfile of one end-to-end run, per thread")
    args = parser.parse_args(argv)
    count = args.events or (500 if args.quick else 5000)
    repeat = repeats(args, full=5, quick=1)
    binary = find_server(args.nats_server)
    header("NATS JetStream transport", args,
           f"{count:,} events per run, median of {repeat}, nats-server {binary or 'missing'}")
    if binary is None:
        print("nats-server not found (install it, or pass --nats-server / set NATS_SERVER_BIN): "
              "nothing measured.")
        return 0
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="genesis-bench-nats-") as tmp:
        root = Path(tmp)
        with Server(binary, root) as server:
            runs = Runs(root, server.url)
            publish = Table(f"publish: stored and acknowledged ({version}, loopback)",
                            ["transport", "mode", "events", "median", "events/s"])
            for kind in ("embedded", "nats"):
                for mode in MODES:
                    timing = measure_publish(runs, kind, mode, count, repeat)
                    publish.add(kind if kind == "nats" else "embedded (SQLite, full)", mode,
                                f"{count:,}", f"{timing.median:.3f} s",
                                fmt_rate(count / timing.median))
            publish.print()

            e2e = Table("end to end: first publish until a consumer handled the last event",
                        ["transport", "consumer", "events", "median", "min", "max", "events/s",
                         "CPU/event", "target", "result"],
                        note=("CPU/event: CPU time of this process (publishing bus, transport thread "
                              "and worker; not nats-server) per event, median; it moves less than "
                              "wall time on a shared machine."))
            timing = measure_embedded_e2e(runs, count, repeat)
            e2e.add("embedded (SQLite, full)", f"in-process subscriber, gather of {BATCH}",
                    f"{count:,}", f"{timing.median:.3f} s", f"{min(timing.runs):.3f} s",
                    f"{max(timing.runs):.3f} s", fmt_rate(count / timing.median), "-", "-", "-")
            timing, cpu = measure_nats_e2e(runs, count, repeat, backlog=False)
            rate = count / timing.median
            e2e.add("nats", f"worker (durable pull, batch {WORKER_BATCH}) while gather of {BATCH} "
                            "publishes",
                    f"{count:,}", f"{timing.median:.3f} s", f"{min(timing.runs):.3f} s",
                    f"{max(timing.runs):.3f} s", fmt_rate(rate),
                    f"{cpu.median / count * 1e6:.0f} µs", f">= {E2E_TARGET:,}/s",
                    verdict(rate >= E2E_TARGET))
            timing, cpu = measure_nats_e2e(runs, count, repeat, backlog=True)
            e2e.add("nats", "worker draining a backlog already in the stream", f"{count:,}",
                    f"{timing.median:.3f} s", f"{min(timing.runs):.3f} s", f"{max(timing.runs):.3f} s",
                    fmt_rate(count / timing.median), f"{cpu.median / count * 1e6:.0f} µs", "-", "-")
            e2e.print()
            if args.profile:
                print("### cProfile: NATS end to end (gather of 500 publishes while the worker consumes)\n")
                print("```")
                print(profile_e2e(runs, count).rstrip())
                print("```")
    return 0


if __name__ == "__main__":
    sys.exit(main())
