"""``genesis heal``: print the heal plan; with ``--apply``, write it and verify every key.

Exit codes: 0 nothing to write (or everything healed and verified), 1 the plan
has writes (dry run) or some key failed (``--apply``), 2 could not complete
(an instance could not be read, bad config, the Guardian refused the results).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from typing import TYPE_CHECKING

from genesis_core.api import Command

if TYPE_CHECKING:
    from genesis_core.api import CommandContext, SecretPolicy, WriteRecords

    from .apply import HealResult
    from .healing import Prepared
    from .interrupted import InterruptedHeal
    from .plan import HealPlan, PlannedWrite, TargetPlan
    from .settings import AutonomySettings
    from .thresholds import BreakerState, CircuitBreaker

EXIT_OK, EXIT_WORK, EXIT_ERROR = 0, 1, 2


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--apply", action="store_true",
                        help="write the plan through the platform APIs, then verify every key")
    parser.add_argument("--json", action="store_true", help="print the plan (and results) as JSON")
    parser.add_argument("--only", metavar="NAME,...", help="heal only these target instances")
    parser.add_argument("--env", action="append", metavar="ENVIRONMENT", dest="environments",
                        help="heal only this environment, from its own reference (repeatable)")
    parser.add_argument("--across", nargs="?", const="", default=None, metavar="ENVIRONMENT",
                        help="also copy same_everywhere keys from ENVIRONMENT's reference (default: the first "
                             "environment configured) to the other environments")
    parser.add_argument("--adopt", action="store_true",
                        help="write the reference value once to every write-only value Genesis has no record "
                             "of writing, recording it (so later syncs can verify it)")
    parser.add_argument("--verbose", "-v", action="store_true", help="list every key left alone, one per line")


def _run(args: argparse.Namespace, ctx: CommandContext) -> int:
    from genesis_core.api import ConfigError

    from .settings import settings_from_config

    if ctx.config.source is None:
        raise ConfigError("no genesis.toml (or [tool.genesis] in pyproject.toml) found here or above; "
                          "run `genesis init` first")
    settings = settings_from_config(ctx.config)
    return asyncio.run(_heal(args, ctx, settings))


async def _heal(args: argparse.Namespace, ctx: CommandContext, settings: AutonomySettings) -> int:
    from genesis_core.api import WriteRecords

    from .healing import prepare_all
    from .interrupted import find_interrupted
    from .thresholds import CircuitBreaker

    only = args.only.split(",") if args.only else None
    policy = ctx.secret_policy
    ctx.reports_engine_failures()
    records = WriteRecords(ctx.state_dir)
    all_prepared = await prepare_all(ctx.config, ctx.host, settings, policy, os.environ, only=only,
                                     environments=args.environments, across=args.across, adopt=args.adopt,
                                     records=records)
    interrupted = find_interrupted(ctx.bus, ctx.state_dir)
    if all_prepared[0].plan is None:
        failed = all_prepared[0].failed
        if args.json:
            ctx.print_json({"refused": True, "failed": failed, "written": 0, **_interrupted_json(interrupted)})
        else:
            _print_interrupted(ctx, interrupted)
        for name, why in failed.items():
            ctx.error(f"{name}: {why}")
        ctx.error(f"heal refused: {len(failed)} instance(s) could not be read; nothing was written "
                  "(a failed read stops every write)")
        return EXIT_ERROR
    breaker = CircuitBreaker(ctx.state_dir, settings.thresholds)
    several = all_prepared[0].environment is not None or len(all_prepared) > 1
    if args.apply:
        return await _apply(args, ctx, all_prepared, breaker, policy, records, interrupted, several=several)
    return await _dry_run(args, ctx, [p.plan for p in all_prepared if p.plan is not None], breaker.state(),
                          policy, interrupted, several=several)


def _json(plans: list[dict[str, object]], applied: bool, several: bool, interrupted: list[InterruptedHeal],
          closed: set[str] | None = None) -> dict[str, object]:
    """Return the JSON document: ``{"plan", ...}`` as before, or ``{"plans": [...]}`` with environments;
    ``interrupted`` is there only when an earlier heal was interrupted."""
    if not several:
        return {**plans[0], "applied": applied, **_interrupted_json(interrupted, closed)}
    return {"plans": plans, "applied": applied, **_interrupted_json(interrupted, closed)}


def _interrupted_json(interrupted: list[InterruptedHeal], closed: set[str] | None = None) -> dict[str, object]:
    """Return ``{"interrupted": [...]}`` (each with ``closed`` after ``--apply``), or nothing."""
    if not interrupted:
        return {}
    return {"interrupted": [{**heal.to_dict(), **({} if closed is None else {"closed": heal.heal_id in closed})}
                            for heal in interrupted]}


async def _dry_run(args: argparse.Namespace, ctx: CommandContext, plans: list[HealPlan], breaker: BreakerState,
                   policy: SecretPolicy, interrupted: list[InterruptedHeal], *, several: bool) -> int:
    from .healing import PLANNED, new_heal_id, planned_payload, publish

    required_failed = False
    for plan in plans:
        if plan.has_writes:
            published = await publish(ctx.bus, PLANNED,
                                      planned_payload(plan, heal_id=new_heal_id(), trigger="cli"),
                                      role=ctx.role, policy=policy)
            if published.status != "delivered":
                ctx.error(f"the Guardian blocked {PLANNED}: {published.reason}")
            for failure in published.failures:  # only when a required engine records heal plans
                required_failed = ctx.engine_failure(failure, PLANNED) or required_failed
    writes = sum(plan.write_count for plan in plans)
    if args.json:
        ctx.print_json(_json([{"plan": plan.to_dict()} for plan in plans], False, several, interrupted))
    else:
        _print_interrupted(ctx, interrupted)
        for plan in plans:
            _print_plan(ctx, plan, verbose=args.verbose)
        if ctx.config.engine("autonomy").bool("auto_heal", False):
            _print_breaker(ctx, breaker)
        if writes:
            ctx.print(f"{writes} write(s) planned; run `genesis heal --apply{_flags(args)}` to write them.")
        else:
            ctx.print("Nothing to write.")
    if required_failed:
        return EXIT_ERROR
    return EXIT_WORK if writes else EXIT_OK


def _flags(args: argparse.Namespace) -> str:
    """Return the options of this run that ``--apply`` must repeat: ``--env``, ``--only``, ``--across``, ``--adopt``."""
    flags = [f"--env {name}" for name in args.environments or ()]
    if args.only:
        flags.append(f"--only {args.only}")
    if args.across is not None:
        flags.append(f"--across {args.across}".rstrip())
    if args.adopt:
        flags.append("--adopt")
    return "".join(f" {flag}" for flag in flags)


async def _apply(args: argparse.Namespace, ctx: CommandContext, all_prepared: list[Prepared],
                 breaker: CircuitBreaker, policy: SecretPolicy, records: WriteRecords,
                 interrupted: list[InterruptedHeal], *, several: bool) -> int:
    from .healing import (
        APPLIED,
        FAILED,
        PLANNED,
        apply,
        new_heal_id,
        planned_payload,
        publish,
        result_payloads,
    )
    from .interrupted import WRITE, running, write_recorder

    plans = [prepared.plan for prepared in all_prepared if prepared.plan is not None]
    bus = ctx.bus
    if any(plan.has_writes for plan in plans):
        # Audit before writing: the invoking role must be able to record what it is about to do.
        for topic in (PLANNED, APPLIED, FAILED, WRITE):
            decision = await bus.may_publish(topic, role=ctx.role)
            if not decision.allowed:
                ctx.error(f"heal refused: the Guardian does not let this role publish {topic} "
                          f"({decision.reason}); nothing was written")
                return EXIT_ERROR
    breaker.reset()  # a person looked at the drift and chose to apply the plan
    closed: set[str] = set()
    for heal in interrupted:  # the audit trail gets the writes an interrupted heal made
        published = await publish(bus, FAILED, heal.closing_payload(closed_by="genesis heal --apply"),
                                  role=ctx.role, policy=policy)
        if published.status == "delivered":
            closed.add(heal.heal_id)
        else:
            ctx.error(f"the Guardian blocked {FAILED} for interrupted heal {heal.heal_id}: {published.reason}")
    if not args.json:
        _print_interrupted(ctx, interrupted, closed)
    documents: list[dict[str, object]] = []
    ok = True
    required_failed = False
    for prepared in all_prepared:
        plan = prepared.plan
        assert plan is not None
        if not plan.has_writes:
            documents.append({"plan": plan.to_dict(), "result": None})
            if not args.json:
                _print_plan(ctx, plan, verbose=args.verbose)
                ctx.print("Nothing to write.")
            continue
        heal_id = new_heal_id()
        planned = await publish(bus, PLANNED, planned_payload(plan, heal_id=heal_id, trigger="cli"),
                                role=ctx.role, policy=policy)
        for failure in planned.failures:
            required_failed = ctx.engine_failure(failure, PLANNED) or required_failed
        assert prepared.values is not None
        recorder = write_recorder(bus, plan, prepared.values, heal_id=heal_id, trigger="cli", role=ctx.role,
                                  policy=policy)
        with running(ctx.state_dir, heal_id):  # until the results are published: not "interrupted"
            result = await apply(prepared, os.environ, records=records, on_write=recorder)
            for topic, payload in result_payloads(plan, result, heal_id=heal_id, trigger="cli"):
                published = await publish(bus, topic, payload, role=ctx.role, policy=policy)
                if published.status != "delivered":
                    ctx.error(f"the Guardian blocked {topic}: {published.reason}")
                for failure in published.failures:  # a required engine (Truth) that could not record it
                    required_failed = ctx.engine_failure(failure, topic) or required_failed
        ok = ok and result.ok
        documents.append({"plan": plan.to_dict(), "result": result.to_dict()})
        if not args.json:
            _print_plan(ctx, plan, verbose=args.verbose)
            _print_result(ctx, result)
    if any(plan.has_writes for plan in plans):
        if ok:
            breaker.record_success()
        else:
            breaker.record_failure()
    if args.json:
        ctx.print_json(_json(documents, True, several, interrupted, closed))
    if required_failed:
        return EXIT_ERROR
    return EXIT_OK if ok else EXIT_WORK


# ---------------------------------------------------------------- output

def _quote(text: str | None) -> str:
    return json.dumps(text, ensure_ascii=False) if text is not None else "-"


LISTED_KEYS = 8


def _keys(keys: list[str]) -> str:
    shown = ", ".join(keys[:LISTED_KEYS])
    return shown + (f" and {len(keys) - LISTED_KEYS} more" if len(keys) > LISTED_KEYS else "")


def _shared_effect(target: TargetPlan) -> str | None:
    """Return the effect note every write of ``target`` shares, or ``None``."""
    notes = {write.effect.note if write.effect is not None else None for write in target.writes}
    return notes.pop() if len(notes) == 1 else None


def _effect_mark(write: PlannedWrite, said_above: bool) -> str:
    """Return ``  [effect note]`` for a write whose effect the target line did not already say."""
    if write.effect is None or said_above:
        return ""
    return f"  [{write.effect.note}]"


def _print_notes(ctx: CommandContext, write: PlannedWrite) -> None:
    """Print one line per note of ``write``: ``warning:`` for a secret stored in clear, else ``note:``."""
    from .plan import STORED_IN_CLEAR

    for note in write.notes:
        ctx.print(f"      {'warning' if note.kind == STORED_IN_CLEAR else 'note'}: {note.note}")


def _print_plan(ctx: CommandContext, plan: HealPlan, *, verbose: bool = False) -> None:
    """Print the plan, values as the secret policy shows them; keys left alone grouped by reason."""
    if plan.across_from is not None:
        where = f" across environments, from {plan.across_from}"
    elif plan.environment is not None:
        where = f" for environment {plan.environment}"
    else:
        where = ""
    ctx.print(f"Heal plan{where}: reference {plan.reference}, {len(plan.targets)} target(s)"
              + ("" if plan.overwrite_conflicts else ", conflicts kept (overwrite_conflicts = false)"))
    for target in plan.targets:
        parts = [f"{len(target.creates)} to create", f"{len(target.updates)} to update"]
        if target.cannot_heal:
            parts.append(f"{len(target.cannot_heal)} cannot heal")
        if target.left_alone:
            parts.append(f"{len(target.left_alone)} left alone")
        ctx.print(f"  {target.instance} ({target.kind}): {', '.join(parts)}")
        shared = _shared_effect(target)
        said_above = target.batch and shared is not None
        if target.batch and target.writes:
            ctx.print(f"    one change for all {len(target.writes)} key(s)"
                      + (f": the write {shared}" if shared else ""))
        for write in target.creates:
            ctx.print(f"    + {write.key} = {_quote(write.shown)}" + ("  [secret]" if write.secret else "")
                      + _effect_mark(write, said_above))
            _print_notes(ctx, write)
        for write in target.updates:
            ctx.print(f"    ~ {write.key}: {_quote(write.current)} -> {_quote(write.shown)}"
                      + ("  [secret]" if write.secret else "") + _effect_mark(write, said_above))
            _print_notes(ctx, write)
        for skipped in target.cannot_heal:
            ctx.print(f"    ! {skipped.key}: cannot heal: {skipped.reason}")
        if verbose:
            for skipped in target.left_alone:
                ctx.print(f"    = {skipped.key}: left alone: {skipped.reason}")
            continue
        by_reason: dict[str, list[str]] = {}
        for skipped in target.left_alone:
            by_reason.setdefault(skipped.reason, []).append(skipped.key)
        for reason, keys in by_reason.items():
            ctx.print(f"    = {len(keys)} left alone ({reason}): {_keys(keys)}")


def _print_interrupted(ctx: CommandContext, interrupted: list[InterruptedHeal],
                       closed: set[str] | None = None) -> None:
    """Print what each interrupted heal had already written (names and times, no value);
    ``closed`` holds the heals ``--apply`` recorded as interrupted (``None`` in a dry run)."""
    for heal in interrupted:
        ctx.print(f"Interrupted heal {heal.heal_id} ({heal.trigger}, reference {heal.reference}): "
                  f"already applied before it stopped, never verified or reported by it:")
        for write in heal.writes:
            ctx.print(f"  {write.instance} {write.key} ({write.action}) at {write.at}")
        if closed is None:
            ctx.print("  `genesis heal --apply` records it as autonomy.heal.failed (status interrupted)")
        elif heal.heal_id in closed:
            ctx.print("  recorded as autonomy.heal.failed (status interrupted)")


_MARKS = {"verified": "✓", "unverifiable": "✓", "failed": "✗", "skipped": "-"}


def _print_result(ctx: CommandContext, result: HealResult) -> None:
    """Print one line per key, then the totals."""
    from .apply import UNVERIFIABLE_DETAIL

    ctx.print("Results:")
    for item in result.results:
        if item.status == "verified":
            text = "applied, verified"
        elif item.status == "unverifiable":
            text = item.detail or UNVERIFIABLE_DETAIL
        else:
            text = f"{item.status}: {item.detail}"
        if item.effect and item.ok:
            text += f"; {item.effect}"
        ctx.print(f"  {_MARKS.get(item.status, '?')} {item.instance} {item.key} ({item.action}): {text}")
    counts = result.counts()
    healed = counts["verified"] + counts["unverifiable"]
    ctx.print(f"{healed} of {len(result.results)} key(s) healed"
              f" ({counts['verified']} verified, {counts['unverifiable']} write-only)"
              + (f"; {counts['failed']} failed, {counts['skipped']} skipped" if not result.ok else ""))


def _print_breaker(ctx: CommandContext, state: BreakerState) -> None:
    if state.open:
        import datetime as _dt

        from genesis_core.api import format_time

        until = ""
        if state.until is not None:
            until = " until " + format_time(_dt.datetime.fromtimestamp(state.until, _dt.UTC))
        ctx.print(f"Automatic healing is suspended{until}: {state.message or state.reason}. "
                  "`genesis heal --apply` resets it.")


COMMAND = Command(name="heal",
                  help="plan (and with --apply, write) the changes that make every platform match the "
                       "reference; exit 0 nothing to do, 1 writes planned or failed, 2 error",
                  configure=_configure, run=_run)
