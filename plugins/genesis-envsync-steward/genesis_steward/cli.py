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


def _latest(ctx: CommandContext, topic: str) -> dict[str, Any] | None:
    events = ctx.bus.get_event_history(limit=1, topic=topic)
    return dict(events[-1]) if events else None


def run(args: argparse.Namespace, ctx: CommandContext) -> int:
    """Render the latest drift event; return 0 (also when there is none yet) or 2 on error."""
    from genesis_core.api import RENDERERS, GenesisError, build_view

    from .engine import mask_event
    from .reports import write_atomic

    event = _latest(ctx, "envsync.drift")
    if event is None:
        ctx.print("no drift event recorded yet (run `genesis sync`)")
        return 0
    text = RENDERERS[args.format](build_view(mask_event(event, ctx.secret_policy)))
    commit = _latest(ctx, "envsync.commit")
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
