"""Shared helpers for the benchmark scripts: timing, peak memory, the machine, tables.

Every script prints GitHub-flavoured Markdown tables, so a run can be pasted
into ``docs/performance.md`` as it is.  Nothing here fails on a missed target:
a target is reported in a PASS/MISS column and the script exits 0.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent
PASS, MISS = "PASS", "MISS"


# ---------------------------------------------------------------- command line

def make_parser(description: str) -> argparse.ArgumentParser:
    """Return a parser with the options every benchmark takes: ``--quick`` and ``--repeat``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and few repetitions (seconds, for smoke tests)")
    parser.add_argument("--repeat", type=int, default=None,
                        help="timed repetitions per measurement (the median is reported)")
    return parser


def repeats(args: argparse.Namespace, full: int, quick: int) -> int:
    """Return ``--repeat`` if given, else ``quick`` or ``full`` repetitions."""
    if args.repeat is not None:
        return max(1, args.repeat)
    return quick if args.quick else full


# ---------------------------------------------------------------- timing

@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of repeated runs; ``median`` is what the tables report."""

    runs: tuple[float, ...]

    @property
    def median(self) -> float:
        """Return the median run time in seconds."""
        return statistics.median(self.runs)

    @property
    def best(self) -> float:
        """Return the fastest run in seconds."""
        return min(self.runs)

    @property
    def spread(self) -> float:
        """Return (slowest - fastest) / median, a rough noise indicator."""
        return (max(self.runs) - min(self.runs)) / self.median if self.median else 0.0


def time_runs(fn: Callable[[], Any], *, repeat: int, warmup: int = 1,
              setup: Callable[[], Any] | None = None) -> Timing:
    """Return the wall time of ``repeat`` calls of ``fn`` (after ``warmup`` untimed calls).

    ``setup`` (untimed) runs before every call, warm-ups included.  The garbage
    collector is collected before and disabled during each timed call so one
    run does not pay for the garbage of the previous one.
    """
    for _ in range(warmup):
        if setup is not None:
            setup()
        fn()
    runs = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        gc.collect()
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            started = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - started)
        finally:
            if was_enabled:
                gc.enable()
    return Timing(tuple(runs))


def time_interleaved(fns: Sequence[Callable[[], Any]], *, repeat: int, warmup: int = 1) -> list[Timing]:
    """Return one ``Timing`` per function, running them in turn ``repeat`` times.

    Interleaving makes two measurements that are compared with each other see
    the same background load on a shared machine.
    """
    for _ in range(warmup):
        for fn in fns:
            fn()
    runs: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for index, fn in enumerate(fns):
            runs[index].extend(time_runs(fn, repeat=1, warmup=0).runs)
    return [Timing(tuple(r)) for r in runs]


def peak_memory(fn: Callable[[], T]) -> tuple[T, int]:
    """Return ``fn()``'s result and the peak bytes it allocated (tracemalloc; slow, so untimed)."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, max(0, peak - before)


def max_rss_bytes() -> int:
    """Return this process's peak resident set size in bytes (Linux: ``ru_maxrss`` is KiB)."""
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024


# ---------------------------------------------------------------- formatting

def fmt_rate(per_second: float) -> str:
    """Return e.g. ``1,234,567/s``."""
    return f"{per_second:,.0f}/s"


def fmt_seconds(seconds: float) -> str:
    """Return a duration with a unit that keeps 3 significant digits (µs, ms or s)."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def fmt_bytes(count: float) -> str:
    """Return e.g. ``12.3 MiB``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(count) < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def fmt_ratio(ratio: float) -> str:
    """Return e.g. ``1.23x``."""
    return f"{ratio:.2f}x"


def verdict(ok: bool) -> str:
    """Return ``PASS`` or ``MISS``."""
    return PASS if ok else MISS


class Table:
    """A Markdown table built row by row; ``render()`` pads columns so it reads as plain text too."""

    def __init__(self, title: str, columns: Sequence[str], *, note: str = "") -> None:
        self.title = title
        self.columns = list(columns)
        self.rows: list[list[str]] = []
        self.note = note

    def add(self, *cells: Any) -> None:
        """Append one row (cells are converted with ``str``)."""
        if len(cells) != len(self.columns):
            raise ValueError(f"{self.title}: row has {len(cells)} cells, table has {len(self.columns)}")
        self.rows.append([str(cell) for cell in cells])

    def render(self) -> str:
        """Return the table as Markdown, preceded by its title and followed by its note."""
        widths = [max(len(c), *(len(r[i]) for r in self.rows)) if self.rows else len(c)
                  for i, c in enumerate(self.columns)]

        def line(cells: Iterable[str]) -> str:
            return "| " + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths)) + " |"

        out = [f"### {self.title}", "", line(self.columns),
               "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
        out += [line(row) for row in self.rows]
        if self.note:
            out += ["", self.note]
        return "\n".join(out)

    def print(self) -> None:
        """Print the rendered table and a blank line, flushing stdout."""
        print(self.render(), end="\n\n", flush=True)


# ---------------------------------------------------------------- the machine

def cpu_model() -> str:
    """Return the CPU model from ``/proc/cpuinfo`` (or ``platform.processor()``)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_line() -> str:
    """Return one line naming the machine: cores, CPU, Python, OS, load and date."""
    try:
        load = "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        load = "load n/a"
    return (f"machine: {os.cpu_count()} cores ({cpu_model()}), Python {platform.python_version()} "
            f"({platform.python_implementation()}), {platform.system()} {platform.release()}, "
            f"{load}, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M UTC}")


def header(name: str, args: argparse.Namespace, extra: str = "") -> None:
    """Print the benchmark's heading and the machine it runs on."""
    mode = "quick" if getattr(args, "quick", False) else "full"
    print(f"## {name} ({mode})", flush=True)
    print("", flush=True)
    print(machine_line() + (f"; {extra}" if extra else ""), flush=True)
    print("", flush=True)
