"""``genesis sync``: compare every configured platform and publish the result."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING, Any

from .commands import Command
from .context import CommandContext

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..sync import SyncOutcome


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--only", metavar="NAME,...", help="compare only these platforms")
    parser.add_argument("--env", action="append", metavar="ENVIRONMENT", dest="environments",
                        help="check only this environment (repeatable; nothing is compared across environments)")
    parser.add_argument("--json", action="store_true", help="print the event payload as JSON")
    parser.add_argument("--format", choices=("table", "markdown", "json"), default=None,
                        help="output format (default: table)")
    parser.add_argument("--mask-all", action="store_true", help="show every value as a fingerprint")
    parser.add_argument("--no-progress", action="store_true", help="no progress display while fetching")


def _run(args: argparse.Namespace, ctx: CommandContext) -> int:
    import asyncio

    from ..secrets import policy_from_config
    from ..sync import EXIT_ERROR, run_sync
    from ..writerecords import WriteRecords

    fmt = "json" if args.json else (args.format or "table")
    only = args.only.split(",") if args.only is not None else None
    config = ctx.config
    if not config.platforms():  # before anything is written to a state dir
        from ..sync import build_adapters

        build_adapters(config, ctx.host)
    policy = policy_from_config(config, ctx.state_dir, mask_all=True if args.mask_all else None)
    ctx.reports_engine_failures()
    bus = ctx.bus
    progress = _Progress(ctx) if fmt == "table" and not args.no_progress and ctx.stderr.isatty() else None
    outcome = asyncio.run(run_sync(
        config, ctx.host, bus, secret_policy=policy, only=only, role=ctx.role,
        on_start=progress.start if progress else None, on_done=progress.done if progress else None,
        environments=args.environments, records=WriteRecords(ctx.state_dir)))
    if progress:
        progress.stop()
    if fmt == "json":
        ctx.print_json(outcome.payload)
    elif fmt == "markdown":
        ctx.stdout.write(render_markdown_outcome(outcome))
    else:
        render_table(outcome, ctx)
    if len(outcome.results.statuses) < 2:
        ctx.error("only one platform was compared, so there is nothing it could differ from")
    unverified = _unverified(outcome)
    if unverified and fmt != "table":
        ctx.error(f"note: {_unverified_advice(unverified)}")
    if outcome.environments and outcome.across is None and len(outcome.environments) > 1:
        ctx.error("note: nothing was compared across environments (--env or --only narrowed the run)")
    for topic, reason in outcome.blocked:
        ctx.error(f"the Guardian blocked {topic}: {reason}")
    for name in outcome.results.failed:
        ctx.error(f"{name}: {outcome.results.statuses[name].error}")
    topics = outcome.failure_topics or (outcome.topic,) * len(outcome.handler_failures)
    required_failed = False
    for failure, topic in zip(outcome.handler_failures, topics):
        required_failed = ctx.engine_failure(failure, topic) or required_failed
    # A required engine (Truth by default) that could not handle the result: CI must notice.
    return EXIT_ERROR if required_failed else outcome.exit_code


def _reports(outcome: SyncOutcome) -> list[Any]:
    """Return the drift reports of ``outcome``: one per environment, or the single one."""
    if outcome.environments:
        return [item.report for item in outcome.environments]
    return [outcome.report] if outcome.report is not None else []


def _unverified(outcome: SyncOutcome) -> int:
    return sum(report.unverified_count for report in _reports(outcome))


def _unverified_advice(count: int) -> str:
    return (f"{count} write-only value(s) could not be verified (Genesis has no record of writing them); "
            "`genesis heal --apply --adopt` writes the reference value once and records it, so later syncs "
            "can check them")


def render_markdown_outcome(outcome: SyncOutcome) -> str:
    """Return the Markdown report of ``outcome``: one section per environment, then across environments."""
    from ..report import build_view, render_markdown

    if not outcome.environments:
        return render_markdown(build_view({**outcome.payload, "_genesis_topic": outcome.topic}))
    parts = [render_markdown(build_view({**item.payload, "_genesis_topic": item.topic}))
             for item in outcome.environments]
    if outcome.across is not None:
        parts.append(render_markdown(build_view({**outcome.across.payload(),
                                                 "_genesis_topic": "envsync.cross_drift"})))
    return "\n".join(parts)


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


def _console(ctx: CommandContext) -> Any:
    from rich.console import Console

    is_tty = ctx.stdout.isatty()
    return Console(file=ctx.stdout, no_color=not is_tty or bool(os.environ.get("NO_COLOR")),
                   width=None if is_tty else 120, highlight=False, soft_wrap=not is_tty)


def render_table(outcome: SyncOutcome, ctx: CommandContext) -> None:
    """Print a readable summary of ``outcome`` with rich (plain text when not a TTY)."""
    console = _console(ctx)
    if outcome.environments:
        for index, item in enumerate(outcome.environments):
            if index:
                console.print()
            console.print(f"[bold]Environment {_escape(item.name)}[/]")
            _render_report(console, outcome, list(item.instances), item.report)
        if outcome.across is not None:
            console.print()
            _render_across(console, outcome.across)
    else:
        _render_report(console, outcome, list(outcome.payload.get("instances") or []), outcome.report)
    count = _unverified(outcome)
    if count:
        console.print()
        console.print(_escape(_unverified_advice(count)))


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _render_report(console: Any, outcome: SyncOutcome, names: list[str], report: Any) -> None:
    """Print the platforms table, missing keys, conflicts and the verdict of one report."""
    from rich.table import Table

    escape = _escape
    platforms = Table(title="Platforms", title_justify="left")
    for column in ("platform", "kind", "status", "keys", "time"):
        platforms.add_column(column, justify="right" if column in ("keys", "time") else "left")
    for name in names:
        st = outcome.results.statuses[name]
        status = "[green]ok[/]" if st.ok else f"[red]error[/]: {escape(st.error or '')}"
        platforms.add_row(escape(name), escape(st.kind), status, str(st.keys) if st.ok else "-",
                          f"{st.seconds:.2f}s")
    console.print(platforms)
    if report is None:
        console.print(f"[red bold]Could not complete:[/] {len(outcome.results.failed)} platform(s) "
                      "could not be read; no drift is reported and nothing may be written.")
        return
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
        console.print(_value_table("Conflicting values", names, report.conflicts))
    _render_expansions(console, outcome, names, report)
    verified = [check for check in report.write_only if check.status == "verified"]
    if verified:
        console.print()
        console.print(f"Verified by write record ({len(verified)}): "
                      + escape(", ".join(f"{c.instance} {c.key}" for c in verified)))
    console.print()
    if report.has_drift:
        n_missing = sum(len(v) for v in report.missing.values())
        console.print(f"[yellow bold]Drift:[/] {report.drift_count} difference(s) "
                      f"({n_missing} missing, {len(report.conflicts)} conflicting) across "
                      f"{report.total_keys} keys")
    else:
        console.print(f"[green bold]Parity:[/] {report.total_keys} keys consistent across "
                      f"{len(names)} platforms")


def _render_expansions(console: Any, outcome: SyncOutcome, names: list[str], report: Any) -> None:
    """Print which missing or conflicting values came from ``${VAR}`` expansion (names only)."""
    from ..report.view import expansion_notes

    snapshots = outcome.results.snapshots
    expanded = {name: snapshots[name].expansions() for name in names if name in snapshots}
    notes = expansion_notes(expanded, set(report.conflicts).union(*report.missing.values()))
    if notes:
        console.print()
        console.print("[bold]Values from expansion[/] (names only)")
        for name, key, text in notes:
            console.print(f"  {_escape(name)} {_escape(key)}: {_escape(text)}")


def _render_across(console: Any, across: Any) -> None:
    """Print the keys x environments matrix, the shared values that differ and the verdict."""
    from rich.table import Table

    escape = _escape
    names = list(across.environments)
    console.print("[bold]Across environments[/]")
    keys = across.matrix_keys()
    if keys:
        matrix = Table(title="Keys missing in an environment", title_justify="left")
        matrix.add_column("key")
        for name in names:
            matrix.add_column(name, justify="center")
        for key in keys:
            present = across.present(key)
            matrix.add_row(escape(key), *("✓" if present[n] else "[red]✗[/]" for n in names))
        console.print(matrix)
    if across.conflicts:
        console.print()
        console.print(_value_table("Shared values that differ (same_everywhere)", names, across.conflicts))
    if keys or across.conflicts:
        console.print()
    n_missing = sum(len(v) for v in across.missing.values())
    if across.has_drift:
        console.print(f"[yellow bold]Drift across environments:[/] {across.drift_count} difference(s) "
                      f"({n_missing} missing, {len(across.conflicts)} conflicting) across {len(names)} environments")
    else:
        console.print(f"[green bold]Parity across environments:[/] {len(names)} environments hold the same keys"
                      + (", and the shared keys the same values" if across.conflicts is not None else ""))


COMMAND = Command(name="sync", help="compare every configured platform; exit 0 parity, 1 drift, 2 error",
                  configure=_configure, run=_run)


def _value_table(title: str, columns: list[str], rows: Mapping[str, Mapping[str, str]]) -> Any:
    """Return a rich table of ``rows`` (key -> column -> shown value), one column per name, keys sorted."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("key")
    for name in columns:
        table.add_column(name)
    for key in sorted(rows):
        shown = rows[key]
        table.add_row(_escape(key), *(_escape(shown.get(name, "—")) for name in columns))
    return table
