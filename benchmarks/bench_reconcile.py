"""Benchmark ``genesis_core.reconciliation.reconcile`` against a bare dict/set floor.

Data (fixed seed): ``keys`` variable names shared by ``instances`` platforms.
Each instance lacks about 4% of the keys, about 2% of the keys hold a
different value on one instance (a conflict), about 3% of an instance's
values are unreadable (``None``, like GitHub secrets) and about 5% of the
names look secret (``*_TOKEN``, ``*_SECRET``).  Values are shaped like real
configuration (URLs, numbers, flags, short words, and 10% random API tokens),
so the secret policy classifies and fingerprints conflicts as in a real sync.

The *floor* is the simplest correct computation of the same answer with
plain dicts and sets: the keys missing on each instance and the keys whose
readable values differ.  ``reconcile`` does more (scoping, sorting, secret
detection, masking, the report), so the target is to stay within 2x of it at
100k keys x 4 instances.  Throughput is keys x instances ("cells") per second.

The *all-conflict* workload is the worst case: every instance draws each
value from a small set (eight configuration-like values, two of them
secret-looking tokens), so nearly every key disagrees somewhere and the
report holds a conflict, with every instance's shown value, for almost every
key.  Same target: within 2x of the floor at 100k keys x 4 instances.

    python benchmarks/bench_reconcile.py [--quick] [--repeat N]
"""

from __future__ import annotations

import random
import sys
from collections.abc import Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    Table,
    fmt_bytes,
    fmt_rate,
    fmt_ratio,
    fmt_seconds,
    header,
    make_parser,
    peak_memory,
    repeats,
    time_interleaved,
    verdict,
)

from genesis_core.reconciliation import ReconcileOptions, reconcile
from genesis_core.secrets import SecretPolicy

SEED = 20251011
TARGET_RATIO = 2.0
TARGET_CELL = (100_000, 4)
MISSING_RATE = 0.04
CONFLICT_RATE = 0.02
UNREADABLE_RATE = 0.03
SECRET_NAME_RATE = 0.05
NOW = "2025-10-11T22:45:00.000Z"
TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

Snapshots = dict[str, dict[str, str | None]]


def make_value(rng: random.Random, i: int) -> str:
    """Return a value shaped like real configuration: URLs, numbers, flags, words, some tokens."""
    roll = rng.random()
    if roll < 0.35:
        return f"https://svc-{i}.{rng.choice(['eu', 'us', 'ap'])}.example.com/v{rng.randint(1, 3)}"
    if roll < 0.55:
        return str(rng.randint(0, 100_000))
    if roll < 0.65:
        return rng.choice(["true", "false"])
    if roll < 0.90:
        return rng.choice(["eu-west-1", "info", "debug", "production", "utf-8", "postgres", "redis"])
    return "".join(rng.choices(TOKEN_ALPHABET, k=32))  # an API token


def make_snapshots(keys: int, instances: int, seed: int = SEED) -> Snapshots:
    """Return ``{instance: {key: value_or_None}}`` with realistic overlap, conflicts and unreadables."""
    rng = random.Random(seed * 1_000 + instances * 7 + keys)
    names: list[str] = []
    for i in range(keys):
        suffix = "_TOKEN" if rng.random() < SECRET_NAME_RATE / 2 else (
            "_SECRET" if rng.random() < SECRET_NAME_RATE / 2 else "_URL" if i % 3 == 0 else "")
        names.append(f"APP_{['DB', 'API', 'CACHE', 'MAIL', 'AUTH', 'FEATURE'][i % 6]}_{i:06d}{suffix}")
    base = {name: make_value(rng, i) for i, name in enumerate(names)}
    platforms = [f"p{n}" for n in range(instances)]
    snapshots: Snapshots = {}
    for name in platforms:
        snap: dict[str, str | None] = {}
        for key, value in base.items():
            roll = rng.random()
            if roll < MISSING_RATE:
                continue
            if roll < MISSING_RATE + UNREADABLE_RATE:
                snap[key] = None
            else:
                snap[key] = value
        snapshots[name] = snap
    # Conflicts: one instance holds another readable value for CONFLICT_RATE of the keys.
    for key in rng.sample(names, int(keys * CONFLICT_RATE)):
        holder = snapshots[rng.choice(platforms)]
        if holder.get(key) is not None:
            holder[key] = base[key] + "-changed"
    return snapshots


#: The small set the all-conflict workload draws from: flags, levels, regions, and two tokens.
CONFLICT_VALUES = ("true", "false", "info", "debug", "eu-west-1", "us-east-1",
                   "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8", "Zq8xV2mN7pL4kR9sT3wY6uB1cD5fG0hJ")


def make_all_conflict(keys: int, instances: int, seed: int = SEED) -> Snapshots:
    """Return snapshots where nearly every key holds different values (drawn from a small set).

    About 1% of the cells are missing and 1% unreadable, so the report also
    carries missing keys and ``<secret>`` holders; 5% of the names look secret.
    """
    rng = random.Random(seed * 7 + instances * 13 + keys)
    names = [f"APP_{i:06d}" + ("_TOKEN" if rng.random() < SECRET_NAME_RATE else "") for i in range(keys)]
    snapshots: Snapshots = {}
    for n in range(instances):
        snap: dict[str, str | None] = {}
        for name in names:
            roll = rng.random()
            if roll < 0.01:
                continue
            snap[name] = None if roll < 0.02 else rng.choice(CONFLICT_VALUES)
        snapshots[f"p{n}"] = snap
    return snapshots


def floor(snapshots: Mapping[str, Mapping[str, str | None]]) -> tuple[dict[str, set[str]], set[str]]:
    """Return ``({instance: missing keys}, conflicting keys)`` with plain dicts and sets."""
    union: set[str] = set()
    for snap in snapshots.values():
        union.update(snap)
    missing = {name: union.difference(snap) for name, snap in snapshots.items()}
    conflicts = set()
    snaps = list(snapshots.values())
    for key in union:
        seen = None
        for snap in snaps:
            value = snap.get(key)
            if value is None:
                continue
            if seen is None:
                seen = value
            elif value != seen:
                conflicts.add(key)
                break
    return missing, conflicts


def check_same_answer(snapshots: Snapshots, options: ReconcileOptions) -> None:
    """Raise ``AssertionError`` if ``reconcile`` and the floor disagree (the comparison is fair)."""
    report = reconcile(snapshots, options, now=NOW)
    missing, conflicts = floor(snapshots)
    assert {n: set(v) for n, v in report.missing.items()} == missing, "missing sets differ"
    assert set(report.conflicts) == conflicts, "conflict keys differ"


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(__doc__.split("\n\n")[0])
    args = parser.parse_args(argv)
    key_counts = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]
    instance_counts = [2, 4, 8]
    header("bench_reconcile", args, f"seed {SEED}")
    # A fixed policy key, so fingerprints (and their cost) do not depend on the run.
    options = ReconcileOptions(secret_policy=SecretPolicy(fingerprint_key=b"k" * 32))
    table = Table("reconcile vs bare dict/set floor",
                  ["keys", "instances", "conflicts", "reconcile", "cells/s", "peak mem",
                   "floor", "floor cells/s", "floor peak mem", "ratio", "target", "result"],
                  note=(f"cells = keys x instances; times are medians of interleaved runs; the "
                        f"target applies at {TARGET_CELL[0]:,} keys x {TARGET_CELL[1]} instances "
                        f"(marked *); the other rows apply the same ratio for reference."))
    for keys in key_counts:
        repeat = repeats(args, 9, 3)
        for instances in instance_counts:
            snapshots = make_snapshots(keys, instances)
            check_same_answer(snapshots, options)
            cells = keys * instances
            ours, bare = time_interleaved([lambda: reconcile(snapshots, options, now=NOW),
                                           lambda: floor(snapshots)], repeat=repeat)
            report, ours_mem = peak_memory(lambda: reconcile(snapshots, options, now=NOW))
            _, bare_mem = peak_memory(lambda: floor(snapshots))
            ratio = ours.median / bare.median
            official = (keys, instances) == TARGET_CELL
            table.add(f"{keys:,}", f"{instances}{' *' if official else ''}", len(report.conflicts),
                      fmt_seconds(ours.median), fmt_rate(cells / ours.median), fmt_bytes(ours_mem),
                      fmt_seconds(bare.median), fmt_rate(cells / bare.median), fmt_bytes(bare_mem),
                      fmt_ratio(ratio),
                      f"<= {TARGET_RATIO:.1f}x floor{'' if official else ' (reference)'}",
                      verdict(ratio <= TARGET_RATIO))
    table.print()

    worst = Table("all-conflict workload: reconcile vs bare dict/set floor",
                  ["keys", "instances", "conflicts", "distinct values", "reconcile", "cells/s",
                   "floor", "floor cells/s", "ratio", "target", "result"],
                  note=("values drawn from a small set, so nearly every key conflicts; times are "
                        "medians of interleaved runs; the target applies at "
                        f"{TARGET_CELL[0]:,} keys x {TARGET_CELL[1]} instances (marked *)."))
    for keys in ([10_000] if args.quick else [10_000, 100_000]):
        instances = TARGET_CELL[1]
        snapshots = make_all_conflict(keys, instances)
        check_same_answer(snapshots, options)
        cells = keys * instances
        ours, bare = time_interleaved([lambda: reconcile(snapshots, options, now=NOW),
                                       lambda: floor(snapshots)], repeat=repeats(args, 9, 3))
        report = reconcile(snapshots, options, now=NOW)
        distinct = len({v for snap in snapshots.values() for v in snap.values() if v is not None})
        ratio = ours.median / bare.median
        official = (keys, instances) == TARGET_CELL
        worst.add(f"{keys:,}", f"{instances}{' *' if official else ''}", f"{len(report.conflicts):,}",
                  distinct, fmt_seconds(ours.median), fmt_rate(cells / ours.median),
                  fmt_seconds(bare.median), fmt_rate(cells / bare.median), fmt_ratio(ratio),
                  f"<= {TARGET_RATIO:.1f}x floor{'' if official else ' (reference)'}",
                  verdict(ratio <= TARGET_RATIO))
    worst.print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
