"""``genesis worker``: the installed engines as durable JetStream pull consumers.

One durable consumer per engine (``genesis-truth``...), filtered on the
subjects of the engine's subscription topics.  Every worker process of an
engine pulls from the same durable, so the server hands each event to one of
them.  A worker keeps one pull request open (``pull.Puller``: up to ``batch``
events, for ``poll_interval``) and handles the events as they arrive.
Delivery is at-least-once with explicit acks:

* all matching handlers succeeded -> ``ack``;
* a handler failed and deliveries are left -> ``nak`` with a growing delay;
* a handler failed on the last allowed delivery (``max_deliver``) -> the
  failure goes to the dead-letter store and the message is ``term``-ed;
* the worker died -> the server redelivers after ``ack_wait`` (the worker
  keeps the messages it holds, in hand or waiting, with ``in_progress``
  heartbeats, so ``ack_wait`` only measures how fast a crash is noticed).  The
  durable allows one delivery more than ``max_deliver``: an event whose last
  allowed attempt never came back (it crashed the worker, say) arrives once
  more and goes straight to the dead-letter store instead of silently running
  out of deliveries.

``genesis worker --retry-dead-letters`` hands this host's dead letters of the
selected engines to their handlers again (like ``genesis events retry``).

Handlers are the engines' own, called exactly like the in-process bus calls
them (same delivered form, same timeout and isolation), and must be idempotent
on ``_genesis_id``/``_genesis_seq``.  SIGTERM/SIGINT: finish the event in
hand, hand back (``nak``) the rest and what the open pull request still
brings, exit 0; a second signal stops at once.  A lost connection is retried
with exponential backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from genesis_core.api import (
    BusError,
    Dispatcher,
    GenesisError,
    PluginError,
    UsageError,
    one_line,
)

from .codec import decode_msg
from .connection import NatsUnavailable, connect, describe, ensure_stream
from .pull import Puller
from .settings import NatsSettings, cover_subject

if TYPE_CHECKING:
    from genesis_core.api import Config, DeadLetterStore, GenesisBus, RetryReport

Report = Callable[[str], None]
_MIN_BACKOFF = 0.2


@attrs.frozen
class EngineBinding:
    """One engine as the worker runs it: its durable, its handlers (a ``Dispatcher``) and their subjects."""

    engine: str
    durable: str
    handlers: Dispatcher
    subjects: tuple[str, ...]


@attrs.define
class WorkerCounts:
    """What a worker did, for its final line and for tests."""

    processed: int = 0
    retried: int = 0
    dead_lettered: int = 0
    skipped: int = 0

    def __str__(self) -> str:
        return (f"{self.processed} processed, {self.retried} retried, "
                f"{self.dead_lettered} dead-lettered, {self.skipped} skipped")


class _Lost(Exception):
    """The connection went away during a session."""


class _Batch:
    """The messages of the last fetch; those from ``next`` on are not settled yet."""

    __slots__ = ("msgs", "next")

    def __init__(self) -> None:
        self.msgs: Sequence[Any] = ()
        self.next = 0


# ---------------------------------------------------------------- choosing and binding engines

def select_engines(config: Config, host: Any, wanted: Sequence[str] | None,
                   report: Report | None = None) -> list[str]:
    """Return the engine names to run: ``wanted``, else every enabled engine.

    An engine named in ``wanted`` runs even if ``[engines.NAME] enabled =
    false`` (that keeps it out of publishing processes that share the
    configuration).  Raises ``UsageError`` for an unknown engine or when none is left.
    """
    engines = host.engines()
    installed = ", ".join(sorted(engines)) or "none"
    if wanted:
        names = list(dict.fromkeys(wanted))
        unknown = [name for name in names if name not in engines]
        if unknown:
            raise UsageError(f"unknown engine {', '.join(map(repr, unknown))} "
                             f"(installed: {installed})")
        for name in names:
            if report is not None and not config.engine(name).bool(
                    "enabled", engines[name].enabled_by_default):
                report(f"running {name} although [engines.{name}] enabled = false "
                       "(named with --engines)")
        return names
    names = [name for name, engine in sorted(engines.items())
             if config.engine(name).bool("enabled", engine.enabled_by_default)]
    if not names:
        raise UsageError(f"no enabled engine to run (installed: {installed})")
    return names


def bind_engines(config: Config, host: Any, bus: GenesisBus, names: Sequence[str],
                 settings: NatsSettings) -> list[EngineBinding]:
    """Start each named engine against ``bus`` (as ``configure_bus`` would) and return its binding.

    The engines get an ``EngineContext`` whose bus publishes with the
    ``engine`` role; their handlers are *not* subscribed on ``bus``: the
    worker calls them for events pulled from the stream.
    """
    from genesis_core.api import ENGINE_ROLE, EngineContext, mask_text

    engines = host.engines()
    engine_bus = bus.with_role(ENGINE_ROLE)
    bindings = []
    for name in names:
        table = config.engine(name)
        context = EngineContext(name, table, config, config.state_dir, engine_bus,  # type: ignore[arg-type]
                                bus.secret_policy)  # type: ignore[arg-type]
        handlers = Dispatcher(handler_timeout=bus.handler_timeout)
        try:
            for s in engines[name].subscriptions(context):
                handlers.subscribe(s.topics, s.handler, f"{name}:{s.name}", s.timeout)
        except GenesisError:
            raise
        except Exception as exc:
            detail = mask_text(one_line(exc), bus.secret_policy)
            raise PluginError(f"engine {name!r} failed to start: {detail}") from exc
        if not handlers.patterns:
            continue
        subjects = tuple(dict.fromkeys(settings.subject_filter(p) for p in handlers.patterns))
        if settings.stream_subject in subjects:
            subjects = (settings.stream_subject,)
        bindings.append(EngineBinding(name, settings.worker.durable(name), handlers, subjects))
    return bindings


# ---------------------------------------------------------------- the worker

class Worker:
    """Consumes the stream for ``bindings`` until stopped (or idle, with ``until_idle``)."""

    def __init__(self, settings: NatsSettings, bindings: Sequence[EngineBinding], *,
                 dead_letters: DeadLetterStore,
                 secret_policy: Any = None, until_idle: bool = False,
                 report: Report | None = None, verbose: bool = False) -> None:
        if not bindings:
            raise UsageError("no engine subscribes to anything: nothing to consume")
        self.settings = settings
        self.bindings = tuple(bindings)
        self.dead_letters = dead_letters
        self.secret_policy = secret_policy
        self.until_idle = until_idle
        self.report: Report = report or (lambda _line: None)
        self.verbose = verbose
        self.counts = WorkerCounts()
        self._stop: asyncio.Event | None = None
        self._announced = False

    # ------------------------------------------------------------ lifecycle
    def stop(self) -> None:
        """Ask the worker to finish the event in hand and exit (call on its loop)."""
        if self._stop is not None:
            self._stop.set()

    @property
    def stopping(self) -> bool:
        """Return whether a stop was requested."""
        return self._stop is not None and self._stop.is_set()

    async def serve(self) -> WorkerCounts:
        """Run until SIGTERM/SIGINT (or idle); return the counts.  A second signal cancels at once."""
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        self._stop = self._stop or asyncio.Event()
        received: list[str] = []

        def on_signal(name: str) -> None:
            received.append(name)
            if len(received) == 1:
                self.report(f"{name}: stopping after the event in hand (again to stop now)")
                self.stop()
            elif task is not None:
                task.cancel()

        installed = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, on_signal, sig.name)
                installed.append(sig)
        try:
            return await self.run()
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    async def run(self) -> WorkerCounts:
        """Consume until stopped, reconnecting with exponential backoff; return the counts.

        Raises ``BusError`` for problems retrying cannot fix (the stream has
        other subjects, a durable cannot take the engine's filter, refused
        credentials).
        """
        self._stop = self._stop or asyncio.Event()
        delay = _MIN_BACKOFF
        while not self.stopping:
            try:
                if await self._session():
                    break
                delay = _MIN_BACKOFF
                reason = "connection lost"
            except (NatsUnavailable, _Lost) as exc:
                reason = str(exc)
            if self.stopping:
                break
            self.report(f"{reason}; reconnecting in {delay:.1f}s")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)
            delay = min(delay * 2, self.settings.worker.reconnect_max_wait)
        self.report(f"stopped: {self.counts}")
        return self.counts

    # ------------------------------------------------------------ one connection
    async def _session(self) -> bool:
        """Consume over one connection; return ``True`` when done (stop or idle), ``False`` if lost."""
        lost = asyncio.Event()

        async def on_lost() -> None:
            lost.set()

        nc = await connect(self.settings, name="genesis-worker", disconnected=on_lost,
                           closed=on_lost)
        clean = False
        try:
            js = nc.jetstream(timeout=self.settings.request_timeout)
            try:
                await ensure_stream(js, self.settings)
                version = nc.connected_server_version
                several = (version.major, version.minor) >= (2, 10)
                subs, filters = [], []
                for binding in self.bindings:
                    filters.append(await self._ensure_consumer(js, binding, several))
                    puller = Puller(nc, self.settings.stream, binding.durable,
                                    batch=self.settings.worker.batch,
                                    expires=self.settings.worker.poll_interval)
                    await puller.start()
                    subs.append((binding, puller))
            except BusError:
                raise
            except Exception as exc:
                raise NatsUnavailable(f"NATS at {self.settings.url}: cannot set up the consumers: "
                                      f"{describe(exc, self.settings)}") from None
            self._announce([binding for binding, _ in subs], filters)
            halt = asyncio.Event()
            tasks = [asyncio.create_task(self._consume(nc, js, binding, puller, halt))
                     for binding, puller in subs]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            halt.set()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException) and not isinstance(result, _Lost):
                    raise result
            if any(isinstance(result, _Lost) for result in results) or lost.is_set():
                return False
            clean = True
            return True
        finally:
            if clean:  # make sure the server has every ack before the connection goes
                with contextlib.suppress(Exception):
                    await nc.flush(timeout=self.settings.request_timeout)  # type: ignore[arg-type]  # nats-py says int; any number works
            with contextlib.suppress(Exception):
                await nc.close()

    def _announce(self, bindings: list[EngineBinding], filters: list[str]) -> None:
        parts = [f"{b.engine} (durable {b.durable}, filter {shown})"
                 for b, shown in zip(bindings, filters)]
        verb = "ready" if not self._announced else "reconnected"
        self._announced = True
        self.report(f"{verb}: {'; '.join(parts)} on stream {self.settings.stream} "
                    f"at {self.settings.url}")

    async def _ensure_consumer(self, js: Any, binding: EngineBinding, several: bool) -> str:
        """Create the engine's durable, or bring an existing one up to date; return its filter."""
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
        from nats.js.errors import APIError, NotFoundError

        worker = self.settings.worker
        stream = self.settings.stream
        filters: dict[str, Any]
        if len(binding.subjects) == 1:
            filters = {"filter_subject": binding.subjects[0]}
        elif several:
            filters = {"filter_subjects": list(binding.subjects)}
        else:  # before 2.10 a consumer takes one filter: cover them all, match the rest here
            filters = {"filter_subject": cover_subject(binding.subjects)}
        deliver = DeliverPolicy.ALL if worker.deliver_policy == "all" else DeliverPolicy.NEW
        try:
            existing = await js.consumer_info(stream, binding.durable)
            deliver = existing.config.deliver_policy or deliver  # cannot change once created
        except NotFoundError:
            pass
        config = ConsumerConfig(
            name=binding.durable, durable_name=binding.durable,
            description=f"Genesis engine {binding.engine} (genesis worker)",
            deliver_policy=deliver, ack_policy=AckPolicy.EXPLICIT, ack_wait=worker.ack_wait,
            max_deliver=worker.max_deliver + 1, max_ack_pending=worker.max_ack_pending,
            **filters)
        try:
            await js.add_consumer(stream, config)
        except APIError as exc:
            raise BusError(
                f"NATS at {self.settings.url}: durable consumer {binding.durable} on stream "
                f"{stream} cannot take engine {binding.engine}'s settings: "
                f"{describe(exc, self.settings)} (delete it with `nats consumer rm {stream} "
                f"{binding.durable}` if its filter or policy changed)") from None
        shown = filters.get("filter_subject") or filters["filter_subjects"]
        return shown if isinstance(shown, str) else ", ".join(shown)

    # ------------------------------------------------------------ consuming
    async def _consume(self, nc: Any, js: Any, binding: EngineBinding, puller: Puller,
                       halt: asyncio.Event) -> None:
        """Handle what ``puller`` brings until stopped, halted or idle; hand back what is left."""
        worker = self.settings.worker
        batch = _Batch()
        beating = asyncio.create_task(self._keep_alive(batch, puller))
        try:
            while not (self.stopping or halt.is_set()):
                if not nc.is_connected:
                    raise _Lost(f"NATS at {self.settings.url}: connection lost")
                try:
                    msgs = await puller.take(worker.poll_interval)
                except Exception as exc:
                    raise _Lost(f"NATS at {self.settings.url}: pulling for {binding.durable} failed: "
                                f"{describe(exc, self.settings)}") from None
                if not msgs:
                    if self.until_idle and await self._idle(js, binding):
                        break
                    continue
                batch.msgs, batch.next = msgs, 0
                for index, msg in enumerate(msgs):
                    batch.next = index
                    if self.stopping or halt.is_set():
                        batch.msgs = ()
                        await self._hand_back(msgs[index:])
                        break
                    try:
                        await self._handle(binding, msg)
                    except (BusError, PluginError):
                        raise
                    except Exception as exc:
                        if not nc.is_connected:
                            raise _Lost(f"NATS at {self.settings.url}: connection lost") from None
                        raise _Lost(f"NATS at {self.settings.url}: {describe(exc, self.settings)}"
                                    ) from None
                batch.msgs = ()
            if nc.is_connected:  # what the open pull request still brings goes back at once too
                await self._hand_back(await puller.drain())
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating
            await puller.stop()

    async def _idle(self, js: Any, binding: EngineBinding) -> bool:
        """Return whether the durable has nothing left: none pending, none awaiting an ack."""
        try:
            info = await js.consumer_info(self.settings.stream, binding.durable)
        except Exception as exc:
            raise _Lost(f"NATS at {self.settings.url}: {describe(exc, self.settings)}") from None
        return not info.num_pending and not info.num_ack_pending

    @staticmethod
    async def _hand_back(msgs: Sequence[Any]) -> None:
        """Return fetched but unstarted messages to the server for immediate redelivery."""
        for msg in msgs:
            with contextlib.suppress(Exception):
                await msg.nak()

    async def _keep_alive(self, batch: _Batch, puller: Puller) -> None:
        """Every third of ``ack_wait``, tell the server the unsettled messages are still ours.

        That is the message in hand, those waiting behind it in the batch and those
        delivered since, so neither a long handler nor a long batch makes the server
        hand them to another worker.  One task per consumer, not one per message: a
        message handled within a beat costs nothing.
        """
        interval = max(self.settings.worker.ack_wait / 3, 0.1)
        while True:
            await asyncio.sleep(interval)
            for msg in (*batch.msgs[batch.next:], *puller.held()):
                with contextlib.suppress(Exception):
                    await msg.in_progress()

    async def _handle(self, binding: EngineBinding, msg: Any) -> None:
        envelope = decode_msg(msg, self.settings.stream, self.settings.topic_of)
        handlers = binding.handlers.matching(envelope.topic)
        if not handlers:  # outside this engine's topics (a covering filter): not ours
            await msg.ack()
            self.counts.skipped += 1
            return
        deliveries = int(msg.metadata.num_delivered or 1)
        where = f"#{envelope.seq} {envelope.topic}"
        max_deliver = self.settings.worker.max_deliver
        if deliveries > max_deliver:  # the last attempt never reported back
            reason = (f"not acknowledged after {max_deliver} deliveries (a worker stopped or "
                      "lost its connection while handling it)")
            for handler in handlers:
                await self.dead_letters.record(handler, envelope.seq, envelope.topic, reason)
            await msg.term()
            self.counts.dead_lettered += 1
            self.report(f"dead-lettered {where}: {reason}")
            return
        failures = (await binding.handlers.deliver(envelope)).failures
        if not failures:
            await msg.ack()
            self.counts.processed += 1
            if self.verbose:
                self.report(f"processed {where} ({binding.engine})")
            return
        from genesis_core.api import mask_text

        errors = "; ".join(f"{f.subscriber}: {mask_text(f.error, self.secret_policy)}"
                           for f in failures)
        if deliveries >= max_deliver:
            for failure in failures:
                await self.dead_letters.record(failure.subscriber, envelope.seq, envelope.topic,
                                               mask_text(failure.error, self.secret_policy))
            await msg.term()
            self.counts.dead_lettered += 1
            self.report(f"dead-lettered {where} after {deliveries} deliveries: {errors}")
            return
        delay = min(self.settings.worker.retry_delay * 2 ** (deliveries - 1), 60.0)
        if delay > 0:
            await msg.nak(delay=delay)
        else:
            await msg.nak()
        self.counts.retried += 1
        self.report(f"failed {where} (delivery {deliveries} of {max_deliver}, "
                    f"retry in {delay:g}s): {errors}")


# ---------------------------------------------------------------- dead letters

async def retry_dead_letters(bindings: Sequence[EngineBinding], bus: GenesisBus) -> RetryReport:
    """Re-deliver this host's dead letters of ``bindings``' handlers; return a ``RetryReport``.

    Same rules as ``GenesisBus.retry_dead_letters`` (``Dispatcher.retry_dead_letters``):
    success removes the letter, failure counts an attempt, letters at ``max_attempts`` or
    whose event the stream no longer holds are skipped.  Letters of handlers not in
    ``bindings`` are left alone.
    """
    from genesis_core.api import RetryReport

    succeeded: list[Any] = []
    failed: list[Any] = []
    skipped: list[Any] = []
    for binding in bindings:
        report = await binding.handlers.retry_dead_letters(
            bus.dead_letter_store, bus.transport, max_attempts=bus.max_attempts,
            secret_policy=bus.secret_policy)
        succeeded += report.succeeded
        failed += report.failed
        skipped += report.skipped
    return RetryReport(tuple(succeeded), tuple(failed), tuple(skipped))


# ---------------------------------------------------------------- the command's body

def run_worker(config: Config, host: Any, *, engines: Sequence[str] | None = None,
               until_idle: bool = False, role: str | None = None, report: Report | None = None,
               verbose: bool = False, retry: bool = False) -> int:
    """Run ``genesis worker`` in this process until a signal (or idle); return the exit code.

    Builds the process bus with ``configure_bus(..., start_engines=False)``
    (so nothing runs twice here), starts the chosen engines against it, and
    consumes the stream.  With ``retry``, re-deliver the dead letters instead
    and return 0, or 1 if some failed again.  Raises ``ConfigError``/
    ``UsageError``/``BusError`` for what must stop the worker (the CLI turns
    them into exit 2).
    """
    from genesis_core.api import configure_bus

    table = config.section("bus")
    transport = table.str("transport", "embedded")
    if transport != "nats":
        raise table.error("transport", f"genesis worker needs transport = \"nats\" "
                                       f"(this configuration uses {transport!r})")
    settings = NatsSettings.from_table(table)
    names = select_engines(config, host, engines, report)
    bus = configure_bus(config, host=host, role=role, start_engines=False)
    try:
        bindings = bind_engines(config, host, bus, names, settings)
        if retry:
            outcome = asyncio.run(retry_dead_letters(bindings, bus))
            if report is not None:
                for line in str(outcome).splitlines():
                    report(line)
            return 1 if outcome.failed else 0
        worker = Worker(settings, bindings, dead_letters=bus.dead_letter_store,
                        secret_policy=bus.secret_policy,
                        until_idle=until_idle, report=report, verbose=verbose)
        try:
            asyncio.run(worker.serve())
        except (asyncio.CancelledError, KeyboardInterrupt):
            if report is not None:
                report(f"stopped at once: {worker.counts} (unacknowledged events are "
                       "redelivered after ack_wait)")
            return 130
        return 0
    finally:
        from genesis_core.api import current_bus, reset_bus

        if current_bus() is bus:
            reset_bus(keep_subscriptions=True)
        else:
            bus.close()
