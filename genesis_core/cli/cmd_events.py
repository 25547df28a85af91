"""``genesis events``: history, stats, tail, export, dead letters and retry."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..errors import GenesisError
from .commands import Command
from .context import CommandContext

#: The most events ``events history --limit`` shows.
MAX_LIMIT = 1_000_000


def _configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="events_command", metavar="ACTION", required=True)
    history = sub.add_parser("history", help="show stored events, newest last")
    history.add_argument("--topic", metavar="PATTERN", help="only topics matching, e.g. 'envsync.*'")
    history.add_argument("--limit", type=int, default=20, metavar="N", help="newest N events (default 20)")
    history.add_argument("--json", action="store_true", help="one JSON envelope per line")
    history.add_argument("--cloudevents", action="store_true", help="print CloudEvents 1.0 JSON lines")
    stats = sub.add_parser("stats", help="count of stored events per topic")
    stats.add_argument("--json", action="store_true", help="print JSON")
    tail = sub.add_parser("tail", help="follow new events as they are stored (Ctrl-C to stop)")
    tail.add_argument("--topic", metavar="PATTERN")
    tail.add_argument("--json", action="store_true")
    tail.add_argument("--interval", type=float, default=0.5, help=argparse.SUPPRESS)
    tail.add_argument("--max-events", type=int, default=None, help=argparse.SUPPRESS)
    export = sub.add_parser("export", help="write stored events as JSON lines")
    export.add_argument("output", help="file to write, or - for stdout")
    export.add_argument("--topic", metavar="PATTERN")
    dead = sub.add_parser("dead-letters", help="events a handler failed on, kept for retry")
    dead.add_argument("--json", action="store_true")
    retry = sub.add_parser("retry", help="re-deliver dead-lettered events to their handlers")
    retry.add_argument("--subscriber", metavar="NAME")


def _line(event: dict[str, Any]) -> str:
    topic = event.get("_genesis_topic", "?")
    body = {k: v for k, v in event.items() if not k.startswith("_genesis_")}
    text = json.dumps(body, sort_keys=True, default=str)
    if len(text) > 160:
        text = text[:157] + "..."
    return f"{event.get('_genesis_seq', '?'):>6}  {event.get('_genesis_timestamp', '')}  {topic:<24} {text}"


def _run(args: argparse.Namespace, ctx: CommandContext) -> int:
    import asyncio

    action = args.events_command
    bus = ctx.bus
    if action == "history":
        if args.limit is not None and not 1 <= args.limit <= MAX_LIMIT:
            ctx.error(f"--limit must be from 1 to {MAX_LIMIT:,}, got {args.limit}"[:200])
            return 2
        if args.cloudevents:
            for envelope in bus.history(limit=args.limit, topic=args.topic):
                ctx.print(json.dumps(envelope.to_cloudevent(), sort_keys=True, default=str))
            return 0
        events = bus.get_event_history(limit=args.limit, topic=args.topic)
        if events and not args.json:
            ctx.print(f"{'seq':>6}  {'stored at':<24}  {'topic':<24} payload")
        for event in events:
            ctx.print(json.dumps(event, sort_keys=True, default=str) if args.json else _line(event))
        if not events and not args.json:
            ctx.print("no events stored yet")
        return 0
    if action == "stats":
        stats = bus.stats()
        if args.json:
            ctx.print_json(stats)
        else:
            for topic, count in sorted(stats.items()):
                ctx.print(f"{count:>8}  {topic}")
            if not stats:
                ctx.print("no events stored yet")
        return 0
    if action == "tail":
        return _tail(args, ctx)
    if action == "export":
        if args.output == "-":
            count = bus.export_jsonl(sys.stdout, topic=args.topic)
        else:
            try:
                with open(args.output, "w", encoding="utf-8") as fh:
                    count = bus.export_jsonl(fh, topic=args.topic)
            except OSError as exc:
                raise GenesisError(f"{args.output}: cannot write ({exc.strerror or type(exc).__name__})") from None
            ctx.error(f"exported {count} event(s) to {args.output}")
        return 0
    if action == "dead-letters":
        letters = bus.dead_letters()
        if args.json:
            ctx.print_json([{"id": d.id, "subscriber": d.subscriber, "seq": d.seq, "topic": d.topic,
                             "error": d.error, "attempts": d.attempts, "failed_at": d.failed_at}
                            for d in letters])
        else:
            for d in letters:
                ctx.print(f"{d.id:>5}  seq {d.seq:<6} {d.topic:<22} {d.subscriber:<20} "
                          f"attempts {d.attempts}  {d.error}")
            if not letters:
                ctx.print("no dead letters")
        return 0
    if action == "retry":
        report = asyncio.run(bus.retry_dead_letters(subscriber=args.subscriber))
        ctx.print(str(report))
        return 0 if not getattr(report, "failed", 0) else 1
    raise AssertionError(action)


def _tail(args: argparse.Namespace, ctx: CommandContext) -> int:
    if not 0.01 <= args.interval <= 60:  # also refuses nan
        ctx.error(f"--interval must be from 0.01 to 60 seconds, got {args.interval}")
        return 2
    shown = 0
    try:
        for envelope in ctx.bus.tail(topic=args.topic, poll_interval=args.interval):
            event = envelope.to_event()
            ctx.print(json.dumps(event, sort_keys=True, default=str) if args.json else _line(event))
            ctx.stdout.flush()
            shown += 1
            if args.max_events is not None and shown >= args.max_events:
                break
    except KeyboardInterrupt:
        pass
    return 0


COMMAND = Command(name="events", help="inspect the event store: history, stats, tail, export, dead letters",
                  configure=_configure, run=_run)
