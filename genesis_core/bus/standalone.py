"""``Dispatcher``: handlers kept outside any bus, called for an event the way the bus calls its own.

A transport that delivers events itself (``genesis worker`` pulls them from NATS and
acknowledges each one) needs the bus's delivery without the bus's registry: the
delivered form of an event (``make_event``), one copy per handler, handlers called in
subscription order, isolated, with the same timeouts.  ``Dispatcher.deliver`` is that,
and records no dead letter: the caller decides when a failure is final.
``Dispatcher.retry_dead_letters`` hands stored dead letters back to its handlers with
the rules of ``GenesisBus.retry_dead_letters`` (``redeliver``, shared by both).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

import attrs

from ..errors import BusError
from .dispatcher import (
    Handler,
    HandlerFailure,
    Subscriber,
    SubscriptionHandle,
    call_handler,
    copy_json,
    make_event,
    make_subscriber,
)
from .results import RetryReport

if TYPE_CHECKING:
    from ..secrets import SecretPolicy
    from .envelope import Envelope
    from .transport import DeadLetter, DeadLetterStore, Transport


@attrs.frozen
class Delivery:
    """What ``Dispatcher.deliver`` did: the handlers that succeeded and those that failed."""

    delivered: tuple[str, ...] = ()
    failures: tuple[HandlerFailure, ...] = ()


class Dispatcher:
    """Subscriptions held apart from any bus, delivered to with the bus's rules.

    ``handler_timeout`` is the default timeout of a handler, as ``GenesisBus``'s.
    """

    def __init__(self, *, handler_timeout: float | None = 30.0) -> None:
        self.handler_timeout = handler_timeout
        self._subscribers: list[Subscriber] = []

    def __repr__(self) -> str:
        return f"<Dispatcher subscribers={[s.name for s in self._subscribers]}>"

    def subscribe(self, topics: str | Iterable[str], handler: Handler, name: str | None = None,
                  timeout: float | None = None, *, thread: bool | None = None) -> SubscriptionHandle:
        """Add ``handler`` for ``topics`` (as ``GenesisBus.subscribe``); return its handle.

        Raises ``BusError`` for an invalid pattern or a name already taken here.
        """
        taken = {sub.name for sub in self._subscribers}

        def unique(base: str) -> str:
            n, candidate = 2, base
            while candidate in taken:
                candidate, n = f"{base}#{n}", n + 1
            return candidate

        sub = make_subscriber(topics, handler, name, timeout, thread, unique=unique)
        if sub.name in taken:
            raise BusError(f"a subscriber named {sub.name!r} already exists (pass another name=)")
        self._subscribers.append(sub)
        return sub.handle

    def subscribers(self) -> list[SubscriptionHandle]:
        """Return the subscriptions in subscription order."""
        return [sub.handle for sub in self._subscribers]

    @property
    def patterns(self) -> tuple[str, ...]:
        """Return every topic pattern subscribed to, each once, in subscription order."""
        return tuple(dict.fromkeys(p for sub in self._subscribers for p in sub.patterns))

    def matching(self, topic: str) -> tuple[str, ...]:
        """Return the names of the subscriptions whose patterns match ``topic``."""
        return tuple(sub.name for sub in self._subscribers if sub.matches(topic))

    async def deliver(self, envelope: Envelope) -> Delivery:
        """Call every matching handler with its own copy of the delivered event; return what happened.

        A handler that raises or runs past its timeout is a ``HandlerFailure`` in the
        result, never an exception; no dead letter is recorded.
        """
        handlers = [sub for sub in self._subscribers if sub.matches(envelope.topic)]
        if not handlers:
            return Delivery()
        event = make_event(envelope)
        delivered: list[str] = []
        failures: list[HandlerFailure] = []
        for position, sub in enumerate(handlers):
            copy = event if position == len(handlers) - 1 else copy_json(event)
            failure = await call_handler(sub, copy, self.handler_timeout)
            if failure is None:
                delivered.append(sub.name)
            else:
                failures.append(failure)
        return Delivery(tuple(delivered), tuple(failures))

    async def retry_dead_letters(self, store: DeadLetterStore, transport: Transport, *, max_attempts: int,
                                 secret_policy: SecretPolicy | None = None) -> RetryReport:
        """Hand the dead letters of this dispatcher's handlers back to them; return what happened.

        The rules of ``GenesisBus.retry_dead_letters``; letters of other handlers are left
        alone and not reported.  ``transport.get`` runs on a thread (a network transport
        may block).
        """
        from ..secrets import mask_text

        subscribers = {sub.name: sub for sub in self._subscribers}

        async def get(seq: int) -> Envelope | None:
            return await asyncio.to_thread(transport.get, seq)

        return await redeliver([letter for letter in store.entries() if letter.subscriber in subscribers],
                               subscribers.get, get, store, max_attempts=max_attempts,
                               handler_timeout=self.handler_timeout,
                               mask=lambda text: mask_text(text, secret_policy))


async def redeliver(letters: Iterable[DeadLetter], find: Callable[[str], Subscriber | None],
                    get: Callable[[int], Awaitable[Envelope | None]], store: DeadLetterStore, *,
                    max_attempts: int, handler_timeout: float | None,
                    mask: Callable[[str], str]) -> RetryReport:
    """Re-deliver ``letters`` to the subscriber ``find`` returns for each; return what happened.

    A success removes the letter; a failure records one more attempt (its error masked).
    Letters that reached ``max_attempts``, whose subscriber is gone or whose event
    ``get`` no longer finds are skipped and kept.
    """
    succeeded: list[DeadLetter] = []
    failed: list[DeadLetter] = []
    skipped: list[tuple[DeadLetter, str]] = []
    for letter in letters:
        if letter.attempts >= max_attempts:
            skipped.append((letter, f"gave up after {letter.attempts} attempts"))
            continue
        sub = find(letter.subscriber)
        if sub is None:
            skipped.append((letter, f"no current subscriber named {letter.subscriber!r}"))
            continue
        envelope = await get(letter.seq)
        if envelope is None:
            skipped.append((letter, f"event #{letter.seq} is no longer stored"))
            continue
        failure = await call_handler(sub, make_event(envelope), handler_timeout)
        if failure is None:
            await store.remove(letter.id)
            succeeded.append(letter)
        else:
            failed.append(await store.record(letter.subscriber, letter.seq, letter.topic, mask(failure.error)))
    return RetryReport(tuple(succeeded), tuple(failed), tuple(skipped))
