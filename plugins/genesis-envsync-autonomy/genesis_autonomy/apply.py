"""Write a heal plan, then re-read the touched instances and verify each key.

Every target instance is written concurrently with the others, except that
instances sharing a ``PlatformAdapter.write_scope()`` (one ``.env`` file) go one
after the other; within one instance the writes go one at a time, in plan
order, so a platform's rate limit sees one caller.  Each write goes through the adapter's own ``write`` (Render
per-key PUT, Netlify one-context PATCH/POST, GitHub sealed-box secret or
variable, the dotenv file line).  After the first failed write on an instance
the remaining keys of that instance are skipped, so a platform in trouble is
not hammered (unless the error is a ``KeyRefused``: it concerns only that key,
as the dotenv writer's refusal of a value does); the other
instances still get all their writes, and nothing already written anywhere is
undone.  An adapter that writes a batch as one change (``supports_batch_write``:
one Heroku release) gets all of its instance's keys in one ``write_batch`` call
instead, all or nothing.  The results come back in plan order whatever order
the platforms answered in; each written key's result carries the write's effect
(restart, staged, redeploy).  No message ever carries a value.

A value that cannot be read back after the write (a GitHub secret, a Vercel
sensitive variable, a Fly secret) gets a write record (``genesis_core.writerecords``):
its keyed fingerprint and the platform's change stamp as re-read, committed before
the results are returned, so later syncs can tell it is still what Genesis wrote.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from genesis_core.api import (
    FetchContext,
    GenesisError,
    KeyRefused,
    PlatformAdapter,
    PlatformError,
    VariableWrite,
)

from .plan import HealPlan, PlannedWrite, ReferenceValues

if TYPE_CHECKING:
    import httpx

    from genesis_core.api import SecretPolicy, WriteRecords

VERIFIED = "verified"
UNVERIFIABLE = "unverifiable"
FAILED = "failed"
SKIPPED = "skipped"
OK_STATUSES = frozenset({VERIFIED, UNVERIFIABLE})
UNVERIFIABLE_DETAIL = "applied, unverifiable (write-only)"
RECORDED_DETAIL = "applied, write-only: recorded, later syncs verify it"
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
    #: A write-only value whose write record was kept (its fingerprint and the platform's change stamp).
    recorded: bool = False

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
        if self.recorded:
            data["recorded"] = True
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
        counts = dict.fromkeys((VERIFIED, UNVERIFIABLE, FAILED, SKIPPED), 0)
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


#: Called with each confirmed write (a ``KeyResult`` with ``written=True``) as it happens, before
#: the next write to that instance; if it raises, that instance gets no further writes.
WriteRecorder = Callable[[KeyResult], Awaitable[None]]


@attrs.frozen
class InstanceWrites:
    """The planned writes of one target instance, in plan order, and the adapter that makes them."""

    instance: str
    adapter: PlatformAdapter
    writes: tuple[PlannedWrite, ...]
    #: The plan asks for all of the instance's keys in one change (``TargetPlan.batch``).
    batch: bool = False


class Outcomes:
    """Collects what happened to each planned write of one instance; results come out in plan order.

    An instance writer calls :meth:`written` once the platform confirmed a write,
    :meth:`failed` (or :meth:`refused`, with the reason already worded) when it
    refused one and :meth:`skip` for a write it does not attempt.  Once a write
    failed (or recording one did), :attr:`stopped` says why and the writer
    attempts nothing more on this instance.  A write the writer never reported
    comes out as ``failed``: nothing is assumed written.
    """

    def __init__(self, job: InstanceWrites, values: ReferenceValues, on_write: WriteRecorder | None) -> None:
        self.job = job
        self._values = values
        self._on_write = on_write
        self._results: dict[str, KeyResult] = {}
        self.stopped: str | None = None

    def value(self, write: PlannedWrite) -> str:
        """Return the reference value to write for ``write``."""
        return self._values[write.key]

    async def written(self, write: PlannedWrite) -> None:
        """Record a confirmed write (with its effect) and pass it to the write recorder."""
        effect = write.effect.note if write.effect is not None else ""
        result = KeyResult(self.job.instance, write.key, write.action, VERIFIED, "", written=True, effect=effect)
        self._results[write.key] = result
        if self._on_write is None:
            return
        try:
            await self._on_write(result)
        except Exception as exc:  # the write stands; writing on without a record does not
            if os.environ.get("GENESIS_DEBUG"):
                raise
            self.stopped = self.stopped or (f"recording the write of {write.key} to {self.job.instance} "
                                            f"failed ({type(exc).__name__})")

    def failed(self, write: PlannedWrite, exc: BaseException) -> None:
        """Record a write the platform refused (the reason without the value); stop this instance.

        A ``KeyRefused`` (the platform refused only this key, e.g. its value) says
        nothing about the platform's health and stops nothing.
        """
        if os.environ.get("GENESIS_DEBUG") and not isinstance(exc, PlatformError):
            raise exc
        self.refused(write, describe_failure(exc, hide=self.value(write)))
        if not isinstance(exc, KeyRefused):
            self.stopped = self.stopped or f"an earlier write to {self.job.instance} failed ({write.key})"

    def refused(self, write: PlannedWrite, detail: str) -> None:
        """Record a write that failed, with ``detail`` (one line, no value) as the reason."""
        self._results[write.key] = KeyResult(self.job.instance, write.key, write.action, FAILED, detail)

    def skip(self, write: PlannedWrite) -> None:
        """Record a write that is not attempted because of :attr:`stopped`."""
        self._results[write.key] = KeyResult(self.job.instance, write.key, write.action, SKIPPED,
                                             f"not attempted: {self.stopped or 'no reason given'}")

    def results(self) -> list[KeyResult]:
        """Return one result per planned write, in plan order."""
        return [self._results.get(write.key) or KeyResult(
                    self.job.instance, write.key, write.action, FAILED,
                    "no outcome reported by the instance writer; not assumed written")
                for write in self.job.writes]


#: Writes one instance's planned writes, reporting each outcome to ``Outcomes``.
InstanceWriter = Callable[[InstanceWrites, FetchContext, Outcomes], Awaitable[None]]


async def write_one_by_one(job: InstanceWrites, ctx: FetchContext, outcomes: Outcomes) -> None:
    """Write ``job``'s keys one at a time through ``adapter.write``; stop at the first failure."""
    for write in job.writes:
        if outcomes.stopped is not None:
            outcomes.skip(write)
            continue
        try:
            await job.adapter.write(ctx, write.key, outcomes.value(write), secret=write.secret)
        except Exception as exc:  # reported per key; the value never reaches the message
            outcomes.failed(write, exc)
            continue
        await outcomes.written(write)


async def write_as_one_change(job: InstanceWrites, ctx: FetchContext, outcomes: Outcomes) -> None:
    """Write all of ``job``'s planned keys with one ``adapter.write_batch``; all written, or all failed."""
    batch = [VariableWrite(write.key, outcomes.value(write), write.secret) for write in job.writes]
    try:
        await job.adapter.write_batch(ctx, batch)
    except Exception as exc:  # reported per key; no value reaches the message
        if os.environ.get("GENESIS_DEBUG") and not isinstance(exc, PlatformError):
            raise
        detail = _failure_detail(exc, [item.value for item in batch])
        note = f"one change for all {len(job.writes)} key(s) of {job.instance}, none written"
        for write in job.writes:
            outcomes.refused(write, one_line(f"{detail} ({note})"))
        return
    for write in job.writes:
        await outcomes.written(write)


def instance_writer(job: InstanceWrites) -> InstanceWriter:
    """Return how to write ``job``: in one change when the plan and the adapter say so, else key by key."""
    if job.batch and job.adapter.supports_batch_write:
        return write_as_one_change
    return write_one_by_one


async def write_plan(plan: HealPlan, values: ReferenceValues, adapters: Mapping[str, PlatformAdapter],
                     ctx: FetchContext, *, on_write: WriteRecorder | None = None) -> list[KeyResult]:
    """Write every target instance concurrently, each one's keys one at a time (or in one change for a
    batch-writing adapter); return one result per planned key, in plan order.

    Instances whose adapters share a ``write_scope()`` (two dotenv instances writing one file)
    are written one after the other. A failure on one instance never stops, delays or undoes
    another's writes.
    ``on_write`` is called with each confirmed write as it happens.
    """
    jobs = [InstanceWrites(t.instance, adapters[t.instance], t.writes, t.batch) for t in plan.targets if t.writes]
    outcomes = {id(job): Outcomes(job, values, on_write) for job in jobs}
    chains: dict[str, list[InstanceWrites]] = {}  # jobs of one write scope (a shared file) run one after another
    for job in jobs:
        chains.setdefault(job.adapter.write_scope(), []).append(job)

    async def run_chain(chain: Sequence[InstanceWrites]) -> None:
        for job in chain:
            await instance_writer(job)(job, ctx, outcomes[id(job)])

    done = await asyncio.gather(*(run_chain(chain) for chain in chains.values()), return_exceptions=True)
    for error in done:  # only with GENESIS_DEBUG, or a cancellation: after every chain has finished
        if isinstance(error, BaseException):
            raise error
    return [result for job in jobs for result in outcomes[id(job)].results()]


async def apply_plan(plan: HealPlan, values: ReferenceValues, adapters: Mapping[str, PlatformAdapter],
                     env: Mapping[str, str], *,
                     http_factory: Callable[[], httpx.AsyncClient] | None = None,
                     on_write: WriteRecorder | None = None,
                     records: WriteRecords | None = None, policy: SecretPolicy | None = None) -> HealResult:
    """Write the plan, re-fetch the instances written to (concurrently), and return each key's verified outcome.

    ``on_write`` is called with each confirmed write as it happens (see :func:`write_plan`). With
    ``records`` and ``policy``, every written value that reads back as unreadable is recorded (see
    the module docstring) before this returns.
    """
    from genesis_core.api import fetch_all

    ctx = FetchContext(env=env, http_factory=http_factory)
    try:
        written = with_effects(plan, await write_plan(plan, values, adapters, ctx, on_write=on_write))
    finally:
        await ctx.aclose()
    touched = list(dict.fromkeys(r.instance for r in written if r.written))
    if not touched:
        return HealResult(tuple(written))
    fetched = await fetch_all([adapters[name] for name in touched], env, http_factory=http_factory)
    verified = [_verify(result, fetched, values) for result in written]
    if records is not None and policy is not None:
        verified = record_write_only(verified, fetched, values, adapters, records, policy)
    return HealResult(tuple(verified))


def record_write_only(results: list[KeyResult], fetched: Any, values: ReferenceValues,
                      adapters: Mapping[str, PlatformAdapter], records: WriteRecords,
                      policy: SecretPolicy) -> list[KeyResult]:
    """Keep a write record for every written value that reads back unreadable; return the results marked.

    Called after the platform confirmed the write and the instance was re-read, before
    anything is reported: a crash in between leaves a value without a record, never a
    record without a value.
    """
    from genesis_core.api import WriteRecord, utc_now

    now = utc_now()
    kept: list[WriteRecord] = []
    marked: list[KeyResult] = []
    for result in results:
        if result.status != UNVERIFIABLE:
            marked.append(result)
            continue
        variable = fetched.snapshots[result.instance].variables[result.key]
        kept.append(WriteRecord(result.instance, result.key, adapters[result.instance].describe(),
                                policy.record_fingerprint(values[result.key]), policy.key_id, variable.stamp, now))
        # Without a change stamp the record still tells a later sync when the value is stale.
        detail = RECORDED_DETAIL if variable.stamp is not None else result.detail
        marked.append(attrs.evolve(result, recorded=True, detail=detail))
    try:
        records.record_many(kept)
    except GenesisError as exc:  # the writes stand and are reported; only their records are missing
        note = one_line(f"applied, write-only; no write record kept: {exc}")
        return [attrs.evolve(r, recorded=False, detail=note) if r.recorded else r for r in marked]
    return marked


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
