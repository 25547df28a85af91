"""``genesis publish TOPIC --data JSON``: publish one event through the Guardian gate."""

from __future__ import annotations

import argparse
import json

from ..errors import UsageError
from .commands import Command
from .context import CommandContext


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("topic", help="topic, e.g. envsync.drift")
    parser.add_argument("--data", default="{}", metavar="JSON", help="the payload, a JSON object")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


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
    summary = result.to_dict() if hasattr(result, "to_dict") else {"status": result.status}
    if args.json:
        ctx.print_json(summary)
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
