"""``GenesisBus``: Guardian check, durable append, isolated local delivery, dead letters.

The bus and its role-bound view ``BoundBus`` stay in one module: publishing, delivery
(``_deliver``'s inline fast path and ``_deliver_rest``), dead letters and the
synchronous wrappers share the subscriber registry and its turns, and splitting them
would put the hot path of a publish behind more attribute look-ups.  What the bus
returns is in ``results.py``, the process-wide ``genesis_bus`` in ``process.py``,
delivery helpers in ``dispatcher.py``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from inspect import isawaitable
from time import perf_counter
from typing import IO, TYPE_CHECKING, Any, TypeVar, cast

import attrs

from ..errors import BusError, one_line
from .dispatcher import (
    Handler,
    HandlerFailure,
    Registry,
    Subscriber,
    SubscriptionHandle,
    await_result,
    call_handler,
    call_inline,
    check_topic,
    delivery_loop,
    event_template,
    handler_chain,
    make_event,
    warn_slow,
)
from .dispatcher import make_subscriber as make_subscriber  # bus/process.py imports it from here
from .envelope import (
    DEFAULT_SOURCE,
    RESERVED_KEYS,
    Envelope,
    fast_event_id,
    fast_utc_now,
)
from .guardian import Decision, Guardian
from .results import PublishResult, RetryReport
from .standalone import redeliver
from .topics import validate_pattern, validate_topic
from .transport import DeadLetter, DeadLetterStore, Transport

if TYPE_CHECKING:
    from ..secrets import SecretPolicy

log = logging.getLogger("genesis.bus")
#: Set on the log record of a failed handler; a command that reports failures itself drops those records.
HANDLER_FAILURE_RECORD = "genesis_handler_failure"

BLOCKED_TOPIC = "genesis.blocked"
MASK = "<masked>"
#: ``[bus]`` keys the core reads; a transport factory may accept more of its own.
BUS_KEYS = frozenset({"transport", "state_dir", "handler_timeout", "max_attempts", "source", "local_engines"})

Target = SubscriptionHandle | Handler | str | int
T = TypeVar("T")


_RESERVED = frozenset(RESERVED_KEYS)
_NEVER = float("inf")
#: Builds a named tuple from all its fields at half the cost of calling the class (its ``__new__``
#: is a Python function); ``publish`` makes a ``PublishResult`` per event.
_new_result = tuple.__new__
_NOTHING_DELIVERED: tuple[tuple[str, ...], tuple[HandlerFailure, ...]] = ((), ())


class _Claim:
    """The subscribers an event goes to, and its turn with each."""

    __slots__ = ("envelope", "subscribers", "tickets", "nested")

    def __init__(self, envelope: Envelope, subscribers: tuple[Subscriber, ...],
                 tickets: tuple[int, ...], nested: bool) -> None:
        self.envelope = envelope
        self.subscribers = subscribers
        self.tickets = tickets
        self.nested = nested


def _synchronous_append(transport: Transport) -> Callable[..., Envelope] | None:
    """Return ``transport.append_now`` if it stores what ``append`` would, else ``None``.

    A subclass that overrides ``append`` but inherits ``append_now`` (a test double
    counting or failing appends) must see every append, so its ``append_now`` is not used.
    """
    append_now = getattr(transport, "append_now", None)
    if append_now is None:
        return None
    owners = {name: next((k for k in type(transport).__mro__ if name in vars(k)), None)
              for name in ("append", "append_now")}
    return append_now if owners["append"] is owners["append_now"] else None


def _mask_values(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {str(key): MASK for key in payload}


# ---------------------------------------------------------------- the bus

class GenesisBus:
    """Publish/subscribe with a Guardian gate in front of a durable transport."""

    def __init__(self, transport: Transport, guardian: Guardian, *, source: str = DEFAULT_SOURCE,
                 handler_timeout: float | None = 30.0, secret_policy: SecretPolicy | None = None,
                 default_role: str = "operator", max_attempts: int = 5,
                 dead_letters: DeadLetterStore | None = None) -> None:
        if max_attempts < 1:
            raise BusError(f"max_attempts must be at least 1, got {max_attempts}")
        self.transport = transport
        self.guardian = guardian
        self.source = source
        self.handler_timeout = handler_timeout
        self.secret_policy = secret_policy
        self.default_role = default_role
        self.max_attempts = max_attempts
        if dead_letters is None:
            dead_letters = transport.dead_letter_store()
        if dead_letters is None:
            from .memory import MemoryDeadLetters

            dead_letters = MemoryDeadLetters()
        self.dead_letter_store = dead_letters
        self._registry = Registry()
        #: The transport's synchronous store (``Transport.append_now``), when it has one.
        self._append_now = _synchronous_append(transport)
        self._scheduled: set[asyncio.Future[Any]] = set()
        self._private_loops = threading.local()
        self._all_private_loops: list[asyncio.AbstractEventLoop] = []
        self._closed = False

    def __repr__(self) -> str:
        return f"<GenesisBus transport={self.transport!r} subscribers={len(self._registry.all())}>"

    # ------------------------------------------------------------ subscribe
    def subscribe(self, topics: str | Iterable[str], handler: Handler, name: str | None = None,
                  timeout: float | None = None, *, thread: bool | None = None
                  ) -> SubscriptionHandle:
        """Call ``handler(event)`` for every event whose topic matches ``topics``; return a handle.

        ``handler`` may be sync or async.  ``timeout`` (seconds) defaults to the
        bus's ``handler_timeout``.  A sync handler runs inline on the event loop
        unless ``thread=True`` or it has its own ``timeout``: then it runs on a
        thread so the timeout can be enforced.
        """
        return self._attach(make_subscriber(topics, handler, name, timeout, thread,
                                            unique=self._registry.unique_name))

    def _attach(self, subscriber: Subscriber) -> SubscriptionHandle:
        self._registry.add(subscriber)
        return subscriber.handle

    def unsubscribe(self, target: Target) -> int:
        """Remove subscriptions by handle, handler, name or id; return how many were removed."""
        return len(self._registry.remove(target))

    def subscribers(self) -> list[SubscriptionHandle]:
        """Return the current subscriptions in subscription order."""
        return [s.handle for s in self._registry.all()]

    def with_role(self, role: str) -> BoundBus:
        """Return a view of this bus whose publishes default to ``role``."""
        return BoundBus(self, role)

    # ------------------------------------------------------------ publish
    def _context(self, role: str | None, context: Mapping[str, Any] | None,
                 chain: tuple[str, ...] | None = None) -> dict[str, Any]:
        """Return what the Guardian is told: ``context`` plus ``role`` and ``publisher``.

        ``publisher`` is the innermost handler of ``chain`` (default: the current one).
        """
        if chain is None:
            chain = handler_chain.get()
        if not context:
            return {"role": self.default_role if role is None else role,
                    "publisher": chain[-1] if chain else None}
        merged = dict(context)
        if role is not None:
            merged["role"] = role
        elif merged.get("role") is None:
            merged["role"] = self.default_role
        merged.setdefault("publisher", chain[-1] if chain else None)
        return merged

    @staticmethod
    def _payload(payload: Mapping[str, Any] | None) -> Mapping[str, Any]:
        if payload is None:
            return {}
        if type(payload) is not dict and not isinstance(payload, Mapping):
            raise BusError(f"payload must be a JSON object (a dict), got {type(payload).__name__}")
        if not _RESERVED.isdisjoint(payload):  # a handler re-publishing what it received
            return {k: v for k, v in payload.items() if k not in _RESERVED}
        return payload

    async def may_publish(self, topic: str, *, role: str | None = None,
                          event: Mapping[str, Any] | None = None,
                          context: Mapping[str, Any] | None = None) -> Decision:
        """Return the Guardian's decision for ``topic`` without publishing anything."""
        check_topic(topic)
        return await self.guardian.check(topic, self._payload(event), self._context(role, context))

    async def publish(self, topic: str, payload: Mapping[str, Any] | None = None, *,
                      role: str | None = None, context: Mapping[str, Any] | None = None,
                      event_id: str | None = None) -> PublishResult:
        """Gate, store, then deliver one event; return what happened.

        ``role`` (default: the bus's default role) is passed to the Guardian in
        ``context``.  ``event_id`` makes a retried publish idempotent.  Raises
        ``BusError`` for an invalid topic or payload or when the store fails.
        """
        validate_topic(topic)
        if type(payload) is not dict or not _RESERVED.isdisjoint(payload):
            payload = self._payload(payload)
        chain = handler_chain.get()
        if context is None and role is None:  # the usual case, as _context builds it, without a call
            context = {"role": self.default_role, "publisher": chain[-1] if chain else None}
        else:
            context = self._context(role, context, chain)
        decision = self.guardian.gate(topic, payload, context)
        if type(decision) is not Decision:
            decision = await cast("Awaitable[Decision]", decision)
        if not decision.allowed:
            return await self._block(topic, payload, context, decision)
        if self.secret_policy is not None:
            payload = self._redact(payload)
        append_now = self._append_now
        if append_now is not None:
            envelope = append_now(topic, payload, event_id or fast_event_id(), fast_utc_now(),
                                  self.source)
        else:
            envelope = await self.transport.append(topic, payload,
                                                   event_id=event_id or fast_event_id(),
                                                   timestamp=fast_utc_now(), source=self.source)
        subscribers, names, tickets = self._registry.claim(topic)
        if not subscribers:
            return PublishResult("delivered", envelope)
        outcome = self._deliver(envelope, subscribers, tickets, chain, bool(chain), names)
        if type(outcome) is not tuple:
            outcome = await outcome
        # PublishResult("delivered", envelope, "", *outcome), built at half the cost
        return _new_result(PublishResult, ("delivered", envelope, "", outcome[0], outcome[1], None))

    async def publish_many(self, events: Iterable[tuple[str, Mapping[str, Any] | None]], *,
                           role: str | None = None, context: Mapping[str, Any] | None = None
                           ) -> list[PublishResult]:
        """Publish ``(topic, payload)`` pairs in order with one store commit; return their results.

        Each event is gated on its own; blocked ones are stored as
        ``genesis.blocked`` notices in their place.  All are stored before any
        is delivered, then they are delivered in order.
        """
        merged = self._context(role, context)
        rows: list[tuple[str, Mapping[str, Any], str, str, str]] = []
        decisions: list[Decision] = []
        for topic, payload in events:
            check_topic(topic)
            clean = self._payload(payload)
            decision = await self.guardian.check(topic, clean, merged)
            decisions.append(decision)
            if not decision.allowed:
                topic, clean = BLOCKED_TOPIC, self._notice(topic, clean, merged, decision)
            else:
                clean = self._redact(clean)
            rows.append((topic, clean, fast_event_id(), fast_utc_now(), self.source))
        envelopes = await self.transport.append_many(rows)
        claims = [self._claim(envelope) for envelope in envelopes]
        results: list[PublishResult] = []
        try:
            for claim, decision in zip(claims, decisions):
                delivered, failures = await self._run(claim)
                status = "delivered" if decision.allowed else "blocked"
                reason = "" if decision.allowed else claim.envelope.payload["reason"]
                results.append(PublishResult(status, claim.envelope, reason, delivered, failures))
        finally:
            for claim in claims[len(results) + 1:]:  # cancelled midway: free their turns
                self._release(claim, 0)
        return results

    def _notice(self, topic: str, payload: Mapping[str, Any], context: Mapping[str, Any],
                decision: Decision) -> dict[str, Any]:
        return {"topic": topic, "reason": self._mask_text(decision.reason),
                "role": str(context.get("role")), "by": decision.by,
                "payload": self._mask(payload)}

    async def _block(self, topic: str, payload: Mapping[str, Any], context: Mapping[str, Any],
                     decision: Decision) -> PublishResult:
        notice = self._notice(topic, payload, context, decision)
        log.info("blocked publish on %s for role %s: %s", topic, notice["role"], notice["reason"])
        envelope = await self.transport.append(BLOCKED_TOPIC, notice, event_id=fast_event_id(),
                                               timestamp=fast_utc_now(), source=self.source)
        delivered, failures = await self._run(self._claim(envelope))
        return PublishResult("blocked", envelope, notice["reason"], delivered, failures)

    def _redact(self, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        """Return ``payload`` as it may be stored: secret values replaced by fingerprints.

        Publishers (``genesis sync``) already mask; this is the store's own guard, so a
        secret handed to ``publish`` by anyone never reaches the event log in clear.
        """
        if self.secret_policy is None or not payload:
            return payload
        return self._mask(payload)

    def _mask(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Return ``payload`` masked by the secret policy, or with every value dropped."""
        if self.secret_policy is not None:
            try:
                masked = self.secret_policy.mask_payload(payload)
                json.dumps(masked, allow_nan=False)
                return dict(masked)
            except Exception as exc:  # never store the raw payload
                log.warning("secret policy could not mask a payload (%s); dropping its values",
                            type(exc).__name__)
        return _mask_values(payload)

    def _mask_text(self, text: str) -> str:
        from ..secrets import mask_text  # only blocked events and failures need it

        return mask_text(text, self.secret_policy)

    # ------------------------------------------------------------ delivery
    def _claim(self, envelope: Envelope) -> _Claim:
        """Take this event's turn with every matching subscriber (no await in here)."""
        subscribers, _names, tickets = self._registry.claim(envelope.topic)
        return _Claim(envelope, subscribers, tuple(tickets), bool(handler_chain.get()))

    def _release(self, claim: _Claim, start: int) -> None:
        self._registry.release_many(claim.subscribers, claim.tickets, start)

    async def _run(self, claim: _Claim) -> tuple[tuple[str, ...], tuple[HandlerFailure, ...]]:
        """Deliver a claimed event to its subscribers in turn; return (delivered, failures)."""
        if not claim.subscribers:
            return _NOTHING_DELIVERED
        outcome = self._deliver(claim.envelope, claim.subscribers, claim.tickets,
                                handler_chain.get(), claim.nested)
        return outcome if type(outcome) is tuple else await outcome

    def _deliver(self, envelope: Envelope, subscribers: tuple[Subscriber, ...],
                 tickets: Sequence[int], chain: tuple[str, ...], nested: bool,
                 names: tuple[str, ...] | None = None) -> Any:
        """Deliver an event whose turns are taken; return ``(delivered, failures)``, or an awaitable of them.

        Inline handlers whose turn it is are called right here, with no coroutine
        and one lock for all their turns.  The first subscriber that needs an
        await (its turn, an async or threaded handler, a returned coroutine), was
        unsubscribed meanwhile, or failed hands the rest to ``_deliver_rest``.
        ``chain`` is the publisher's ``handler_chain``; ``names`` are the
        subscribers' names, if the caller has them.
        """
        warn_after = self.handler_timeout or _NEVER
        template, copy = event_template(envelope)
        set_chain = handler_chain.set
        last = len(subscribers) - 1
        index = 0
        pending: Any = None
        token = None  # the first handler's: resetting it restores the chain of the caller
        try:
            started = perf_counter()
            for index, sub in enumerate(subscribers):
                if not sub.direct or (not nested and sub.serving != tickets[index]):
                    break
                # Every subscriber gets its own copy; the last one may keep the template.
                event = template if index == last else copy(template)
                if token is None:
                    token = set_chain(chain + sub.alone if chain else sub.alone)
                else:
                    set_chain(chain + sub.alone if chain else sub.alone)
                try:
                    result = sub.handler(event)
                except Exception as exc:
                    pending = HandlerFailure(sub.name, one_line(exc))
                    break
                if result is not None and isawaitable(result):
                    pending = result
                    break
                ended = perf_counter()
                if ended - started > (sub.timeout or warn_after):
                    warn_slow(sub, ended - started, sub.timeout or warn_after)
                started = ended
            else:
                index = last + 1
        except BaseException:
            self._registry.release_many(subscribers, tickets)
            raise
        finally:
            if token is not None:
                handler_chain.reset(token)
        if index > last:
            self._registry.release_many(subscribers, tickets)
            return names if names is not None else tuple(s.name for s in subscribers), ()
        self._registry.release_many(subscribers, tickets, 0, index)
        claim = _Claim(envelope, subscribers, tuple(tickets), nested)
        delivered = [sub.name for sub in subscribers[:index]]
        return self._deliver_rest(claim, index, pending, template, copy, delivered)

    async def _deliver_rest(self, claim: _Claim, start: int, pending: Any, template: dict[str, Any],
                            copy: Callable[[dict[str, Any]], dict[str, Any]], delivered: list[str]
                            ) -> tuple[tuple[str, ...], tuple[HandlerFailure, ...]]:
        """Deliver to ``claim.subscribers[start:]`` in turn and record failures as dead letters.

        ``pending`` is what ``_deliver`` left for subscriber ``start``: ``None``
        (not called yet), a ``HandlerFailure``, or the awaitable its handler returned.
        """
        subscribers = claim.subscribers
        failures: list[HandlerFailure] = []
        registry = self._registry
        tickets = claim.tickets
        chain = handler_chain.get()
        default_timeout = self.handler_timeout
        last = len(subscribers) - 1
        released = start
        try:
            for index in range(start, len(subscribers)):
                sub = subscribers[index]
                ticket = tickets[index]
                failure: Any = None
                try:
                    if index == start and pending is not None:
                        failure = pending
                        if not isinstance(failure, HandlerFailure):
                            timeout = sub.timeout if sub.timeout is not None else default_timeout
                            failure = await await_result(sub, failure, chain, timeout)
                    else:
                        if not claim.nested and sub.serving != ticket:
                            waiter = registry.wait_for_turn(sub, ticket)
                            if waiter is not None:
                                await waiter
                        if not sub.active:  # unsubscribed while the event waited
                            continue
                        event = template if index == last else copy(template)
                        if sub.inline:
                            timeout = sub.timeout if sub.timeout is not None else default_timeout
                            failure = call_inline(sub, event, chain, timeout)
                            if failure is not None and not isinstance(failure, HandlerFailure):
                                failure = await await_result(sub, failure, chain, timeout)
                        else:
                            failure = await call_handler(sub, event, default_timeout)
                finally:
                    registry.release(sub, ticket)
                    released = index + 1
                if failure is None:
                    delivered.append(sub.name)
                else:
                    failures.append(failure)
        finally:
            if released < len(subscribers):  # cancelled: free the turns not taken
                self._release(claim, released)
        if failures:
            await self._dead_letter(claim.envelope, failures)
        return tuple(delivered), tuple(failures)

    async def _dead_letter(self, envelope: Envelope, failures: list[HandlerFailure]) -> None:
        for position, failure in enumerate(failures):
            error = self._mask_text(failure.error)
            if error != failure.error:
                failures[position] = attrs.evolve(failure, error=error)
            log.warning("handler %s failed on %s #%d: %s", failure.subscriber, envelope.topic,
                        envelope.seq, error, extra={HANDLER_FAILURE_RECORD: True})
        outcomes = await asyncio.gather(
            *(self.dead_letter_store.record(f.subscriber, envelope.seq, envelope.topic, f.error)
              for f in failures), return_exceptions=True)
        for failure, outcome in zip(failures, outcomes):
            if isinstance(outcome, BaseException):
                log.error("could not keep event #%d for %s as a dead letter: %s", envelope.seq,
                          failure.subscriber, one_line(outcome))

    # ------------------------------------------------------------ dead letters
    async def retry_dead_letters(self, subscriber: str | None = None) -> RetryReport:
        """Re-deliver dead letters to the current subscriber of the same name; return what happened.

        A success removes the dead letter; a failure counts one more attempt.
        Letters that reached ``max_attempts``, whose subscriber is gone or
        whose event is no longer stored are skipped (and kept).
        """
        async def get(seq: int) -> Envelope | None:
            return self.transport.get(seq)

        return await redeliver(self.dead_letter_store.entries(subscriber), self._registry.by_name, get,
                               self.dead_letter_store, max_attempts=self.max_attempts,
                               handler_timeout=self.handler_timeout, mask=self._mask_text)

    def dead_letters(self, subscriber: str | None = None) -> list[DeadLetter]:
        """Return the stored dead letters, oldest first, optionally for one subscriber."""
        return self.dead_letter_store.entries(subscriber)

    get_dead_letters = dead_letters

    # ------------------------------------------------------------ sync callers
    def _private_loop(self) -> asyncio.AbstractEventLoop:
        loop = getattr(self._private_loops, "loop", None)
        if loop is None or loop.is_closed():
            loop = asyncio.new_event_loop()
            self._private_loops.loop = loop
            self._all_private_loops.append(loop)
        return loop

    def _run_sync(self, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run the coroutine ``make()`` from code that is not inside a running event loop."""
        home = delivery_loop.get()
        if home is not None and home.is_running() and not home.is_closed():
            # A threaded handler: run on the loop that is delivering to it (it is not blocked).
            return asyncio.run_coroutine_threadsafe(make(), home).result()
        return self._private_loop().run_until_complete(make())

    def publish_sync(self, topic: str, payload: Mapping[str, Any] | None = None, *,
                     role: str | None = None, context: Mapping[str, Any] | None = None,
                     event_id: str | None = None) -> PublishResult:
        """Publish from synchronous code and return the result.

        * no event loop running in this thread: the publish runs to completion
          (on the loop delivering to the calling handler thread, if any, else on
          a private loop of this thread) and the real result is returned;
        * inside a running loop (e.g. a sync handler running inline): waiting
          would deadlock that loop, so the publish is scheduled as a task on it
          and a ``status="scheduled"`` result is returned at once -- ``await
          result.pending`` for the real one.
        """
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None:
            task = running.create_task(self.publish(topic, payload, role=role, context=context,
                                                    event_id=event_id))
            self._scheduled.add(task)
            task.add_done_callback(self._scheduled.discard)
            return PublishResult("scheduled", reason="publish_sync inside a running event loop: "
                                 "scheduled as a task", pending=task)
        return self._run_sync(lambda: self.publish(topic, payload, role=role, context=context,
                                                   event_id=event_id))

    def retry_dead_letters_sync(self, subscriber: str | None = None) -> RetryReport:
        """``retry_dead_letters`` for synchronous callers (not inside a running loop)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return self._run_sync(lambda: self.retry_dead_letters(subscriber))
        raise BusError("retry_dead_letters_sync called inside a running event loop; "
                       "use await bus.retry_dead_letters()")

    async def drain(self) -> None:
        """Wait for every publish that ``publish_sync`` scheduled on a running loop."""
        while self._scheduled:
            await asyncio.gather(*list(self._scheduled), return_exceptions=True)

    # ------------------------------------------------------------ history and stats
    def get_event_history(self, limit: int | None = 100, topic: str | None = None
                          ) -> list[dict[str, Any]]:
        """Return up to ``limit`` delivered-form events, newest last; ``topic`` may be a pattern."""
        return [make_event(e) for e in self.history(limit=limit, topic=topic)]

    def history(self, *, limit: int | None = None, topic: str | None = None,
                after_seq: int | None = None) -> list[Envelope]:
        """Return stored envelopes oldest first (``limit`` keeps the newest)."""
        if topic is not None:
            validate_pattern(topic)
        return self.transport.history(limit=limit, topic=topic, after_seq=after_seq)

    def stats(self) -> dict[str, int]:
        """Return ``{topic: number of events published}`` (persisted, so it survives restarts)."""
        return self.transport.stats()

    def last_seq(self) -> int:
        """Return the highest stored sequence, 0 when nothing is stored."""
        last = getattr(self.transport, "last_seq", None)
        if last is not None:
            return int(last())
        newest = self.transport.history(limit=1)
        return newest[-1].seq if newest else 0

    def _iter_history(self, after_seq: int, topic: str | None) -> Iterator[Envelope]:
        iterate = getattr(self.transport, "iter_history", None)
        if iterate is not None:
            return iter(iterate(after_seq=after_seq, topic=topic))
        return iter(self.transport.history(after_seq=after_seq, topic=topic))

    def export_jsonl(self, path_or_file: str | os.PathLike[str] | IO[str], topic: str | None = None
                     ) -> int:
        """Write every stored event (``Envelope.to_record()``) as one JSON line; return the count."""
        if topic is not None:
            validate_pattern(topic)
        if isinstance(path_or_file, (str, os.PathLike)):
            with open(path_or_file, "w", encoding="utf-8") as handle:
                return self._write_jsonl(handle, topic)
        return self._write_jsonl(path_or_file, topic)

    def _write_jsonl(self, handle: IO[str], topic: str | None) -> int:
        count = 0
        for envelope in self._iter_history(0, topic):
            handle.write(json.dumps(envelope.to_record(), sort_keys=True))
            handle.write("\n")
            count += 1
        return count

    def tail(self, after_seq: int | None = None, *, topic: str | None = None,
             poll_interval: float = 0.5, stop: threading.Event | None = None,
             idle_timeout: float | None = None) -> Iterator[Envelope]:
        """Return an iterator of events stored after ``after_seq`` (default: after this call).

        Polls the store, so events from other processes show up too.  Ends when
        ``stop`` is set or nothing new arrived for ``idle_timeout`` seconds.
        """
        if topic is not None:
            validate_pattern(topic)
        start = self.last_seq() if after_seq is None else after_seq  # "now" is the call
        return self._follow(start, topic, poll_interval, stop, idle_timeout)

    def _follow(self, last: int, topic: str | None, poll_interval: float,
                stop: threading.Event | None, idle_timeout: float | None) -> Iterator[Envelope]:
        quiet_since = time.monotonic()
        while stop is None or not stop.is_set():
            got = False
            for envelope in self._iter_history(last, topic):
                last = envelope.seq
                got = True
                yield envelope
            if got:
                quiet_since = time.monotonic()
            elif idle_timeout is not None and time.monotonic() - quiet_since >= idle_timeout:
                return
            if stop is not None:
                if stop.wait(poll_interval):
                    return
            else:
                time.sleep(poll_interval)

    def atail(self, after_seq: int | None = None, *, topic: str | None = None,
              poll_interval: float = 0.5) -> AsyncIterator[Envelope]:
        """Async version of ``tail`` (runs until cancelled)."""
        if topic is not None:
            validate_pattern(topic)
        start = self.last_seq() if after_seq is None else after_seq

        async def follow(last: int) -> AsyncIterator[Envelope]:
            while True:
                for envelope in self._iter_history(last, topic):
                    last = envelope.seq
                    yield envelope
                await asyncio.sleep(poll_interval)

        return follow(start)

    # ------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Close the transport and this bus's private loops (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.transport.close()
        for loop in self._all_private_loops:
            if not loop.is_running() and not loop.is_closed():
                loop.close()
        self._all_private_loops.clear()


class BoundBus:
    """A view of a bus whose publishes default to one role (what engines get)."""

    def __init__(self, bus: GenesisBus, role: str) -> None:
        self.bus = bus
        self.role = role

    def __getattr__(self, name: str) -> Any:
        return getattr(self.bus, name)

    async def publish(self, topic: str, payload: Mapping[str, Any] | None = None, *,
                      role: str | None = None, **kwargs: Any) -> PublishResult:
        """``GenesisBus.publish`` with this view's role unless one is given."""
        return await self.bus.publish(topic, payload, role=role or self.role, **kwargs)

    def publish_sync(self, topic: str, payload: Mapping[str, Any] | None = None, *,
                     role: str | None = None, **kwargs: Any) -> PublishResult:
        """``GenesisBus.publish_sync`` with this view's role unless one is given."""
        return self.bus.publish_sync(topic, payload, role=role or self.role, **kwargs)

    async def publish_many(self, events: Iterable[tuple[str, Mapping[str, Any] | None]], *,
                           role: str | None = None, **kwargs: Any) -> list[PublishResult]:
        """``GenesisBus.publish_many`` with this view's role unless one is given."""
        return await self.bus.publish_many(events, role=role or self.role, **kwargs)

    async def may_publish(self, topic: str, *, role: str | None = None,
                          **kwargs: Any) -> Decision:
        """``GenesisBus.may_publish`` with this view's role unless one is given."""
        return await self.bus.may_publish(topic, role=role or self.role, **kwargs)

    def __repr__(self) -> str:
        return f"<BoundBus role={self.role!r} {self.bus!r}>"

