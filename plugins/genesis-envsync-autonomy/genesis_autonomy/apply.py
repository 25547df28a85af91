"""Write a heal plan, then re-read the touched instances and verify each key.

Each write goes through the adapter's own ``write`` (Render per-key PUT,
Netlify one-context PATCH/POST, GitHub sealed-box secret or variable, the
dotenv file line), one key at a time.  After the first failed write on an
instance the remaining keys of that instance are skipped, so a platform in
trouble is not hammered (unless the error says it concerns only that key,
``only_this_key``, as the dotenv writer's refusal of a value does); other
instances still get their writes.  An adapter that writes a batch as one change
(``supports_batch_write``: one Heroku release) gets all of its instance's keys
in one ``write_batch`` call instead, all or nothing.  Each written key's result
carries the write's effect (restart, staged, redeploy).  No message ever
carries a value.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
from genesis_core.errors import PlatformError
from genesis_core.platforms.model import FetchContext, PlatformAdapter, VariableWrite

from .plan import HealPlan, PlannedWrite, ReferenceValues

if TYPE_CHECKING:
    import httpx

VERIFIED = "verified"
UNVERIFIABLE = "unverifiable"
FAILED = "failed"
SKIPPED = "skipped"
OK_STATUSES = frozenset({VERIFIED, UNVERIFIABLE})
UNVERIFIABLE_DETAIL = "applied, unverifiable (write-only)"
_MAX_DETAIL = 300


@attrs.frozen
class KeyResult:
    """How healing one key on one instance went (``detail`` is one line without any value)."""

    instance: str
    key: str
    action: str
    status: str
    detail: str = ""
    written: bool = False
    #: What the write does besides storing the value (``WriteEffect.note``), for written keys.
    effect: str = ""

    @property
    def ok(self) -> bool:
        """Return whether the key is healed (verified, or written where it cannot be read back)."""
        return self.status in OK_STATUSES

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        data: dict[str, Any] = {"instance": self.instance, "key": self.key, "action": self.action,
                                "status": self.status, "detail": self.detail, "written": self.written}
        if self.effect:
            data["effect"] = self.effect
        return data


@attrs.frozen
class HealResult:
    """Every key's outcome, in plan order."""

    results: tuple[KeyResult, ...]

    @property
    def ok(self) -> bool:
        """Return whether every key is healed."""
        return all(r.ok for r in self.results)

    @property
    def succeeded(self) -> tuple[KeyResult, ...]:
        """Return the healed keys."""
        return tuple(r for r in self.results if r.ok)

    @property
    def failed(self) -> tuple[KeyResult, ...]:
        """Return the keys that are not healed (failed or skipped)."""
        return tuple(r for r in self.results if not r.ok)

    def counts(self) -> dict[str, int]:
        """Return ``{status: number of keys}`` for every status."""
        counts = {status: 0 for status in (VERIFIED, UNVERIFIABLE, FAILED, SKIPPED)}
        for result in self.results:
            counts[result.status] = counts.get(result.status, 0) + 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {"ok": self.ok, "counts": self.counts(), "results": [r.to_dict() for r in self.results]}


def one_line(text: str, *, hide: str | None = None) -> str:
    """Return ``text`` on one line, at most 300 characters, with ``hide`` (a value) cut out."""
    if hide and len(hide) >= 3 and hide in text:
        text = text.replace(hide, "<secret>")
    text = " ".join(text.split())
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"


def describe_failure(exc: BaseException, *, hide: str | None = None) -> str:
    """Return why a write failed: the platform's reason, or the exception type for anything else."""
    if isinstance(exc, PlatformError):
        return one_line(exc.reason, hide=hide)
    return f"unexpected {type(exc).__name__} in the adapter (run with GENESIS_DEBUG=1 for details)"


def _failure_detail(exc: BaseException, values: list[str]) -> str:
    """Return why a batch failed, with every value of the batch cut out."""
    text = exc.reason if isinstance(exc, PlatformError) else describe_failure(exc)
    for value in values:
        text = one_line(text, hide=value)
    return one_line(text)


async def write_as_one_change(instance: str, adapter: PlatformAdapter, writes: tuple[PlannedWrite, ...],
                              values: ReferenceValues, ctx: FetchContext) -> list[KeyResult]:
    """Write all of ``instance``'s planned keys with one ``adapter.write_batch``; all written, or all failed."""
    batch = [VariableWrite(write.key, values[write.key], write.secret) for write in writes]
    try:
        await adapter.write_batch(ctx, batch)
    except Exception as exc:  # reported per key; no value reaches the message
        if os.environ.get("GENESIS_DEBUG") and not isinstance(exc, PlatformError):
            raise
        detail = _failure_detail(exc, [item.value for item in batch])
        note = f"one change for all {len(writes)} key(s) of {instance}, none written"
        return [KeyResult(instance, write.key, write.action, FAILED, one_line(f"{detail} ({note})"))
                for write in writes]
    return [KeyResult(instance, write.key, write.action, VERIFIED, "", written=True) for write in writes]


async def write_plan(plan: HealPlan, values: ReferenceValues, adapters: Mapping[str, PlatformAdapter],
                     ctx: FetchContext) -> list[KeyResult]:
    """Write every planned key; return one result per key (``failed``/``skipped`` or written).

    A target whose adapter writes a batch as one change gets one ``write_batch`` call;
    every other target is written one key at a time.
    """
    results: list[KeyResult] = []
    for target in plan.targets:
        adapter = adapters[target.instance]
        if target.writes and target.batch and adapter.supports_batch_write:
            results.extend(await write_as_one_change(target.instance, adapter, target.writes, values, ctx))
            continue
        broken: str | None = None
        for write in target.writes:
            if broken is not None:
                results.append(KeyResult(target.instance, write.key, write.action, SKIPPED,
                                         f"not attempted: an earlier write to {target.instance} failed"
                                         f" ({broken})"))
                continue
            value = values[write.key]
            try:
                await adapter.write(ctx, write.key, value, secret=write.secret)
            except Exception as exc:  # reported per key; the value never reaches the message
                if os.environ.get("GENESIS_DEBUG") and not isinstance(exc, PlatformError):
                    raise
                detail = describe_failure(exc, hide=value)
                results.append(KeyResult(target.instance, write.key, write.action, FAILED, detail))
                # A value the platform refuses (the dotenv writer's "no quoting reads back the same") says
                # nothing about the platform's health: the instance's other keys are still written.
                if not getattr(exc, "only_this_key", False):
                    broken = write.key
                continue
            results.append(KeyResult(target.instance, write.key, write.action, VERIFIED, "", written=True))
    return results


async def apply_plan(plan: HealPlan, values: ReferenceValues, adapters: Mapping[str, PlatformAdapter],
                     env: Mapping[str, str], *,
                     http_factory: Callable[[], httpx.AsyncClient] | None = None) -> HealResult:
    """Write the plan, re-fetch the instances written to, and return each key's verified outcome."""
    from genesis_core.sync import fetch_all

    ctx = FetchContext(env=env, http_factory=http_factory)
    try:
        written = with_effects(plan, await write_plan(plan, values, adapters, ctx))
    finally:
        await ctx.aclose()
    touched = list(dict.fromkeys(r.instance for r in written if r.written))
    if not touched:
        return HealResult(tuple(written))
    fetched = await fetch_all([adapters[name] for name in touched], env, http_factory=http_factory)
    return HealResult(tuple(_verify(result, fetched, values) for result in written))


def with_effects(plan: HealPlan, results: list[KeyResult]) -> list[KeyResult]:
    """Return ``results`` with each written key's effect note from the plan (restart, staged, redeploy)."""
    notes = {(target.instance, write.key): write.effect.note
             for target in plan.targets for write in target.writes if write.effect is not None}
    return [attrs.evolve(result, effect=notes.get((result.instance, result.key), "")) if result.written else result
            for result in results]


def _verify(result: KeyResult, fetched: Any, values: ReferenceValues) -> KeyResult:
    """Return ``result`` after comparing the re-fetched value with the reference value."""
    if not result.written:
        return result
    status = fetched.statuses[result.instance]
    if not status.ok:
        return attrs.evolve(result, status=FAILED,
                            detail=one_line(f"written, but re-reading {result.instance} failed: {status.error}",
                                            hide=values[result.key]))
    variable = fetched.snapshots[result.instance].variables.get(result.key)
    if variable is None:
        return attrs.evolve(result, status=FAILED,
                            detail=f"written, but {result.key} is not on {result.instance} when read back")
    if variable.value is None:
        return attrs.evolve(result, status=UNVERIFIABLE, detail=UNVERIFIABLE_DETAIL)
    if variable.value != values[result.key]:
        return attrs.evolve(result, status=FAILED,
                            detail="written, but the value read back differs from the reference")
    return attrs.evolve(result, status=VERIFIED, detail="")
