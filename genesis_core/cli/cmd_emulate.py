"""``genesis emulate``: run the platform emulators on 127.0.0.1, seeded with the demo app, until stopped."""

from __future__ import annotations

import argparse
import signal
import threading

from ..errors import UsageError
from .commands import Command
from .context import CommandContext

KINDS = ("render", "netlify", "github")


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kinds", nargs="*", metavar="KIND",
                        help=f"which emulators to start: {', '.join(KINDS)} (default: all)")
    parser.add_argument("--port", type=int, default=0,
                        help="first port to use (default: free ports chosen by the system)")
    parser.add_argument("--seconds", type=float, default=None, help=argparse.SUPPRESS)


def _run(args: argparse.Namespace, ctx: CommandContext) -> int:
    from ..demo.app_data import drifted_app
    from ..demo.emulators import DEMO_IDS, running_emulators

    unknown = [kind for kind in args.kinds if kind not in KINDS]
    if unknown:
        raise UsageError(f"no emulator for {', '.join(unknown)} (choose from {', '.join(KINDS)})")
    kinds = tuple(dict.fromkeys(args.kinds or KINDS))
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with running_emulators(drifted_app(), kinds, port=args.port) as emulators:
            ctx.print("Emulators running on 127.0.0.1 (seeded with the demo app); Ctrl-C to stop.")
            for running in emulators.values():
                ctx.print(f"  {running.kind:<8} base_url = \"{running.base_url}\"   "
                          f"export {running.token_env}={running.token}")
            ctx.print("")
            ctx.print("Tables for your genesis.toml (the demo app's ids):")
            for running in emulators.values():
                ctx.print(f"[platforms.{running.kind}]")
                for key, value in DEMO_IDS[running.kind].items():
                    ctx.print(f'{key} = "{value}"')
                ctx.print(f'base_url = "{running.base_url}"')
            ctx.stdout.flush()
            try:
                stop.wait(args.seconds)
            except KeyboardInterrupt:
                pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


COMMAND = Command(name="emulate", help="run emulated Render, Netlify and GitHub APIs on 127.0.0.1 (for trying Genesis)",
                  configure=_configure, run=_run)
