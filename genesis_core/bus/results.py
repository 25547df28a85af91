"""What the bus returns: the result of one publish and the report of a dead-letter retry."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import attrs

if TYPE_CHECKING:
    import asyncio

    from .dispatcher import HandlerFailure
    from .envelope import Envelope
    from .transport import DeadLetter


class PublishResult(NamedTuple):
    """What ``publish`` did.

    ``status`` is ``"delivered"`` (stored, then handed to every matching
    subscriber; ``failures`` lists the handlers that raised or timed out),
    ``"blocked"`` (the Guardian denied it; ``envelope`` is the stored
    ``genesis.blocked`` notice and ``reason`` says why) or ``"scheduled"``
    (``publish_sync`` inside a running event loop; await ``pending``).
    An immutable record (a named tuple: one is made per publish, and a tuple is
    built in half the time of an attrs instance).
    """

    status: str
    envelope: Envelope | None = None
    reason: str = ""
    delivered: tuple[str, ...] = ()
    failures: tuple[HandlerFailure, ...] = ()
    pending: asyncio.Future[PublishResult] | None = None

    def __repr__(self) -> str:
        return (f"PublishResult(status={self.status!r}, envelope={self.envelope!r}, "
                f"reason={self.reason!r}, delivered={self.delivered!r}, failures={self.failures!r})")

    @property
    def ok(self) -> bool:
        """Return whether the event was delivered and no handler failed."""
        return self.status == "delivered" and not self.failures

    @property
    def seq(self) -> int | None:
        """Return the stored event's sequence, if any."""
        return self.envelope.seq if self.envelope is not None else None


@attrs.frozen
class RetryReport:
    """What ``retry_dead_letters`` did with each dead letter it looked at."""

    succeeded: tuple[DeadLetter, ...] = ()
    failed: tuple[DeadLetter, ...] = ()
    skipped: tuple[tuple[DeadLetter, str], ...] = ()

    @property
    def attempted(self) -> int:
        """Return how many dead letters were re-delivered."""
        return len(self.succeeded) + len(self.failed)

    def __str__(self) -> str:
        lines = [f"retried {self.attempted}: {len(self.succeeded)} succeeded, "
                 f"{len(self.failed)} failed, {len(self.skipped)} skipped"]
        lines += [f"  failed  {d.subscriber} #{d.seq} (attempt {d.attempts}): {d.error}"
                  for d in self.failed]
        lines += [f"  skipped {d.subscriber} #{d.seq}: {why}" for d, why in self.skipped]
        return "\n".join(lines)
