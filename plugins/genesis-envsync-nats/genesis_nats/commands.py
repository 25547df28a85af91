"""``genesis worker`` and ``genesis nats status``: argument parsing here, the work in other modules."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from genesis_core.api import Command

if TYPE_CHECKING:
    from genesis_core.api import CommandContext

    from .settings import NatsSettings


#: The commands' help; ``plugin.py`` registers them lazily with the same text (a test keeps them equal).
WORKER_HELP = "run the engines as durable NATS JetStream consumers ([bus] transport = \"nats\")"
NATS_HELP = "inspect the NATS JetStream stream behind the bus"


# ---------------------------------------------------------------- genesis worker

def _configure_worker(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--engines", metavar="NAME,...",
                        help="engines to run (default: every enabled engine)")
    parser.add_argument("--until-idle", action="store_true",
                        help="exit 0 once the engines' durables have nothing pending (backfills, CI)")
    parser.add_argument("--retry-dead-letters", action="store_true",
                        help="re-deliver this host's dead letters of the engines, then exit "
                             "(0 all succeeded, 1 some failed again)")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per processed event")


def _run_worker(args: argparse.Namespace, ctx: CommandContext) -> int:
    from .worker import run_worker

    engines = [name.strip() for name in args.engines.split(",") if name.strip()] \
        if args.engines else None

    def report(line: str) -> None:
        ctx.stderr.write(f"genesis worker: {line}\n")
        ctx.stderr.flush()

    return run_worker(ctx.config, ctx.host, engines=engines, until_idle=args.until_idle,
                      role=ctx.role, report=report, verbose=args.verbose,
                      retry=args.retry_dead_letters)


WORKER_COMMAND = Command(name="worker", help=WORKER_HELP, configure=_configure_worker,
                         run=_run_worker)


# ---------------------------------------------------------------- genesis nats status

def _configure_nats(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="nats_command", metavar="ACTION", required=True)
    status = sub.add_parser("status", help="the stream and the engines' durable consumers")
    status.add_argument("--json", action="store_true", help="print JSON")


async def stream_status(settings: NatsSettings) -> dict[str, Any]:
    """Return the stream's state and its durable consumers (pending, awaiting ack, redelivered)."""
    from genesis_core.api import BusError

    from .connection import connect, ensure_stream, nats_error

    nc = await connect(settings, name="genesis-status")
    try:
        js = nc.jetstream(timeout=settings.request_timeout)
        try:
            info = await ensure_stream(js, settings)
            consumers = await js.consumers_info(settings.stream)
        except BusError:
            raise
        except Exception as exc:
            raise nats_error(settings, f"cannot read stream {settings.stream}", exc) from None
        state = info.state
        return {
            "url": settings.url,
            "stream": settings.stream,
            "subjects": list(info.config.subjects or ()),
            "messages": state.messages,
            "bytes": state.bytes,
            "first_seq": state.first_seq,
            "last_seq": state.last_seq,
            "consumers": [
                {"name": c.name,
                 "filter": c.config.filter_subjects or c.config.filter_subject or ">",
                 "pending": c.num_pending, "ack_pending": c.num_ack_pending,
                 "redelivered": c.num_redelivered, "waiting": c.num_waiting}
                for c in sorted(consumers, key=lambda c: c.name)
                if c.config.durable_name],
        }
    finally:
        await nc.close()


def _run_nats(args: argparse.Namespace, ctx: CommandContext) -> int:
    import asyncio

    from .settings import NatsSettings

    table = ctx.config.section("bus")
    if table.str("transport", "embedded") != "nats":
        raise table.error("transport", "genesis nats needs transport = \"nats\"")
    status = asyncio.run(stream_status(NatsSettings.from_table(table)))
    if args.json:
        ctx.print_json(status)
        return 0
    ctx.print(f"stream {status['stream']} at {status['url']} ({', '.join(status['subjects'])})")
    ctx.print(f"  {status['messages']} events, {status['bytes']} bytes, "
              f"seq {status['first_seq']}..{status['last_seq']}")
    if not status["consumers"]:
        ctx.print("  no durable consumers (start `genesis worker`)")
    for consumer in status["consumers"]:
        ctx.print(f"  {consumer['name']:<24} pending {consumer['pending']:>6}  awaiting ack "
                  f"{consumer['ack_pending']:>5}  redelivered {consumer['redelivered']:>5}  "
                  f"filter {consumer['filter']}")
    return 0


NATS_COMMAND = Command(name="nats", help=NATS_HELP, configure=_configure_nats, run=_run_nats)
