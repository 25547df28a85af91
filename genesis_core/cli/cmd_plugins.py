"""``genesis plugins``: what is installed, what each registered, and what is broken."""

from __future__ import annotations

import argparse

from .commands import Command
from .context import CommandContext


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON")


def _run(args: argparse.Namespace, ctx: CommandContext) -> int:
    host = ctx.host
    infos = host.plugin_infos()
    registered = {
        "platforms": sorted(host.platform_kinds()),
        "engines": sorted(host.engines()),
        "transports": sorted(host.transports()),
        "commands": sorted(host.commands()),
    }
    problems = [{"plugin": p.plugin, "hook": p.hook, "error": p.error} for p in host.problems]
    if args.json:
        ctx.print_json({
            "plugins": [{"name": i.name, "distribution": i.distribution, "version": i.version,
                         "hooks": list(i.hooks), "status": "disabled" if i.disabled else
                         "broken" if i.broken else "ok", "error": i.error} for i in infos],
            "registered": registered, "problems": problems,
        })
    else:
        width = max((len(i.name) for i in infos), default=4)
        dwidth = max((len(i.distribution) for i in infos), default=12)
        for info in infos:
            status = "disabled" if info.disabled else "BROKEN" if info.broken else "ok"
            hooks = ", ".join(h.removeprefix("genesis_") for h in info.hooks)
            line = f"{info.name:<{width}}  {info.distribution:<{dwidth}}  {info.version or '-':<8}  {status:<8}"
            ctx.print(f"{line}  {info.error}" if info.broken else f"{line}  {hooks}")
        ctx.print()
        for what, names in registered.items():
            ctx.print(f"{what}: {', '.join(names) or '-'}")
        for p in problems:
            ctx.error(f"plugin {p['plugin']}: {p['hook']}: {p['error']}")
    return 0


COMMAND = Command(name="plugins", help="list installed plugins, what they register, and broken ones",
                  configure=_configure, run=_run)
