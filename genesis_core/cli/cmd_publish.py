"""``genesis publish TOPIC --data JSON``: publish one event through the Guardian gate."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from .commands import Command
from .context import CommandContext

if TYPE_CHECKING:
    from ..bus.results import PublishResult


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("topic", help="topic, e.g. envsync.drift")
    parser.add_argument("--data", default="{}", metavar="JSON", help="the payload, a JSON object")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def summary(topic: str, result: PublishResult) -> dict[str, Any]:
    """Return what ``--json`` prints: the status, the stored event and every handler's outcome.

    ``event`` is the stored event (for a blocked publish, the ``genesis.blocked`` notice);
    the payload is left out (it is in ``genesis events history``, secrets fingerprinted).
    """
    envelope = result.envelope
    return {
        "topic": topic,
        "status": result.status,
        "reason": result.reason or None,
        "event": None if envelope is None else {"seq": envelope.seq, "id": envelope.event_id,
                                                "topic": envelope.topic, "timestamp": envelope.timestamp},
        "delivered": list(result.delivered),
        "failures": [{"subscriber": f.subscriber, "error": f.error, "timed_out": f.timed_out}
                     for f in result.failures],
    }


def _run(args: argparse.Namespace, ctx: CommandContext) -> int:
    import asyncio

    try:
        payload = json.loads(args.data)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--data is not valid JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise UsageError("--data is nested too deeply") from None
    if not isinstance(payload, dict):
        raise UsageError("--data must be a JSON object")
    result = asyncio.run(ctx.bus.publish(args.topic, payload, role=ctx.role))
    if args.json:
        ctx.print_json(summary(args.topic, result))
    elif result.status == "delivered":
        seq = result.envelope.seq if result.envelope is not None else "?"
        ctx.print(f"published {args.topic} (seq {seq}) to {len(result.delivered)} handler(s)")
        for failure in result.failures:
            ctx.error(f"handler {failure.subscriber} failed: {failure.error}")
    else:
        ctx.error(f"blocked: {result.reason}")
    return 0 if result.status == "delivered" and not result.failures else 2


COMMAND = Command(name="publish", help="publish one event (checked by the Guardian)",
                  configure=_configure, run=_run)
