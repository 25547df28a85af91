"""``genesis sync``: compare every configured platform and publish the result."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

from .commands import Command
from .context import CommandContext

if TYPE_CHECKING:
    from ..sync import SyncOutcome


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--only", metavar="NAME,...", help="compare only these platforms")
    parser.add_argument("--json", action="store_true", help="print the event payload as JSON")
    parser.add_argument("--format", choices=("table", "markdown", "json"), default=None,
                        help="output format (default: table)")
    parser.add_argument("--mask-all", action="store_true", help="show every value as a fingerprint")
    parser.add_argument("--no-progress", action="store_true", help="no progress display while fetching")


def _run(args: argparse.Namespace, ctx: CommandContext) -> int:
    import asyncio

    from ..secrets import policy_from_config
    from ..sync import run_sync

    fmt = "json" if args.json else (args.format or "table")
    only = args.only.split(",") if args.only is not None else None
    config = ctx.config
    if not config.platforms():  # before anything is written to a state dir
        from ..sync import build_adapters

        build_adapters(config, ctx.host)
    policy = policy_from_config(config, ctx.state_dir, mask_all=True if args.mask_all else None)
    bus = ctx.bus
    progress = _Progress(ctx) if fmt == "table" and not args.no_progress and ctx.stderr.isatty() else None
    outcome = asyncio.run(run_sync(
        config, ctx.host, bus, secret_policy=policy, only=only, role=ctx.role,
        on_start=progress.start if progress else None, on_done=progress.done if progress else None))
    if progress:
        progress.stop()
    if fmt == "json":
        ctx.print_json(outcome.payload)
    elif fmt == "markdown":
        from ..report import build_view, render_markdown

        ctx.stdout.write(render_markdown(build_view({**outcome.payload, "_genesis_topic": outcome.topic})))
    else:
        render_table(outcome, ctx)
    if len(outcome.results.statuses) < 2:
        ctx.error("only one platform was compared, so there is nothing it could differ from")
    if outcome.blocked_reason:
        ctx.error(f"the Guardian blocked {outcome.topic}: {outcome.blocked_reason}")
    for name in outcome.results.failed:
        ctx.error(f"{name}: {outcome.results.statuses[name].error}")
    for failure in outcome.handler_failures:
        ctx.error(f"engine handler {failure.subscriber} failed on {outcome.topic}: {failure.error} "
                  "(kept for retry: `genesis events retry`)")
    return outcome.exit_code


class _Progress:
    """A live list of platforms on a TTY while they are fetched."""

    def __init__(self, ctx: CommandContext) -> None:
        from rich.console import Console

        self.console = Console(file=ctx.stderr)
        self.status: Any = None
        self.pending: list[str] = []

    def start(self, adapters: list[Any]) -> None:
        self.pending = [a.name for a in adapters]
        self.status = self.console.status(self._text())
        self.status.start()

    def _text(self) -> str:
        return f"fetching {', '.join(self.pending)}" if self.pending else "reconciling"

    def done(self, name: str, status: Any) -> None:
        if name in self.pending:
            self.pending.remove(name)
        mark = "[green]✓[/]" if status.ok else "[red]✗[/]"
        self.console.print(f"{mark} {name} ({status.keys} keys, {status.seconds:.2f}s)", highlight=False)
        if self.status is not None:
            self.status.update(self._text())

    def stop(self) -> None:
        if self.status is not None:
            self.status.stop()


def render_table(outcome: SyncOutcome, ctx: CommandContext) -> None:
    """Print a readable summary of ``outcome`` with rich (plain text when not a TTY)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    is_tty = ctx.stdout.isatty()
    console = Console(file=ctx.stdout, no_color=not is_tty or bool(os.environ.get("NO_COLOR")),
                      width=None if is_tty else 120, highlight=False, soft_wrap=not is_tty)
    payload = outcome.payload
    names = list(payload.get("instances") or [])
    platforms = Table(title="Platforms", title_justify="left")
    for column in ("platform", "kind", "status", "keys", "time"):
        platforms.add_column(column, justify="right" if column in ("keys", "time") else "left")
    for name in names:
        st = outcome.results.statuses[name]
        status = "[green]ok[/]" if st.ok else f"[red]error[/]: {escape(st.error or '')}"
        platforms.add_row(escape(name), escape(st.kind), status, str(st.keys) if st.ok else "-",
                          f"{st.seconds:.2f}s")
    console.print(platforms)
    if outcome.report is None:
        console.print(f"[red bold]Could not complete:[/] {len(outcome.results.failed)} platform(s) "
                      "could not be read; no drift is reported and nothing may be written.")
        return
    report = outcome.report
    missing_any = False
    for name in names:
        keys = report.missing.get(name, ())
        if keys:
            if not missing_any:
                console.print()
                console.print("[bold]Missing keys[/]")
                missing_any = True
            console.print(f"  {escape(name)} ({len(keys)}): {escape(', '.join(keys))}")
    if report.conflicts:
        console.print()
        conflicts = Table(title="Conflicting values", title_justify="left")
        conflicts.add_column("key")
        for name in names:
            conflicts.add_column(name)
        for key in sorted(report.conflicts):
            shown = report.conflicts[key]
            conflicts.add_row(escape(key), *(escape(shown.get(n, "—")) for n in names))
        console.print(conflicts)
    console.print()
    if report.has_drift:
        n_missing = sum(len(v) for v in report.missing.values())
        console.print(f"[yellow bold]Drift:[/] {report.drift_count} difference(s) "
                      f"({n_missing} missing, {len(report.conflicts)} conflicting) across "
                      f"{report.total_keys} keys")
    else:
        console.print(f"[green bold]Parity:[/] {report.total_keys} keys consistent across "
                      f"{len(names)} platforms")


COMMAND = Command(name="sync", help="compare every configured platform; exit 0 parity, 1 drift, 2 error",
                  configure=_configure, run=_run)

