"""``genesis steward report``: render the latest ``envsync.drift`` event from the bus history."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genesis_core.api import Command

if TYPE_CHECKING:
    from genesis_core.api import CommandContext

FORMATS = ("md", "json", "html")


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``report`` sub-command."""
    sub = parser.add_subparsers(dest="steward_command", metavar="ACTION", required=True)
    report = sub.add_parser("report", help="render the latest drift event (md, json or html)",
                            description="Render the latest envsync.drift event from the event history.")
    report.add_argument("--format", choices=FORMATS, default="md", help="output format (default: md)")
    report.add_argument("--output", metavar="FILE", help="write to FILE instead of stdout")
    which = report.add_mutually_exclusive_group()
    which.add_argument("--env", metavar="ENVIRONMENT", help="the latest drift of this environment")
    which.add_argument("--across", action="store_true",
                       help="the latest comparison across environments (envsync.cross_drift)")


#: How far back ``--env`` looks for its environment's latest event.
SEARCH_LIMIT = 1000


def _latest(ctx: CommandContext, topic: str, environment: str | None = None) -> dict[str, Any] | None:
    if environment is None:
        events = ctx.bus.get_event_history(limit=1, topic=topic)
        return dict(events[-1]) if events else None
    for event in reversed(ctx.bus.get_event_history(limit=SEARCH_LIMIT, topic=topic)):
        if event.get("environment") == environment:
            return dict(event)
    return None


def run(args: argparse.Namespace, ctx: CommandContext) -> int:
    """Render the latest drift event; return 0 (also when there is none yet) or 2 on error."""
    from genesis_core.api import COMMIT_TOPIC, CROSS_TOPIC, DRIFT_TOPIC, RENDERERS, GenesisError, build_view

    from .engine import mask_event
    from .reports import write_atomic

    topic = CROSS_TOPIC if args.across else DRIFT_TOPIC
    event = _latest(ctx, topic, args.env)
    if event is None:
        what = "comparison across environments" if args.across else (
            f"drift event for environment {args.env}" if args.env else "drift event")
        ctx.print(f"no {what} recorded yet (run `genesis sync`)")
        return 0
    text = RENDERERS[args.format](build_view(mask_event(event, ctx.secret_policy)))
    commit = None if args.across else _latest(ctx, COMMIT_TOPIC, args.env)
    seq = event.get("_genesis_seq")
    if commit is not None and isinstance(seq, int) and isinstance(commit.get("_genesis_seq"), int) \
            and commit["_genesis_seq"] > seq:
        ctx.error(f"note: parity was verified after this drift (event #{commit['_genesis_seq']})")
    if args.output:
        path = Path(args.output).expanduser()
        try:
            write_atomic(path, text)
        except OSError as exc:
            raise GenesisError(f"{path}: cannot write: {exc.strerror or exc}") from None
        ctx.print(f"wrote {path}")
    else:
        ctx.stdout.write(text)
    return 0


COMMAND = Command(name="steward", help="drift reports: render the latest drift event (report)",
                  configure=configure, run=run)
