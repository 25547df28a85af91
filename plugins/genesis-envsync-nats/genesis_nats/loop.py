"""A private asyncio event loop on a background thread, for code that must call async nats-py.

The transport's synchronous methods (``history``, ``stats``, ``get``) and its
async ones (``append``) both hand their coroutine to this loop, so they work
whether or not the caller runs an event loop of its own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from genesis_core.api import BusError

T = TypeVar("T")


class LoopThread:
    """One event loop running forever on one daemon thread until ``stop``.

    ``label`` starts the messages of the ``BusError``s it raises (``NATS at URL``).
    """

    def __init__(self, name: str, label: str = "NATS") -> None:
        self.label = label
        self.loop = asyncio.new_event_loop()
        self._stopped = False
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        self._ready.wait()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        try:
            self.loop.run_forever()
        finally:
            pending = [task for task in asyncio.all_tasks(self.loop) if not task.done()]
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.close()

    def in_loop_thread(self) -> bool:
        """Return whether the caller runs on this loop's thread."""
        return threading.current_thread() is self._thread

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the loop; return a thread-safe future for its result."""
        if self._stopped:
            coro.close()
            raise BusError(f"{self.label}: the transport is closed")
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run ``coro`` on the loop and wait for it from a plain thread; return its result.

        Raises ``BusError`` when called from the loop's own thread (that would
        deadlock) or when nothing came back within ``timeout`` seconds.
        """
        if self.in_loop_thread():
            coro.close()
            raise BusError(f"{self.label}: a blocking call was made from the transport's own "
                           "event loop")
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise BusError(f"{self.label}: no answer within {timeout:g}s") from None

    async def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on the loop from any event loop (directly when already on it)."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            return await coro
        return await asyncio.wrap_future(self.submit(coro))

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop and wait for its thread (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        try:
            self.loop.call_soon_threadsafe(self.loop.stop)
        except RuntimeError:  # already closed
            return
        if not self.in_loop_thread():
            self._thread.join(timeout)
