"""Local delivery: the subscriber registry, per-subscriber ordering and isolated handler calls.

Ordering works with *turns*: right after an event is stored, the publishing
task takes one ticket from every matching subscriber (under one lock, so all
subscribers see the events of one loop in the same order), and it calls a
subscriber only when that subscriber has finished every earlier ticket.  An
event published from inside a handler (a *nested* publish) does not wait for
turns -- waiting could deadlock on the very handler that is publishing -- so it
is delivered at once, depth first, like a function call.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from ..errors import BusError, one_line
from .envelope import ID_KEY, SEQ_KEY, TIMESTAMP_KEY, TOPIC_KEY, Envelope
from .topics import TopicPattern, compile_pattern, validate_pattern, validate_topic

log = logging.getLogger("genesis.bus")

Handler = Callable[[dict[str, Any]], Any]

#: Names of the handlers the current code runs inside (innermost last); empty outside handlers.
handler_chain: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "genesis_handler_chain", default=())
#: The event loop that is delivering the current event (for ``publish_sync`` from a handler thread).
delivery_loop: contextvars.ContextVar[asyncio.AbstractEventLoop | None] = contextvars.ContextVar(
    "genesis_delivery_loop", default=None)

_ids = itertools.count(1)


# ---------------------------------------------------------------- payloads

# ASCII-only JSON: a lone surrogate in a string must not break the UTF-8 store.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, allow_nan=False)
_decode = json.JSONDecoder().decode


def encode_payload(topic: str, payload: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Return ``(json_text, decoded_copy)`` of ``payload``; raise ``BusError`` if it is not JSON."""
    if not isinstance(payload, Mapping):
        raise BusError(f"payload for {topic!r} must be a JSON object (a dict), "
                       f"got {type(payload).__name__}")
    try:
        text = _ENCODER.encode(payload if type(payload) is dict else dict(payload))
    except (TypeError, ValueError) as exc:
        raise BusError(f"payload for {topic!r} is not JSON-serialisable: {exc}") from None
    return text, _decode(text)


_SCALARS = (str, int, bool, type(None))
_IMMUTABLE_SCALARS = frozenset((int, bool, type(None)))


def _check_text(value: str) -> str:
    """Return ``value`` if it encodes as UTF-8; raise ``TypeError`` for a lone surrogate."""
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise TypeError("lone surrogate") from None
    return value


def _plain_copy(value: Any) -> Any:
    """Return a deep copy of ``value`` if it is plain JSON data with string keys; raise ``TypeError`` if not."""
    kind = type(value)
    if kind is dict:
        return _copy_object(value)
    if kind is list or kind is tuple:
        return [_plain_copy(item) for item in value]
    if kind in _SCALARS:
        return _check_text(value) if kind is str else value
    if kind is float and value == value and value not in (float("inf"), float("-inf")):
        return value
    raise TypeError(kind.__name__)


def _copy_object(value: dict[Any, Any]) -> dict[str, Any]:
    """``_plain_copy`` of a dict."""
    out = value.copy()
    for key, item in out.items():  # replacing values while iterating is safe
        if type(key) is not str:
            raise TypeError("non-string key")
        item_kind = type(item)
        if item_kind is str:
            if not item.isascii():
                _check_text(item)
        elif item_kind not in _IMMUTABLE_SCALARS:
            out[key] = _plain_copy(item)
    return out


def normalise_payload(topic: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Return a decoded-JSON copy of ``payload`` (fast path for plain data); raise ``BusError`` if not JSON."""
    if type(payload) is dict:
        try:
            return _copy_object(payload)
        except (TypeError, RecursionError):
            pass  # let the encoder give the precise error (or normalise odd types it accepts)
    return encode_payload(topic, payload)[1]


def copy_json(value: Any) -> Any:
    """Return a deep copy of decoded JSON (dicts, lists and immutable scalars)."""
    kind = type(value)
    if kind is dict:
        out = value.copy()
        for key, item in out.items():
            if type(item) in _CONTAINERS:
                out[key] = copy_json(item)
        return out
    if kind is list:
        return [copy_json(item) if type(item) in _CONTAINERS else item for item in value]
    return value


_CONTAINERS = frozenset((dict, list))


def make_event(envelope: Envelope) -> dict[str, Any]:
    """Return the delivered form of ``envelope``: a fresh copy of the payload plus ``_genesis_*`` keys."""
    return event_template(envelope)[0]


def event_template(envelope: Envelope) -> tuple[dict[str, Any], Callable[[dict[str, Any]], dict[str, Any]]]:
    """Return ``(event, copy)``: the delivered form of ``envelope`` and how to copy it for one more subscriber.

    ``copy`` is ``dict.copy`` when no payload value is a container (a shallow copy is then a
    deep one), else ``copy_json``.
    """
    payload = envelope.payload
    if type(payload) is not dict:
        payload = _decode(_ENCODER.encode(dict(payload)))
    event = payload.copy()
    copy: Callable[[dict[str, Any]], dict[str, Any]] = dict.copy
    for item in payload.values():
        if type(item) in _CONTAINERS:  # nested data: copy it deeply, here and per subscriber
            for key, value in event.items():  # replacing values while iterating is safe
                if type(value) in _CONTAINERS:
                    event[key] = copy_json(value)
            copy = copy_json
            break
    event[TOPIC_KEY] = envelope.topic
    event[SEQ_KEY] = envelope.seq
    event[TIMESTAMP_KEY] = envelope.timestamp
    event[ID_KEY] = envelope.event_id
    return event, copy


# ---------------------------------------------------------------- values

@attrs.frozen
class HandlerFailure:
    """A handler that raised or ran past its timeout for one event."""

    subscriber: str
    error: str
    timed_out: bool = False


@attrs.frozen
class SubscriptionHandle:
    """What ``subscribe`` returns; pass it to ``unsubscribe``."""

    id: int
    name: str
    patterns: tuple[str, ...]


def _is_async(handler: Handler) -> bool:
    # An object whose class defines ``async def __call__`` counts as async too.
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
        getattr(type(handler), "__call__", None))  # noqa: B004


def default_name(handler: Handler) -> str:
    """Return ``module.qualname`` of ``handler`` (a stable name for dead letters)."""
    target = getattr(handler, "func", handler)  # functools.partial
    module = getattr(target, "__module__", None) or "handler"
    qualname = getattr(target, "__qualname__", None) or type(target).__qualname__
    return f"{module}.{qualname}"


class Subscriber:
    """One subscription: patterns, handler, its options and its delivery turns."""

    __slots__ = ("id", "name", "patterns", "compiled", "handler", "is_async", "timeout",
                 "threaded", "inline", "active", "direct", "next_ticket", "serving", "finished",
                 "waiters", "alone")

    def __init__(self, patterns: Iterable[str], handler: Handler, *, name: str,
                 timeout: float | None, thread: bool | None, sub_id: int | None = None) -> None:
        self.id = sub_id if sub_id is not None else next(_ids)
        self.patterns = tuple(dict.fromkeys(patterns))
        if not self.patterns:
            raise BusError("a subscription needs at least one topic pattern")
        self.compiled: tuple[TopicPattern, ...] = tuple(compile_pattern(p) for p in self.patterns)
        if not callable(handler):
            raise BusError(f"handler for {self.patterns[0]!r} is not callable")
        if timeout is not None and not (isinstance(timeout, (int, float)) and timeout > 0):
            raise BusError(f"timeout must be a positive number of seconds, got {timeout!r}")
        self.name = name
        self.alone = (name,)  # ``handler_chain`` while it handles a top-level publish
        self.handler = handler
        self.is_async = _is_async(handler)
        self.timeout = float(timeout) if timeout is not None else None
        # A sync handler runs inline on the loop unless it asks for a thread, or has its own
        # timeout (a timeout can only be enforced on a thread).
        self.threaded = (not self.is_async) and (thread if thread is not None else timeout is not None)
        self.inline = not self.is_async and not self.threaded
        self.active = True
        #: Inline and still subscribed: the bus may call it straight from ``publish``.
        self.direct = self.inline
        self.next_ticket = 0
        self.serving = 0
        self.finished: set[int] = set()
        self.waiters: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = {}

    @property
    def handle(self) -> SubscriptionHandle:
        """Return the public handle of this subscription."""
        return SubscriptionHandle(self.id, self.name, self.patterns)

    def matches(self, topic: str) -> bool:
        """Return whether any of this subscriber's patterns matches ``topic``."""
        return any(pattern.matches(topic) for pattern in self.compiled)

    def clone(self) -> Subscriber:
        """Return a fresh copy (same id, name and options) for another bus."""
        return Subscriber(self.patterns, self.handler, name=self.name, timeout=self.timeout,
                          thread=self.threaded if not self.is_async else None, sub_id=self.id)

    def __repr__(self) -> str:
        return f"<Subscriber {self.name} {list(self.patterns)}>"


def make_subscriber(topics: str | Iterable[str], handler: Handler, name: str | None,
                    timeout: float | None, thread: bool | None, *,
                    unique: Callable[[str], str] | None = None) -> Subscriber:
    """Return a validated ``Subscriber`` (default name: the handler's ``module.qualname``, made
    unique by ``unique`` if given)."""
    patterns = (topics,) if isinstance(topics, str) else tuple(topics)
    for pattern in patterns:
        validate_pattern(pattern)
    if name is None:
        base = default_name(handler)
        name = unique(base) if unique is not None else base
    elif not isinstance(name, str) or not name:
        raise BusError(f"subscriber name must be a non-empty string, got {name!r}")
    return Subscriber(patterns, handler, name=name, timeout=timeout, thread=thread)



# ---------------------------------------------------------------- registry

class Registry:
    """The subscribers of one bus, with a per-topic match cache and the turn bookkeeping."""

    _CACHE_LIMIT = 4096

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[int, Subscriber] = {}
        #: topic -> (matching subscribers, their names)
        self._cache: dict[str, tuple[tuple[Subscriber, ...], tuple[str, ...]]] = {}

    # -- membership
    def add(self, subscriber: Subscriber) -> None:
        """Add ``subscriber``; raise ``BusError`` if its name or id is taken."""
        with self._lock:
            if subscriber.id in self._subscribers:
                return
            for other in self._subscribers.values():
                if other.name == subscriber.name:
                    raise BusError(f"a subscriber named {subscriber.name!r} already exists "
                                   "(pass another name=)")
            self._subscribers[subscriber.id] = subscriber
            self._cache.clear()

    def unique_name(self, base: str) -> str:
        """Return ``base``, or ``base#2``, ``base#3``... whichever is not taken yet."""
        with self._lock:
            taken = {s.name for s in self._subscribers.values()}
        if base not in taken:
            return base
        for n in itertools.count(2):
            candidate = f"{base}#{n}"
            if candidate not in taken:
                return candidate
        raise AssertionError("unreachable")

    def remove(self, target: SubscriptionHandle | Handler | str | int) -> list[Subscriber]:
        """Remove subscribers by handle, id, name or handler; return the removed ones."""
        with self._lock:
            if isinstance(target, SubscriptionHandle):
                chosen = [s for s in self._subscribers.values() if s.id == target.id]
            elif isinstance(target, int) and not isinstance(target, bool):
                chosen = [s for s in self._subscribers.values() if s.id == target]
            elif isinstance(target, str):
                chosen = [s for s in self._subscribers.values() if s.name == target]
            else:
                chosen = [s for s in self._subscribers.values() if s.handler == target]
            for sub in chosen:
                sub.active = sub.direct = False
                del self._subscribers[sub.id]
            if chosen:
                self._cache.clear()
        return chosen

    def all(self) -> list[Subscriber]:
        """Return every subscriber in subscription order."""
        with self._lock:
            return sorted(self._subscribers.values(), key=lambda s: s.id)

    def by_name(self, name: str) -> Subscriber | None:
        """Return the subscriber called ``name``, or ``None``."""
        with self._lock:
            for sub in self._subscribers.values():
                if sub.name == name:
                    return sub
        return None

    def match(self, topic: str) -> tuple[Subscriber, ...]:
        """Return the subscribers whose patterns match ``topic``, in subscription order."""
        return self._matching(topic)[0]

    def _matching(self, topic: str) -> tuple[tuple[Subscriber, ...], tuple[str, ...]]:
        found = self._cache.get(topic)
        if found is None:
            with self._lock:
                subscribers = tuple(s for s in sorted(self._subscribers.values(), key=lambda s: s.id)
                                    if s.matches(topic))
                found = (subscribers, tuple(s.name for s in subscribers))
                if len(self._cache) >= self._CACHE_LIMIT:
                    self._cache.clear()
                self._cache[topic] = found
        return found

    # -- turns
    def claim(self, topic: str) -> tuple[tuple[Subscriber, ...], tuple[str, ...], list[int]]:
        """Return the subscribers of ``topic``, their names, and one ticket for each, taken atomically."""
        found, names = self._cache.get(topic) or self._matching(topic)
        tickets: list[int] = []
        if found:
            take = tickets.append
            lock = self._lock
            lock.acquire()  # not ``with``: on the publish path its __enter__/__exit__ cost twice as much
            try:
                for sub in found:
                    ticket = sub.next_ticket
                    take(ticket)
                    sub.next_ticket = ticket + 1
            finally:
                lock.release()
        return found, names, tickets

    def wait_for_turn(self, sub: Subscriber, ticket: int) -> asyncio.Future[None] | None:
        """Return ``None`` if it is ``ticket``'s turn now, else a future that completes when it is."""
        with self._lock:
            if sub.serving == ticket:
                return None
            loop = asyncio.get_running_loop()
            future: asyncio.Future[None] = loop.create_future()
            sub.waiters[ticket] = (loop, future)
            return future

    def release(self, sub: Subscriber, ticket: int) -> None:
        """Mark ``ticket`` finished and wake the subscriber's next waiting ticket, if any."""
        with self._lock:
            wake = self._finish_turn(sub, ticket)
        if wake is not None:
            _wake(*wake)

    def release_many(self, subscribers: Sequence[Subscriber], tickets: Sequence[int],
                     start: int = 0, stop: int | None = None) -> None:
        """``release`` ``tickets[i]`` of ``subscribers[i]`` for ``i`` in ``start:stop``, under one lock."""
        if start or (stop is not None and stop < len(subscribers)):
            subscribers, tickets = subscribers[start:stop], tickets[start:stop]
        wakes = None
        lock = self._lock
        lock.acquire()  # as in claim
        try:
            for sub, ticket in zip(subscribers, tickets):
                if ticket == sub.serving and not sub.finished and not sub.waiters:
                    sub.serving = ticket + 1  # the usual case, as in _finish_turn
                    continue
                wake = self._finish_turn(sub, ticket)
                if wake is not None:
                    wakes = [wake] if wakes is None else [*wakes, wake]
        finally:
            lock.release()
        if wakes is not None:
            for wake in wakes:
                _wake(*wake)

    @staticmethod
    def _finish_turn(sub: Subscriber, ticket: int
                     ) -> tuple[asyncio.AbstractEventLoop, asyncio.Future[None]] | None:
        """Record ``ticket`` as finished (the lock is held); return the waiter to wake, if any."""
        if ticket == sub.serving and not sub.finished:  # the usual, in-order case
            sub.serving = ticket + 1
            if not sub.waiters:
                return None
            return sub.waiters.pop(sub.serving, None)
        sub.waiters.pop(ticket, None)
        if ticket < sub.serving:
            return None
        sub.finished.add(ticket)
        while sub.serving in sub.finished:
            sub.finished.discard(sub.serving)
            sub.serving += 1
        return sub.waiters.pop(sub.serving, None)


def _wake(loop: asyncio.AbstractEventLoop, future: asyncio.Future[None]) -> None:
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        _finish(future)
        return
    try:
        loop.call_soon_threadsafe(_finish, future)
    except RuntimeError:  # that loop is closed: nobody waits any more
        pass


def _finish(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


# ---------------------------------------------------------------- calling handlers

class _Expired(Exception):
    pass


async def _bounded(awaitable: Any, timeout: float | None) -> None:
    if timeout is None:
        await awaitable
        return
    scope = asyncio.timeout(timeout)
    try:
        async with scope:
            await awaitable
    except TimeoutError:
        if scope.expired():
            raise _Expired from None
        raise  # the handler's own TimeoutError: an ordinary failure


def _in_thread(handler: Handler, event: dict[str, Any], name: str) -> asyncio.Future[Any]:
    """Run a sync handler on its own daemon thread; return a future for its result.

    A dedicated thread (not a pool) means a handler that hangs past its timeout
    never starves the handlers that come after it.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()
    context = contextvars.copy_context()

    def settle(ok: bool, value: Any) -> None:
        if future.done():
            return
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def target() -> None:
        try:
            outcome = (True, context.run(handler, event))
        except BaseException as exc:  # handed to the waiting task, which isolates it
            outcome = (False, exc)
        try:
            loop.call_soon_threadsafe(settle, *outcome)
        except RuntimeError:  # the loop is gone; nobody is waiting
            pass

    threading.Thread(target=target, name=f"genesis-handler:{name}", daemon=True).start()
    return future


async def call_handler(sub: Subscriber, event: dict[str, Any],
                       default_timeout: float | None) -> HandlerFailure | None:
    """Call ``sub``'s handler with ``event``; return a ``HandlerFailure`` instead of raising."""
    timeout = sub.timeout if sub.timeout is not None else default_timeout
    chain_token = handler_chain.set(handler_chain.get() + (sub.name,))
    try:
        if sub.is_async:
            await _bounded(sub.handler(event), timeout)
        elif sub.threaded:
            loop_token = delivery_loop.set(asyncio.get_running_loop())
            try:
                future = _in_thread(sub.handler, event, sub.name)
            finally:
                delivery_loop.reset(loop_token)
            await _bounded(future, timeout)
        else:
            started = time.perf_counter()
            result = sub.handler(event)
            if result is not None and inspect.isawaitable(result):
                await _bounded(result, timeout)
            elif timeout is not None and time.perf_counter() - started > timeout:
                warn_slow(sub, time.perf_counter() - started, timeout)
        return None
    except _Expired:
        return HandlerFailure(sub.name, f"timed out after {timeout:g}s", True)
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # the publisher itself is being cancelled
        return HandlerFailure(sub.name, "CancelledError: the handler was cancelled")
    except Exception as exc:
        return HandlerFailure(sub.name, one_line(exc))
    finally:
        handler_chain.reset(chain_token)


def call_inline(sub: Subscriber, event: dict[str, Any], chain: tuple[str, ...],
                timeout: float | None) -> HandlerFailure | None | Any:
    """Call a sync handler on this thread; return a failure, ``None``, or an awaitable it returned.

    The fast path of delivery: no coroutine, no task, one context-variable set.
    """
    token = handler_chain.set(chain + (sub.name,))
    try:
        started = time.perf_counter()
        result = sub.handler(event)
        if result is not None and inspect.isawaitable(result):
            return result
        if timeout is not None and time.perf_counter() - started > timeout:
            warn_slow(sub, time.perf_counter() - started, timeout)
        return None
    except Exception as exc:
        return HandlerFailure(sub.name, one_line(exc))
    finally:
        handler_chain.reset(token)


async def await_result(sub: Subscriber, awaitable: Any, chain: tuple[str, ...],
                       timeout: float | None) -> HandlerFailure | None:
    """Await what a sync handler returned (it returned a coroutine), isolated like ``call_handler``."""
    token = handler_chain.set(chain + (sub.name,))
    try:
        await _bounded(awaitable, timeout)
        return None
    except _Expired:
        return HandlerFailure(sub.name, f"timed out after {timeout:g}s", True)
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        return HandlerFailure(sub.name, "CancelledError: the handler was cancelled")
    except Exception as exc:
        return HandlerFailure(sub.name, one_line(exc))
    finally:
        handler_chain.reset(token)


def warn_slow(sub: Subscriber, elapsed: float, timeout: float) -> None:
    """Log that the inline handler of ``sub`` ran past ``timeout`` (it cannot be stopped inline)."""
    log.warning("sync handler %s ran %.1fs inline (over its %.1fs timeout); subscribe it with "
                "thread=True so the timeout can be enforced", sub.name, elapsed, timeout)


def check_topic(topic: str) -> str:
    """Return ``topic`` if valid; raise ``BusError`` otherwise."""
    return validate_topic(topic)
