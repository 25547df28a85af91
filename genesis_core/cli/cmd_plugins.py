"""``genesis plugins``: what is installed, what each registered, and what is broken."""

from __future__ import annotations

import argparse
import os
from typing import Any

from .commands import Command
from .context import CommandContext


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--all", action="store_true",
                        help="also list the core's built-in plugins (dotenv, the transports, the core's commands)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="print the traceback of each broken plugin (as GENESIS_DEBUG=1 does)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def _status(disabled: bool, broken: bool) -> str:
    return "disabled" if disabled else "broken" if broken else "ok"


def _run(args: argparse.Namespace, ctx: CommandContext) -> int:
    host = ctx.host
    verbose = bool(args.verbose or os.environ.get("GENESIS_DEBUG"))
    infos = [info for info in host.plugin_infos() if args.all or not info.builtin]
    registered = {
        "platforms": sorted(host.platform_kinds()),
        "engines": sorted(host.engines()),
        "transports": sorted(host.transports()),
        "commands": sorted(host.commands()),
    }
    problems = host.problems
    if args.json:
        plugins: list[dict[str, Any]] = []
        for i in infos:
            entry: dict[str, Any] = {"name": i.name, "distribution": i.distribution, "version": i.version,
                                     "hooks": list(i.hooks), "status": _status(i.disabled, i.broken),
                                     "error": i.error, "builtin": i.builtin}
            if verbose:
                entry["traceback"] = i.traceback
            plugins.append(entry)
        ctx.print_json({
            "plugins": plugins, "registered": registered,
            "problems": [{"plugin": p.plugin, "hook": p.hook, "error": p.error} for p in problems],
        })
        return 0
    width = max((len(i.name) for i in infos), default=4)
    dwidth = max((len(i.distribution) for i in infos), default=12)
    for info in infos:
        status = _status(info.disabled, info.broken).upper() if info.broken else _status(info.disabled, False)
        hooks = ", ".join(h.removeprefix("genesis_") for h in info.hooks)
        line = f"{info.name:<{width}}  {info.distribution:<{dwidth}}  {info.version or '-':<8}  {status:<8}"
        ctx.print(f"{line}  {info.error}" if info.broken else f"{line}  {hooks}")
    ctx.print()
    for what, names in registered.items():
        ctx.print(f"{what}: {', '.join(names) or '-'}")
    for p in problems:
        ctx.error(f"plugin {p.plugin}: {p.hook}: {p.error}")
    if verbose:
        for info in infos:
            if info.traceback:
                ctx.stderr.write(f"genesis: plugin {info.name} ({info.distribution}) failed to load:\n"
                                 f"{info.traceback.rstrip()}\n")
        for p in problems:
            if p.traceback:
                ctx.stderr.write(f"genesis: plugin {p.plugin}: {p.hook} raised:\n{p.traceback.rstrip()}\n")
    return 0


COMMAND = Command(name="plugins", help="list installed plugins, what they register, and broken ones",
                  configure=_configure, run=_run)
