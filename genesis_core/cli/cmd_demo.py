"""``genesis demo``: the whole flow on emulated platforms, with narration; no credentials needed."""

from __future__ import annotations

import argparse
from pathlib import Path

from .commands import Command
from .context import CommandContext


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", default="genesis-demo",
                        help="where to write the demo project (default ./genesis-demo)")


def _run(args: argparse.Namespace, ctx: CommandContext) -> int:
    from ..demo.runner import run_demo
    from .app import run

    installed = {info.name for info in ctx.host.plugin_infos() if not info.broken and not info.disabled}
    return run_demo(Path(args.dir), say=ctx.print, genesis=run, installed=installed)


COMMAND = Command(name="demo", help="run the whole flow on emulated Render, Netlify and GitHub (no credentials)",
                  configure=_configure, run=_run)
