"""``genesis blueprint check`` and ``genesis blueprint init``.

``check`` fetches every platform, checks every rule (values included) and
exits 0 (no violation), 1 (violations) or 2 (could not complete).  ``init``
writes a schema from the current variables and never overwrites a file
without ``--force``.  This module imports only the standard library and the
core's light modules at import time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genesis_core.api import Command

if TYPE_CHECKING:
    from genesis_core.api import CommandContext

    from .rules import CheckResult, Violation
    from .schema import Schema

EXIT_OK, EXIT_VIOLATIONS, EXIT_ERROR = 0, 1, 2
_MAX_SHOWN = 80


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``check`` and ``init`` sub-commands."""
    sub = parser.add_subparsers(dest="blueprint_command", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="check the current variables against the schema",
                           description="Fetch every platform and check every schema rule. "
                                       "Exit 0: no violation, 1: violations, 2: could not complete.")
    check.add_argument("--only", metavar="NAME,...", help="check only these platform instances")
    check.add_argument("--json", action="store_true", help="print the result as JSON")
    check.add_argument("--no-publish", action="store_true",
                       help="do not publish blueprint.warning on the bus")
    init = sub.add_parser("init", help="write a schema from the current variables",
                          description="Write a schema TOML file (key names and inferred types, "
                                      "never values) from what the platforms hold now.")
    init.add_argument("--output", metavar="FILE",
                      help="file to write (default: the configured schema or genesis.schema.toml "
                           "next to the config)")
    init.add_argument("--only", metavar="NAME,...", help="learn only from these platform instances")
    init.add_argument("--force", action="store_true", help="overwrite an existing file")


def _only(raw: str | None) -> list[str] | None:
    return [name.strip() for name in raw.split(",") if name.strip()] if raw else None


def run(args: argparse.Namespace, ctx: CommandContext) -> int:
    """Run the chosen action and return its exit code."""
    if args.blueprint_command == "check":
        return run_check(args, ctx)
    return run_init(args, ctx)


async def _fetch(ctx: CommandContext, only: list[str] | None) -> dict[str, Any]:
    from genesis_core.api import collect_snapshots

    return await collect_snapshots(ctx.config, ctx.host, only=only)


def _describe(violation: Violation) -> str:
    if violation.rule == "min_keys":
        return f"min_keys: expected at least {violation.expected} keys, found {violation.actual}"
    where = f"{violation.key} on {violation.instance}"
    if violation.rule in ("required", "platform_required"):
        return f"{where}: {violation.rule.replace('_', ' ')}, but missing"
    expected = violation.expected
    if violation.rule == "one_of":
        expected = "one of " + ", ".join(repr(item) for item in violation.expected)
    actual = violation.actual if isinstance(violation.actual, str) else str(violation.actual)
    if len(actual) > _MAX_SHOWN:
        actual = actual[:_MAX_SHOWN - 3] + "..."
    return f"{where}: {violation.rule}: expected {expected}, got {actual!r}"


def _print_result(ctx: CommandContext, schema: Schema, result: CheckResult) -> None:
    from .rules import sort_violations

    where = Path(schema.source).name if schema.source else "schema"
    scope = f"{len(result.instances)} instance(s): {', '.join(result.instances)}; {result.total_keys} keys"
    if result.ok:
        ctx.print(f"Blueprint: no violation of {where} ({scope})")
    else:
        ctx.print(f"Blueprint: {len(result.violations)} violation(s) of {where} ({scope})")
        for violation in sort_violations(result.violations):
            ctx.print(f"  ✗ {_describe(violation)}")
    if result.unchecked:
        ctx.print(f"  note: {len(result.unchecked)} value(s) could not be read, so their value rules "
                  "were not checked: " + ", ".join(f"{k} on {i}" for k, i in result.unchecked))


def run_check(args: argparse.Namespace, ctx: CommandContext) -> int:
    """Check every rule against freshly fetched variables; return 0, 1 or 2."""
    from .rules import check_variables, sort_violations, warning_payload
    from .schema import load_schema
    from .scope import scope_rule, scoped_variables

    config = ctx.config
    schema = load_schema(config)
    if schema.empty:
        ctx.error("blueprint: no schema configured: add rules to [engines.blueprint], or run "
                  "`genesis blueprint init` to write genesis.schema.toml")
        return EXIT_ERROR
    in_scope = scope_rule(config)
    policy = ctx.secret_policy

    async def check() -> tuple[CheckResult, str | None]:
        snapshots = await _fetch(ctx, _only(args.only))
        result = check_variables(schema, scoped_variables(snapshots, in_scope), policy, in_scope=in_scope)
        problem = None
        if result.violations and not args.no_publish:
            problem = await _publish(ctx, policy.mask_payload(
                warning_payload(result, schema, source={"command": "genesis blueprint check"})))
        return result, problem

    result, problem = asyncio.run(check())
    if args.json:
        ctx.print_json({
            "ok": result.ok,
            "schema": schema.source,
            "instances": list(result.instances),
            "total_keys": result.total_keys,
            "violations": [v.to_dict() for v in sort_violations(result.violations)],
            "unchecked": [{"key": k, "instance": i} for k, i in result.unchecked],
        })
    else:
        _print_result(ctx, schema, result)
    if problem is not None:
        ctx.error(f"blueprint.warning was not published: {problem}")
    return EXIT_OK if result.ok else EXIT_VIOLATIONS


async def _publish(ctx: CommandContext, payload: dict[str, Any]) -> str | None:
    """Publish ``blueprint.warning``; return why it was not delivered, or ``None``."""
    from genesis_core.api import GenesisError

    try:
        published = await ctx.bus.publish("blueprint.warning", payload, role=ctx.role)
    except GenesisError as exc:
        return str(exc)
    status = getattr(published, "status", "delivered")
    return None if status == "delivered" else str(getattr(published, "reason", status))


def run_init(args: argparse.Namespace, ctx: CommandContext) -> int:
    """Write a schema learned from the current variables; return 0, or 2 when it cannot."""
    import tomllib

    from genesis_core.api import Table, utc_now

    from .infer import infer_schema, render_schema
    from .schema import (
        DEFAULT_SCHEMA_FILE,
        RULE_KEYS,
        default_schema_path,
        parse_schema,
        schema_path,
    )
    from .scope import scope_rule, scoped_variables

    config = ctx.config
    output = Path(args.output).expanduser().resolve() if args.output else default_schema_path(config)
    if output.exists() and not args.force:
        ctx.error(f"{output} already exists; pass --force to overwrite it")
        return EXIT_ERROR
    in_scope = scope_rule(config)
    snapshots = asyncio.run(_fetch(ctx, _only(args.only)))
    inferred = infer_schema(scoped_variables(snapshots, in_scope), ctx.secret_policy)
    text = render_schema(inferred, generated_at=utc_now())
    parse_schema(Table(tomllib.loads(text), str(output), ""))  # what we write must load back
    _write_atomic(output, text)
    typed = sum(1 for item in inferred.keys if item.type is not None)
    secret = sum(1 for item in inferred.keys if item.secret)
    ctx.print(f"wrote {output}: min_keys = {inferred.min_keys}, {len(inferred.required)} required "
              f"key(s), {typed} typed key(s), {secret} secret key(s), from {', '.join(inferred.instances)}")
    engine = config.engine("blueprint")
    configured = schema_path(config)
    discovered = (configured is None and not any(key in engine for key in RULE_KEYS)
                  and output == (config.project_dir / DEFAULT_SCHEMA_FILE).resolve())
    if configured != output and not discovered:
        try:
            shown = os.path.relpath(output, config.project_dir)
        except ValueError:
            shown = str(output)
        ctx.print(f'to use it, set schema = {json.dumps(shown)} in [engines.blueprint]'
                  + (" and move the inline rules out of that table" if configured is None
                     and any(key in engine for key in RULE_KEYS) else ""))
    return EXIT_OK


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file, so a reader never sees half of it."""
    from genesis_core.api import GenesisError

    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise GenesisError(f"{path}: cannot write: {exc.strerror or exc}") from None


COMMAND = Command(name="blueprint", help="check variables against a schema, or write one (check, init)",
                  configure=configure, run=run)
