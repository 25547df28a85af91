"""The heal plan: what Autonomy would write, computed without any I/O.

For each target instance the plan lists, against the reference instance:

* **create**: keys missing on the target that the reference holds with a readable value;
* **update**: only with ``overwrite_conflicts``: keys whose readable values differ;
* **cannot heal**: keys that should be written but cannot be (unreadable in the
  reference, an adapter without write support, denied by the key rules);
* **left alone**: drift Autonomy does not touch on purpose (keys the reference
  lacks, which are never deleted; conflicts while ``overwrite_conflicts`` is false;
  variables the platform manages itself, such as a Heroku add-on's ``DATABASE_URL``).

A write-only value (a GitHub secret...) takes part through its write record
(``write_only``): one that is stale or was changed outside Genesis is a conflict
like any other; one without a record is written once only when asked (``adopt``),
so that it has a record from then on.

Each planned write carries what writing it does besides storing the value (the
adapter's ``write_effect``: the app restarts, the value is staged until the next
deploy, the service redeploys), and each target says whether its adapter writes all
its keys as one change (``supports_batch_write``: one Heroku release).

A key is written as a secret exactly when ``genesis sync`` would fingerprint it
(:func:`sync_masks` without ``mask_all``: its name, including the project's
``[secrets] patterns``, any readable value in scope, or a platform's mark, which
counts values expanded from a secret). A create takes that kind; an update keeps the
kind the key already has (GitHub cannot turn a variable into a secret of the same
name), and the write carries a :class:`PlanNote` when a key sync calls secret lives
as a plain variable on a platform that keeps secrets apart (``secret_kinds``), or
when it replaces a value built by ``${NAME}`` expansion with a literal.

A :class:`HealPlan` holds values only as the secret policy shows them; the real
reference values travel separately in :class:`ReferenceValues`, whose repr hides them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from genesis_core.api import DriftReport, ReconcileOptions, Scope, built_from_secrets, reconcile

if TYPE_CHECKING:
    from genesis_core.api import Expansion, SecretPolicy, Snapshot, Variable, WriteEffect, WriteOnlyCheck

    from .settings import KeyRules

CREATE, UPDATE = "create", "update"
_NOW = "1970-01-01T00:00:00.000Z"  # reconcile's timestamp is irrelevant here; fixed keeps the plan pure
#: :class:`PlanNote` kinds: a key sync calls secret is a plain variable on a platform that keeps secrets apart.
STORED_IN_CLEAR = "stored_in_clear"
#: The write replaces a value the target built by ``${NAME}`` expansion with a literal.
REPLACES_EXPANSION = "replaces_expansion"


@attrs.frozen
class PlanNote:
    """What a person should know about one planned write besides its value: one line, names only."""

    kind: str
    note: str

    def to_dict(self) -> dict[str, str]:
        """Return ``{"kind", "note"}``."""
        return {"kind": self.kind, "note": self.note}


@attrs.frozen
class PlannedWrite:
    """One key to write on one target. ``shown``/``current`` are masked displays, never raw secrets.

    ``secret`` is the kind to write (see the module docstring); ``effect`` is what the write does
    besides storing the value (restart, staged, redeploy), if anything; ``notes`` what else it does.
    """

    key: str
    action: str
    shown: str
    secret: bool
    current: str | None = None
    effect: WriteEffect | None = None
    notes: tuple[PlanNote, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (masked values; ``effect`` and ``notes`` only when the write has them)."""
        data: dict[str, Any] = {"key": self.key, "value": self.shown, "secret": self.secret}
        if self.action == UPDATE:
            data["current"] = self.current
        if self.effect is not None:
            data["effect"] = {"kind": self.effect.kind, "note": self.effect.note}
        if self.notes:
            data["notes"] = [note.to_dict() for note in self.notes]
        return data


@attrs.frozen
class Skipped:
    """A key the plan does not write, and why (one line, no value); ``managed`` when the platform owns it."""

    key: str
    reason: str
    managed: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"key", "reason"}`` (and ``"managed": true`` for a variable the platform manages)."""
        data: dict[str, Any] = {"key": self.key, "reason": self.reason}
        if self.managed:
            data["managed"] = True
        return data


@attrs.frozen
class TargetPlan:
    """What the plan does on one target instance."""

    instance: str
    kind: str
    writable: bool
    writes: tuple[PlannedWrite, ...] = ()
    cannot_heal: tuple[Skipped, ...] = ()
    left_alone: tuple[Skipped, ...] = ()
    #: The adapter writes all of this target's keys as one change (one request, one release).
    batch: bool = False

    @property
    def creates(self) -> tuple[PlannedWrite, ...]:
        """Return the keys to create."""
        return tuple(w for w in self.writes if w.action == CREATE)

    @property
    def updates(self) -> tuple[PlannedWrite, ...]:
        """Return the keys to update."""
        return tuple(w for w in self.writes if w.action == UPDATE)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (masked values)."""
        return {
            "kind": self.kind,
            "writable": self.writable,
            "batch": self.batch,
            "create": [w.to_dict() for w in self.creates],
            "update": [w.to_dict() for w in self.updates],
            "cannot_heal": [s.to_dict() for s in self.cannot_heal],
            "left_alone": [s.to_dict() for s in self.left_alone],
        }

    def summary(self) -> dict[str, Any]:
        """Return the plan for this target without any value (for events)."""
        return {
            "create": [w.key for w in self.creates],
            "update": [w.key for w in self.updates],
            "cannot_heal": [s.to_dict() for s in self.cannot_heal],
            "left_alone": [s.to_dict() for s in self.left_alone],
        }


@attrs.frozen
class HealPlan:
    """The whole plan: one :class:`TargetPlan` per target, in order."""

    reference: str
    overwrite_conflicts: bool
    targets: tuple[TargetPlan, ...]
    #: The environment healed from its own reference (``[environments.NAME]``), if any.
    environment: str | None = None
    #: An across-environments plan (``genesis heal --across``): the environment its values come from.
    across_from: str | None = None

    def environment_fields(self) -> dict[str, Any]:
        """Return ``environment`` and ``across_from`` when set (nothing without environments)."""
        where: dict[str, Any] = {}
        if self.environment is not None:
            where["environment"] = self.environment
        if self.across_from is not None:
            where["across_from"] = self.across_from
        return where

    @property
    def write_count(self) -> int:
        """Return how many keys the plan writes."""
        return sum(len(t.writes) for t in self.targets)

    @property
    def has_writes(self) -> bool:
        """Return whether applying the plan would write anything."""
        return self.write_count > 0

    def writes(self) -> Iterator[tuple[str, PlannedWrite]]:
        """Yield ``(instance, write)`` in plan order."""
        for target in self.targets:
            for write in target.writes:
                yield target.instance, write

    def counts(self) -> dict[str, int]:
        """Return the number of creates, updates, cannot-heal and left-alone entries."""
        return {
            "create": sum(len(t.creates) for t in self.targets),
            "update": sum(len(t.updates) for t in self.targets),
            "cannot_heal": sum(len(t.cannot_heal) for t in self.targets),
            "left_alone": sum(len(t.left_alone) for t in self.targets),
            "writes": self.write_count,
        }

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form; values appear only as the secret policy shows them."""
        return {**self.environment_fields(), "reference": self.reference,
                "overwrite_conflicts": self.overwrite_conflicts,
                "targets": {t.instance: t.to_dict() for t in self.targets}, "summary": self.counts()}

    def summary(self) -> dict[str, Any]:
        """Return the plan without any value, not even masked (the event payload)."""
        return {**self.environment_fields(), "reference": self.reference,
                "overwrite_conflicts": self.overwrite_conflicts,
                "targets": {t.instance: t.summary() for t in self.targets}, "counts": self.counts()}


class ReferenceValues:
    """The reference's real values for the planned keys; its repr never shows them."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)

    def __getitem__(self, key: str) -> str:
        return self._values[key]

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"<ReferenceValues: {len(self._values)} value(s) hidden>"

    __str__ = __repr__


def reference_values(plan: HealPlan, reference: Snapshot) -> ReferenceValues:
    """Return the reference values the plan's writes need."""
    needed = {write.key for _instance, write in plan.writes()}
    values: dict[str, str] = {}
    for key in needed:
        value = reference.variables[key].value
        if value is None:  # the plan never writes an unreadable value
            raise ValueError(f"{key} is unreadable in the reference")
        values[key] = value
    return ReferenceValues(values)


def sync_masks(snapshots: Mapping[str, Snapshot], options: ReconcileOptions,
               policy: SecretPolicy) -> Callable[[str], bool]:
    """Return ``key -> bool``: whether ``genesis sync`` fingerprints every value of ``key``.

    Sync's rule (``reconcile``; docs/secrets.md): a key is secret for all instances at once when
    its name, any readable value held in scope or any platform's mark on a readable value makes it
    so, decided by :meth:`SecretPolicy.any_secret` over those values, as the write-only check does.
    """
    in_scope = Scope(options).allows
    marks = options.platform_secret_keys

    def masked(key: str) -> bool:
        readable: set[str] = set()
        marked = False
        for name, snapshot in snapshots.items():
            variable = snapshot.variables.get(key)
            if variable is None or variable.value is None or not in_scope(name, key):
                continue
            readable.add(variable.value)
            marked = marked or key in marks.get(name, ())
        return bool(readable) and policy.any_secret(key, readable, platform_marked=marked)

    return masked


def write_policy(policy: SecretPolicy) -> SecretPolicy:
    """Return ``policy`` without ``mask_all``: masking everything on screen must not make every write secret."""
    return attrs.evolve(policy, mask_all=False) if policy.mask_all else policy


def with_marks(options: ReconcileOptions, snapshots: Mapping[str, Snapshot],
               policy: SecretPolicy, *, keep_given: bool = True) -> ReconcileOptions:
    """Return ``options`` whose platform marks hold, for every snapshot, the keys the platform marks
    and those expanded from a name ``policy`` calls secret (the project's patterns included), as
    ``reconcile_options`` makes them; ``keep_given`` keeps the marks ``options`` already had."""
    given = options.platform_secret_keys if keep_given else {}
    marks = {name: frozenset(given.get(name, frozenset())) | snapshot.secret_keys()
             | built_from_secrets(snapshot, policy) for name, snapshot in snapshots.items()}
    return attrs.evolve(options, platform_secret_keys=marks)


def make_plan(snapshots: Mapping[str, Snapshot], *, reference: str, targets: Sequence[str],
              policy: SecretPolicy, writable: Mapping[str, bool],
              options: ReconcileOptions | None = None, report: DriftReport | None = None,
              overwrite_conflicts: bool = False,
              rules: Mapping[str, KeyRules] | None = None,
              effects: Mapping[str, Callable[[str], WriteEffect | None]] | None = None,
              batch: Mapping[str, bool] | None = None,
              write_only: Mapping[str, Mapping[str, WriteOnlyCheck]] | None = None,
              adopt: bool = False, secret_kinds: Mapping[str, bool] | None = None) -> HealPlan:
    """Return the plan that heals ``targets`` from ``reference``.

    ``snapshots`` must hold the reference and every target; ``writable`` says
    which targets' adapters can write (missing means no); ``options`` scope
    keys as ``genesis sync`` does; ``report`` is the reconciliation of all
    instances (recomputed when ``None``); ``rules`` are per-target key rules;
    ``effects`` gives each target's ``write_effect(key)`` and ``batch`` says
    which targets write all their keys as one change. A variable the target
    platform manages (``Variable.managed``) is left alone with its reason.
    ``write_only`` holds each target's write-record checks by key: stale and
    changed values are conflicts; with ``adopt`` a value without a record is
    written once (so it gets one). ``secret_kinds`` says which targets keep
    secrets apart from plain variables (``PlatformAdapter.has_secret_kind``).
    Raises ``KeyError`` when a snapshot is missing.
    """
    options = options or ReconcileOptions(secret_policy=policy)
    if options.secret_policy is None:
        options = attrs.evolve(options, secret_policy=policy)
    ref_snapshot = snapshots[reference]
    for name in targets:
        if name == reference:
            raise ValueError(f"{name} is the reference; it cannot be a target")
        snapshots[name]
    options = with_marks(options, snapshots, policy)
    if report is None:
        report = reconcile({n: s.values() for n, s in snapshots.items()}, options, now=_NOW)
    writing = write_policy(policy)
    # mask_all marks every expanded value: the kind written is decided without it, from the platforms' own marks
    write_options = with_marks(options, snapshots, writing, keep_given=not policy.mask_all)
    masked = sync_masks(snapshots, options, policy)
    secret_to_write = sync_masks(snapshots, write_options, writing)
    plans = [
        _plan_target(name, ref_snapshot, snapshots[name], report, options, policy, masked, secret_to_write,
                     writable=bool(writable.get(name, False)), overwrite=overwrite_conflicts,
                     rules=(rules or {}).get(name), effect_of=(effects or {}).get(name),
                     batch=bool((batch or {}).get(name, False)), write_only=(write_only or {}).get(name, {}),
                     adopt=adopt, secret_kind=bool((secret_kinds or {}).get(name, False)))
        for name in targets
    ]
    return HealPlan(reference, overwrite_conflicts, tuple(plans))


def _expansion_note(instance: str, key: str, expansion: Expansion) -> PlanNote:
    """Return the note for a write that replaces ``instance``'s expanded value of ``key`` with a literal."""
    names = [f"${{{name}}}" for name in expansion.keys]
    names += [f"${{{name}}} from the environment" for name in expansion.environment]
    if expansion.unset:
        names.append("1 reference set nowhere" if expansion.unset == 1 else f"{expansion.unset} references set nowhere")
    refs = f" ({', '.join(names)})" if names else ""
    return PlanNote(REPLACES_EXPANSION, f"{instance} {key}: replaces an expanded value{refs} with a literal")


def _clear_note(instance: str, key: str) -> PlanNote:
    """Return the warning for a key sync calls secret that stays a plain variable on ``instance``."""
    return PlanNote(STORED_IN_CLEAR, f"{instance} {key}: secret by the sync rule, but a plain variable here: its "
                                     "value is readable in clear (heal keeps a variable's kind)")


def _plan_target(name: str, ref: Snapshot, target: Snapshot, report: DriftReport,
                 options: ReconcileOptions, policy: SecretPolicy,
                 masked: Callable[[str], bool], secret_to_write: Callable[[str], bool], *,
                 writable: bool, overwrite: bool, rules: KeyRules | None,
                 effect_of: Callable[[str], WriteEffect | None] | None = None, batch: bool = False,
                 write_only: Mapping[str, WriteOnlyCheck] | None = None, adopt: bool = False,
                 secret_kind: bool = False) -> TargetPlan:
    """Return the plan for one target."""
    reference = ref.platform
    pair = reconcile({reference: ref.values(), name: target.values()}, options, now=_NOW)
    writes: list[PlannedWrite] = []
    cannot: list[Skipped] = []
    left: list[Skipped] = []

    def refusal(key: str, ref_readable: bool) -> str | None:
        denied = rules.refusal(key) if rules is not None else None
        if denied is not None:
            return denied
        if not ref_readable:
            return f"unreadable in the reference ({reference}): the platform does not return its value"
        if not writable:
            return f"the {target.kind} adapter cannot write variables"
        return None

    def effect(key: str) -> WriteEffect | None:
        return effect_of(key) if effect_of is not None else None

    def show(key: str, value: str | None, marked: bool) -> str:
        """Return ``value`` as sync shows it (a fingerprint also where a platform marks this write)."""
        return policy.show(key, value, platform_marked=marked or masked(key))

    def update_notes(key: str, ref_var: Variable, held: Variable) -> tuple[PlanNote, ...]:
        """Return what updating ``held`` does besides changing its value (its kind stays as it is)."""
        notes = []
        if held.expansion is not None:
            notes.append(_expansion_note(name, key, held.expansion))
        if secret_kind and not held.secret and (ref_var.secret or secret_to_write(key)):
            notes.append(_clear_note(name, key))
        return tuple(notes)

    for key in pair.missing.get(name, ()):
        ref_var = ref.variables[key]
        why = refusal(key, ref_var.readable)
        if why is not None:
            cannot.append(Skipped(key, why))
            continue
        assert ref_var.value is not None
        writes.append(PlannedWrite(key, CREATE, show(key, ref_var.value, ref_var.secret),
                                   ref_var.secret or secret_to_write(key), effect=effect(key)))

    for key in sorted(pair.conflicts):
        ref_var, target_var = ref.variables[key], target.variables[key]
        if target_var.managed is not None:
            left.append(Skipped(key, target_var.managed, managed=True))
            continue
        if not overwrite:
            left.append(Skipped(key, "conflicting value kept (overwrite_conflicts = false)"))
            continue
        why = refusal(key, ref_var.readable)
        if why is not None:
            cannot.append(Skipped(key, why))
            continue
        assert ref_var.value is not None
        marked = ref_var.secret or target_var.secret
        writes.append(PlannedWrite(
            key, UPDATE, show(key, ref_var.value, marked), target_var.secret,
            current=show(key, target_var.value, marked), effect=effect(key),
            notes=update_notes(key, ref_var, target_var)))

    for key in pair.missing.get(reference, ()):
        left.append(Skipped(key, f"extra in {name}, not in the reference ({reference}); never deleted"))

    handled = set(pair.missing.get(name, ())) | set(pair.conflicts)
    for key in report.missing.get(name, ()):
        if key not in handled:
            left.append(Skipped(key, f"missing here, but the reference ({reference}) does not hold it "
                                     "in scope: nothing to copy"))
    for key, holders in sorted(report.conflicts.items()):
        if key in handled or name not in holders or target.variables.get(key) is None \
                or not target.variables[key].readable:
            continue
        held = ref.variables.get(key)
        if held is None or reference not in holders:
            left.append(Skipped(key, f"values differ between other instances; the reference ({reference}) "
                                     "does not hold it"))
        elif not held.readable:
            entry = Skipped(key, f"values differ between instances and the reference ({reference}) "
                                 "value is unreadable")
            (cannot if overwrite else left).append(entry)
    in_scope = Scope(options).allows
    for key, check in sorted((write_only or {}).items()):
        ref_held = ref.variables.get(key)
        if key in handled or ref_held is None or not ref_held.readable or key not in target.variables \
                or not in_scope(reference, key):
            continue
        target_held = target.variables[key]
        if check.drift:
            what = "stale" if check.status == "stale" else "changed outside Genesis"
            if target_held.managed is not None:
                left.append(Skipped(key, target_held.managed, managed=True))
                continue
            if not overwrite:
                left.append(Skipped(key, f"write-only value {what}, kept (overwrite_conflicts = false)"))
                continue
        elif not (adopt and check.adoptable):
            continue
        why = refusal(key, True)
        if why is not None:
            cannot.append(Skipped(key, why))
            continue
        assert ref_held.value is not None
        marked = ref_held.secret or target_held.secret
        writes.append(PlannedWrite(
            key, UPDATE, show(key, ref_held.value, marked), target_held.secret, current=check.mark,
            effect=effect(key), notes=update_notes(key, ref_held, target_held)))
    writes.sort(key=lambda w: (w.action != CREATE, w.key))
    return TargetPlan(name, target.kind, writable, tuple(writes),
                      tuple(sorted(cannot, key=lambda s: s.key)), tuple(sorted(left, key=lambda s: s.key)),
                      batch=batch and writable)
