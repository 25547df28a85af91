"""``genesis serve``: run the Cascade WebSocket server until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
from typing import TYPE_CHECKING

import attrs

from genesis_core.api import Command

if TYPE_CHECKING:
    from genesis_core.api import CommandContext

    from .settings import CascadeSettings


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="address to bind (default: [engines.cascade] host, 127.0.0.1)")
    parser.add_argument("--port", type=int,
                        help="port to listen on, 0 for any free one (default: [engines.cascade] port, 8765)")


def _settings(args: argparse.Namespace, ctx: CommandContext) -> CascadeSettings:
    from genesis_core.api import UsageError

    from .settings import settings_from_table

    settings = settings_from_table(ctx.config.engine("cascade"))
    if args.host:
        settings = attrs.evolve(settings, host=args.host)
    if args.port is not None:
        if not 0 <= args.port <= 65535:
            raise UsageError(f"--port must be between 0 and 65535, got {args.port}")
        settings = attrs.evolve(settings, port=args.port)
    return settings


async def _serve(ctx: CommandContext, settings: CascadeSettings, token: str | None) -> int:
    from .server import CascadeServer

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread, Windows
            loop.add_signal_handler(signum, stop.set)
    server = CascadeServer(settings, bus=ctx.bus, token=token)
    try:
        await server.start()
    except OSError as exc:
        await server.stop()
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        ctx.error(f"cannot listen on {settings.host}:{settings.port}: {reason}")
        return 2
    try:
        where = f"{settings.host}:{server.port}"
        ctx.print(f"cascade: listening on ws://{where}/ws (status page http://{where}/)")
        if token is not None:
            ctx.print(f"cascade: clients must present the bearer token from ${settings.token_env}")
        elif not settings.is_loopback:
            ctx.error(f"warning: serving on {settings.host} without a token; "
                      f"set ${settings.token_env} to require one")
        if hasattr(ctx.stdout, "flush"):
            ctx.stdout.flush()
        await stop.wait()
    finally:
        await server.stop()
    ctx.print("cascade: stopped")
    return 0


def _run(args: argparse.Namespace, ctx: CommandContext) -> int:
    from .settings import load_token

    settings = _settings(args, ctx)
    token = load_token(settings)
    return asyncio.run(_serve(ctx, settings, token))


SERVE_COMMAND = Command(
    name="serve",
    help="push config_update to frontends over a WebSocket on every envsync.commit",
    configure=_configure,
    run=_run,
)
