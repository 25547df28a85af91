"""Benchmark the Truth ledger: append/s, full verify/s and inclusion-proof time by size.

One ledger is built in a temporary directory with ``append_many`` (batches of
10,000, with fsync, as the engine writes) and grown through the sizes, so the
1M ledger is built once: at each size the script measures

* ``prove(seq)`` of random entries (median) and the stored nodes one audit
  path reads (counted): both must grow with log2(n), not with n; the audit
  path alone (``merkle.inclusion_path`` over the node index) is timed too, for
  random leaves and for leaves next to each other, and shown: at 0.1-0.2 ms it
  varies from run to run more than the growth it would judge;
* a full ``verify()`` (every signature, the Merkle root, the checkpoint);
* single ``append`` (two fsyncs each) and ``append_many`` of 1,000 on top of it.

Events are envsync-like payloads with increasing ``_genesis_seq`` and a fixed
signing key (seeded), so runs are reproducible.

    python benchmarks/bench_ledger.py [--quick] [--sizes 10000,100000,1000000] [--repeat N]
                                      [--keep DIR]
"""

from __future__ import annotations

import math
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    Table,
    Timing,
    fmt_bytes,
    fmt_rate,
    fmt_seconds,
    header,
    make_parser,
    max_rss_bytes,
    repeats,
    verdict,
)

from genesis_truth.ledger import Ledger
from genesis_truth.merkle import inclusion_path
from genesis_truth.signing import signer_from_seed
from genesis_truth.treeindex import TreeIndex

SEED = 20251011
KEY_SEED = bytes(range(32))
BUILD_BATCH = 10_000
MANY_BATCH = 1_000
PROOFS = 200
#: Proof time may grow at most this much faster than log2(n) between the smallest and largest size.
LOG_SLACK = 1.5
TOPICS = ("envsync.commit", "envsync.drift", "envsync.init", "autonomy.heal.applied")


class EventSource:
    """Deterministic delivered events with increasing ``_genesis_seq``."""

    def __init__(self, seed: int = SEED) -> None:
        self.rng = random.Random(seed)
        self.seq = 0

    def next(self) -> dict[str, Any]:
        """Return the next event as the bus hands it to the Truth engine."""
        self.seq += 1
        seq, rng = self.seq, self.rng
        topic = TOPICS[rng.randrange(len(TOPICS))]
        drift = topic == "envsync.drift"
        return {
            "type": "sync_result", "has_drift": drift, "instances": ["render", "github", "vercel"],
            "missing_in_github": [f"KEY_{rng.randrange(500)}"] if drift else [],
            "summary": {"total_keys": 40 + rng.randrange(20), "drift_count": int(drift)},
            "_genesis_seq": seq, "_genesis_topic": topic,
            "_genesis_timestamp": f"2025-10-{1 + seq // 86_400 % 28:02d}T{seq // 3600 % 24:02d}:"
                                  f"{seq // 60 % 60:02d}:{seq % 60:02d}.000Z",
            "_genesis_id": f"{seq:032x}",
        }

    def batch(self, count: int) -> list[dict[str, Any]]:
        """Return the next ``count`` events."""
        return [self.next() for _ in range(count)]


def grow(ledger: Ledger, source: EventSource, target: int, current: int) -> tuple[int, float]:
    """Append events until the ledger holds ``target``; return (entries added, seconds)."""
    added, started = 0, time.perf_counter()
    while current + added < target:
        count = min(BUILD_BATCH, target - current - added)
        ledger.append_many(source.batch(count))
        added += count
    return added, time.perf_counter() - started


ProofTimes = tuple[Timing, Timing, Timing, int, float]


def time_proofs(ledger: Ledger, size: int, rng: random.Random, count: int) -> ProofTimes:
    """Return (prove() times, audit-path times of random and of nearby leaves, longest path,
    median node reads per audit path) over ``count`` entries."""
    seqs = [rng.randrange(1, size + 1) for _ in range(count)]  # seq n is leaf n-1 (ids start at 1)
    first = rng.randrange(1, size - count + 2)
    nearby = list(range(first, first + count))
    proves, longest = [], 0
    for seq in seqs:
        started = time.perf_counter()
        proof = ledger.prove(seq)
        proves.append(time.perf_counter() - started)
        longest = max(longest, len(proof["audit_path"]))
        if proof["tree_size"] < size:
            raise RuntimeError(f"proof of {seq} is against size {proof['tree_size']}, expected {size}+")
    with TreeIndex(ledger.index_dir) as index:
        tree_size = index.load().size  # type: ignore[union-attr]
        paths = [audit_path_time(index, seq, tree_size) for seq in seqs]
        near = [audit_path_time(index, seq, tree_size) for seq in nearby]
        reads = [node_reads(index, seq, tree_size) for seq in seqs]
    return Timing(tuple(proves)), Timing(tuple(paths)), Timing(tuple(near)), longest, statistics.median(reads)


def audit_path_time(index: TreeIndex, seq: int, tree_size: int) -> float:
    """Return the seconds ``inclusion_path`` takes for entry ``seq`` over the node index."""
    started = time.perf_counter()
    inclusion_path(seq - 1, tree_size, index.subtree)
    return time.perf_counter() - started


def node_reads(index: TreeIndex, seq: int, tree_size: int) -> int:
    """Return how many stored nodes the audit path of entry ``seq`` reads (counted, untimed)."""
    read = index.node
    counted = 0

    def counting(level: int, position: int) -> bytes:
        nonlocal counted
        counted += 1
        return read(level, position)

    index.node = counting  # type: ignore[method-assign]
    try:
        inclusion_path(seq - 1, tree_size, index.subtree)
    finally:
        del index.node
    return counted


def time_verify(ledger: Ledger, repeat: int) -> tuple[Timing, int]:
    """Return the times of ``repeat`` full verifications and the entries verified."""
    runs, entries = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        result = ledger.verify()
        runs.append(time.perf_counter() - started)
        if not result.ok:
            raise RuntimeError(f"verify failed: {result.describe()}")
        entries = result.entries
    return Timing(tuple(runs)), entries


def time_appends(ledger: Ledger, source: EventSource, singles: int) -> tuple[Timing, float]:
    """Return (times of ``singles`` single appends, seconds of one append_many of MANY_BATCH)."""
    runs = []
    for event in source.batch(singles):
        started = time.perf_counter()
        result = ledger.append(event)
        runs.append(time.perf_counter() - started)
        if not result.appended:
            raise RuntimeError("append did not append")
    batch = source.batch(MANY_BATCH)
    started = time.perf_counter()
    ledger.append_many(batch)
    return Timing(tuple(runs)), time.perf_counter() - started


def parse_sizes(text: str) -> list[int]:
    """Return the sorted sizes of ``--sizes`` (``10000,100000`` or ``10k,1m``)."""
    sizes = []
    for part in text.split(","):
        part = part.strip().lower()
        scale = {"k": 1_000, "m": 1_000_000}.get(part[-1:], 1)
        sizes.append(int(float(part.rstrip("km")) * scale))
    if not sizes or min(sizes) < 1:
        raise ValueError("sizes must be positive")
    return sorted(set(sizes))


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=parse_sizes, default=None,
                        help="comma-separated ledger sizes (default 10k,100k,1m; --quick: 10k)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="build the ledger in DIR and keep it (default: a temporary dir, removed)")
    args = parser.parse_args(argv)
    sizes = args.sizes or ([10_000] if args.quick else [10_000, 100_000, 1_000_000])
    singles = 20 if args.quick else 100
    proofs = 50 if args.quick else PROOFS
    header("bench_ledger", args, f"sizes {', '.join(f'{s:,}' for s in sizes)}; fsync on")

    directory = args.keep or Path(tempfile.mkdtemp(prefix="genesis-bench-ledger-"))
    if args.keep is not None and args.keep.exists() and any(args.keep.iterdir()):
        raise SystemExit(f"{args.keep}: not empty (give a new directory to --keep)")
    directory.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(directory, signer=signer_from_seed(KEY_SEED, "benchmark seed"))
    source = EventSource()
    rng = random.Random(SEED)

    build = Table("building the ledger with append_many (batches of 10,000)",
                  ["grown to", "entries added", "time", "append_many rate"])
    speed = Table("ledger operations by size",
                  ["entries", "append (single)", "append_many of 1,000", "verify (full)", "verify rate",
                   "prove (median)", "audit path, random leaves", "audit path, nearby leaves",
                   "path nodes", "node reads"])
    growth: list[tuple[int, float, float, float, float]] = []
    current = 0
    try:
        for size in sizes:
            added, seconds = grow(ledger, source, size, current)
            current += added
            build.add(f"{size:,}", f"{added:,}", fmt_seconds(seconds), fmt_rate(added / seconds))
            print(f"built {current:,} entries in {seconds:.1f} s", file=sys.stderr, flush=True)
            prove_times, path_times, near_times, nodes, reads = time_proofs(ledger, current, rng, proofs)
            verify_times, verified = time_verify(ledger, repeats(args, 3 if size <= 100_000 else 1, 1))
            single, many = time_appends(ledger, source, singles)
            current += singles + MANY_BATCH
            speed.add(f"{size:,}", fmt_rate(1 / single.median), fmt_rate(MANY_BATCH / many),
                      fmt_seconds(verify_times.median), fmt_rate(verified / verify_times.median),
                      fmt_seconds(prove_times.median), fmt_seconds(path_times.median),
                      fmt_seconds(near_times.median), nodes, f"{reads:g}")
            growth.append((size, reads, prove_times.median, near_times.median, path_times.median))
    finally:
        if args.keep is None:
            shutil.rmtree(directory, ignore_errors=True)
    build.print()
    speed.print()

    logs = Table("inclusion-proof growth (must be logarithmic)",
                 ["from -> to", "n grew", "log2(n) grew", "node reads grew", "prove grew", "target",
                  "result", "audit path (random) grew", "audit path (nearby) grew"],
                 note=(f"A proof is logarithmic when the stored nodes it reads and its time grow no faster "
                       f"than log2(n) (x{LOG_SLACK} slack for noise); a linear proof would grow like n. The "
                       "audit path's own time is shown, not judged (see docs/performance.md)."))
    if len(growth) >= 2:
        small, large = growth[0], growth[-1]
        log_ratio = math.log2(large[0]) / math.log2(small[0])
        reads_ratio, prove_ratio, near_ratio, path_ratio = (b / a for a, b in zip(small[1:], large[1:]))
        ok = max(reads_ratio, prove_ratio) <= log_ratio * LOG_SLACK
        logs.add(f"{small[0]:,} -> {large[0]:,}", f"x{large[0] / small[0]:,.0f}", f"x{log_ratio:.2f}",
                 f"x{reads_ratio:.2f}", f"x{prove_ratio:.2f}", f"<= x{log_ratio * LOG_SLACK:.2f}",
                 verdict(ok), f"x{path_ratio:.2f}", f"x{near_ratio:.2f}")
    else:
        logs.add(f"{sizes[0]:,}", "-", "-", "-", "-", "needs two sizes", "-", "-", "-")
    logs.print()
    print(f"peak RSS of the benchmark process: {fmt_bytes(max_rss_bytes())}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
