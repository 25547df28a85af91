"""Hand work from any event loop to the transport's loop thread in batches, one wake-up per batch.

A publish made on the caller's loop used to cross to the transport's loop on
its own (a coroutine, a cross-thread future and a wake-up of each loop per
event).  :class:`LoopBatcher` queues the items of every caller and wakes the
transport's loop once for all that arrived meanwhile; ``flush`` handles them
together there and the callers are answered in one wake-up per caller loop.
Each item still gets its own result or its own exception.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

I = TypeVar("I")  # noqa: E741 - an item
R = TypeVar("R")

Outcome = Any  # a result, or the exception to raise in the caller
Flush = Callable[[list[I]], Awaitable[list[Outcome]]]


class LoopBatcher(Generic[I, R]):
    """Runs ``flush(items)`` on ``loop`` for items submitted from any event loop or thread.

    ``flush`` returns one outcome per item, in order: the result, or an
    exception instance that the item's caller raises.  ``closed_error()`` makes
    the exception for items submitted after :meth:`close` or cut off by it.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, flush: Flush[I],
                 closed_error: Callable[[], BaseException]) -> None:
        self._loop = loop
        self._flush = flush
        self._closed_error = closed_error
        self._lock = threading.Lock()
        self._pending: list[_Request[I]] = []
        self._scheduled = False
        self._closed = False
        self._running: set[asyncio.Task[None]] = set()

    async def submit(self, item: I) -> R:
        """Return ``item``'s result once its batch was handled (raise its exception)."""
        outcome = (await self._enqueue((item,)))[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome  # type: ignore[no-any-return]

    async def submit_many(self, items: Sequence[I]) -> list[R]:
        """Return the results of ``items`` (handled in order, in one batch); raise the first error."""
        outcomes = await self._enqueue(tuple(items))
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return list(outcomes)

    async def _enqueue(self, items: tuple[I, ...]) -> list[Outcome]:
        """Queue ``items`` as one request; return their outcomes."""
        caller = asyncio.get_running_loop()
        future: asyncio.Future[list[Outcome]] = caller.create_future()
        with self._lock:
            if self._closed:
                raise self._closed_error()
            self._pending.append(_Request(items, caller, future))
            wake = not self._scheduled
            self._scheduled = True
        if wake:
            if caller is self._loop:
                caller.call_soon(self._start)
            else:
                self._loop.call_soon_threadsafe(self._start)
        return await future

    def _start(self) -> None:
        """On the loop: take everything queued so far and handle it as one batch."""
        with self._lock:
            batch, self._pending = self._pending, []
            self._scheduled = False
        if batch:
            task = self._loop.create_task(self._run(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, batch: list[_Request[I]]) -> None:
        items = [item for request in batch for item in request.items]
        outcomes: list[Outcome] | None = None
        try:
            outcomes = await self._flush(items)
            if len(outcomes) != len(items):
                raise AssertionError(f"flush returned {len(outcomes)} outcomes for {len(items)} items")
        except asyncio.CancelledError:  # the loop is stopping: nobody will answer these
            outcomes = None
            raise
        except Exception as exc:
            outcomes = [exc] * len(items)
        finally:
            _settle(batch, outcomes or [self._closed_error() for _ in items], self._loop)

    def close(self) -> None:
        """Refuse new items and fail the queued ones (items being handled finish or are cancelled)."""
        with self._lock:
            self._closed = True
            batch, self._pending = self._pending, []
        _settle(batch, [self._closed_error() for request in batch for _ in request.items], self._loop)


class _Request(Generic[I]):
    """Items queued by one call, the loop it waits on and the future it waits for."""

    __slots__ = ("items", "caller", "future")

    def __init__(self, items: tuple[I, ...], caller: asyncio.AbstractEventLoop,
                 future: asyncio.Future[list[Outcome]]) -> None:
        self.items, self.caller, self.future = items, caller, future


def _settle(batch: Sequence[_Request[Any]], outcomes: Sequence[Outcome],
            own: asyncio.AbstractEventLoop) -> None:
    """Hand each request its outcomes, with one wake-up per caller loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], list[Outcome]]]] = {}
    position = 0
    for request in batch:
        end = position + len(request.items)
        by_loop.setdefault(request.caller, []).append((request.future, list(outcomes[position:end])))
        position = end
    for caller, pairs in by_loop.items():
        if caller is own and _running_loop() is own:
            _apply(pairs)
            continue
        try:
            caller.call_soon_threadsafe(_apply, pairs)
        except RuntimeError:  # the caller's loop is closed: nobody is waiting any more
            pass


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _apply(pairs: Sequence[tuple[asyncio.Future[Any], list[Outcome]]]) -> None:
    for future, outcomes in pairs:
        if not future.done():  # a cancelled caller is done already
            future.set_result(outcomes)
