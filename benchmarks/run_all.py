"""Run every ``benchmarks/bench_*.py`` in turn and print (or save) their tables.

Each script runs in its own process with this interpreter, so one benchmark's
imports, threads and garbage do not affect the next.  A missed target is a
MISS in a table, not a failure; the exit status is 1 only if a script crashed.

    python benchmarks/run_all.py [--quick] [--only reconcile,bus] [--output results.md]
                                 [-- extra arguments for every script]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: The order the scripts run in (cheap first); scripts not listed run after these, by name.
ORDER = ("reconcile", "fetch", "heal", "bus", "ledger", "cli", "nats")


def discover() -> dict[str, Path]:
    """Return ``{name: path}`` of the benchmark scripts, in running order."""
    found = {path.stem.removeprefix("bench_"): path for path in HERE.glob("bench_*.py")}
    ordered = [name for name in ORDER if name in found] + sorted(set(found) - set(ORDER))
    return {name: found[name] for name in ordered}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="pass --quick to every script")
    parser.add_argument("--only", default="",
                        help="comma-separated names to run (e.g. reconcile,bus); default: all")
    parser.add_argument("--output", type=Path, default=None,
                        help="also write everything printed to this Markdown file")
    parser.add_argument("extra", nargs=argparse.REMAINDER,
                        help="arguments after -- go to every script (e.g. -- --repeat 3)")
    args = parser.parse_args(argv)
    scripts = discover()
    wanted = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in scripts]
    if unknown:
        parser.error(f"--only: unknown benchmark {', '.join(unknown)} (known: {', '.join(scripts)})")
    if wanted:
        scripts = {name: path for name, path in scripts.items() if name in wanted}
    extra = [arg for arg in args.extra if arg != "--"]

    chunks: list[str] = []
    failed: list[str] = []
    for name, path in scripts.items():
        command = [sys.executable, str(path), *(["--quick"] if args.quick else []), *extra]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        text = done.stdout.rstrip() + "\n"
        if done.returncode != 0:
            failed.append(name)
            tail = "\n".join(done.stderr.strip().splitlines()[-15:])
            text += f"\n**bench_{name} FAILED (exit {done.returncode})**\n\n```\n{tail}\n```\n"
        text += f"\n_(bench_{name} took {elapsed:.1f} s)_\n"
        print(text, flush=True)
        chunks.append(text)
    if args.output is not None:
        args.output.write_text("\n".join(chunks), encoding="utf-8")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
