"""Benchmark ``genesis`` start-up: ``--version`` and ``plugins`` next to ``python -c pass``.

Each command runs as a fresh process of the installed console script (the
interpreter of this venv, every plugin installed), in an empty temporary
directory, ``--repeat`` times interleaved; the median wall time is reported.
``genesis plugins`` runs with a warm entry-point discovery cache (in a
temporary ``GENESIS_CACHE_DIR``), as every run after the first does.

A second table times each command's *floor*, what it cannot go below: the
installer's console-script wrapper starts with ``import re``, and ``genesis
plugins`` must import argparse, json, attrs (the registered values) and pluggy;
it also times ``genesis plugins`` with the discovery cache off.  Targets:
``genesis --version`` within 1.5x of ``python -c pass``, and each command
within 1.5x of its floor.  For a command that misses a target (or with
``--importtime``) the script runs it once more
under ``python -X importtime`` and prints which imports cost what (modules a
plugin's entry point imports are loaded through ``importlib.import_module``,
which importtime does not report, so their own imports show at the top level).

    python benchmarks/bench_cli.py [--quick] [--repeat N] [--importtime]
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Table, fmt_ratio, fmt_seconds, header, make_parser, repeats, verdict

PYTHON = sys.executable
#: Targets against ``python -c pass``; every command is also held to ``FLOOR_TARGET`` x its floor.
TARGETS = {"genesis --version": 1.5}
FLOOR_TARGET = 1.5
_IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)\s*$")


def genesis_script() -> str:
    """Return the ``genesis`` console script next to this interpreter (or on PATH)."""
    candidate = Path(PYTHON).with_name("genesis")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("genesis")
    if found is None:
        raise SystemExit("the genesis console script is not installed next to this Python or on PATH")
    return found


def commands() -> dict[str, list[str]]:
    """Return the command lines to time, baseline first."""
    script = genesis_script()
    return {
        "python -c pass": [PYTHON, "-c", "pass"],
        "genesis --version": [script, "--version"],
        "genesis plugins": [script, "plugins"],
    }


#: label -> (code for ``python -c``, the genesis command it is the floor of, what it stands for)
FLOORS = {
    "python -c 'import re'": (
        "import re", "genesis --version",
        "the console script pip writes imports re before it calls genesis"),
    "python -c 'import re, argparse, json, attrs, pluggy'": (
        "import re, argparse, json, attrs, pluggy", "genesis plugins",
        "what genesis plugins must import: the wrapper's re, argparse, json (the cache), attrs, pluggy"),
}
NO_CACHE = "genesis plugins (discovery cache off)"


def clean_env(cache_dir: str) -> dict[str, str]:
    """Return the environment without Genesis or Python variables that change start-up.

    The entry-point discovery cache goes to ``cache_dir``.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GENESIS_", "PYTHON"))}
    env["GENESIS_CACHE_DIR"] = cache_dir
    return env


def warm_cache(argv: list[str], cwd: str, env: dict[str, str], cache_dir: str) -> bool:
    """Run ``argv`` until the discovery cache is written (a fresh install must settle first); return success."""
    for _ in range(4):
        run_once(argv, cwd, env)
        if any(name.startswith("entry-points-") for name in os.listdir(cache_dir)):
            return True
        time.sleep(1.0)
    return False


def run_once(argv: list[str], cwd: str, env: dict[str, str]) -> float:
    """Return the wall time of one run of ``argv``; raise if it fails."""
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    return elapsed


Import = tuple[int, int, int, str, str]  # own us, cumulative us, depth, module, importer ("" = top)


def import_profile(argv: list[str], cwd: str, env: dict[str, str]) -> list[Import]:
    """Return every import of one run of ``argv`` under ``python -X importtime``, with its importer."""
    if argv[0] != PYTHON:  # a console script: run it through the interpreter to pass -X
        argv = [PYTHON, *argv]
    done = subprocess.run([argv[0], "-X", "importtime", *argv[1:]], cwd=cwd, env=env,
                          capture_output=True, text=True)
    parsed = []
    for line in done.stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        if match:
            own, total, indent, module = match.groups()
            parsed.append((int(own), int(total), (len(indent) - 1) // 2, module))
    # importtime prints a module after everything it imported: its importer comes later, one level up.
    rows: list[Import] = []
    pending: list[tuple[int, int]] = []  # (depth, index) of rows still looking for their importer
    importers = [""] * len(parsed)
    for index in range(len(parsed) - 1, -1, -1):
        depth = parsed[index][2]
        while pending and pending[-1][0] >= depth:
            pending.pop()
        importers[index] = parsed[pending[-1][1]][3] if pending else ""
        pending.append((depth, index))
    for (own, total, depth, module), importer in zip(parsed, importers):
        rows.append((own, total, depth, module, importer))
    return rows


def _root(module: str) -> str:
    return module.split(".")[0]


def import_tables(label: str, runs: list[list[Import]], top: int = 15) -> list[Table]:
    """Return tables of what the imports of ``runs`` (repeated profiles of one command) cost.

    The first lists *import edges*: a module imported from another top-level
    package (or at the top), with its cumulative time (median over the runs) and
    who imported it, the place to make an import lazy.  The second sums own
    time by top-level package.
    """
    cumulative: dict[tuple[str, str], list[int]] = defaultdict(list)
    own_by_package: dict[str, list[int]] = defaultdict(list)
    modules: dict[str, set[str]] = defaultdict(set)
    totals = []
    for rows in runs:
        per_package: dict[str, int] = defaultdict(int)
        for own, total, _depth, module, importer in rows:
            per_package[_root(module)] += own
            modules[_root(module)].add(module)
            if not importer or _root(importer) != _root(module):
                cumulative[module, importer].append(total)
        for package, own in per_package.items():
            own_by_package[package].append(own)
        totals.append(sum(row[0] for row in rows))
    total = statistics.median(totals) if totals else 0
    first = Table(f"{label}: costliest imports by importer (python -X importtime, median of {len(runs)})",
                  ["module", "imported by", "cumulative", "share of all imports"],
                  note=f"all imports together: {fmt_seconds(total / 1e6)} (sum of own times)")
    # An import missing from some runs (a cache filled by the first run) counts 0 in those.
    edges = sorted(((statistics.median(times + [0] * (len(runs) - len(times))), module, importer)
                    for (module, importer), times in cumulative.items()), reverse=True)
    for median, module, importer in edges[:top]:
        first.add(module, importer or "(top level)", fmt_seconds(median / 1e6),
                  f"{median / total:.0%}" if total else "-")
    second = Table(f"{label}: own import time by top-level package", ["package", "modules", "own time", "share"])
    packages = sorted(((statistics.median(v + [0] * (len(runs) - len(v))), k)
                       for k, v in own_by_package.items()), reverse=True)
    for own, package in packages[:top]:
        second.add(package, len(modules[package]), fmt_seconds(own / 1e6), f"{own / total:.0%}" if total else "-")
    return [first, second]


#: Cumulative start-up stages of ``genesis plugins`` (each a fresh ``python -c``); the
#: difference between two rows is what that stage costs.  They name internal functions, so a
#: stage that no longer runs is reported, not fatal.
_HOST = ("import genesis_core.cli.main, genesis_core.cli.app; "
         "from genesis_core.plugins import build_plugin_host; host = build_plugin_host()")
PLUGINS_STAGES = (
    ("python -c pass", "pass"),
    ("+ import genesis_core.cli.main", "import genesis_core.cli.main"),
    ("+ import genesis_core.cli.app (argparse, attrs, CommandContext)",
     "import genesis_core.cli.main, genesis_core.cli.app"),
    ("+ the core's built-in plugins (commands lazy: names and help only)",
     "import genesis_core.cli.main, genesis_core.cli.app; from genesis_core.plugins import build_plugin_host; "
     "build_plugin_host(entry_points=False).commands()"),
    ("+ build_plugin_host() (cached entry points, pluggy, plugin modules)", _HOST),
    ("+ host.platform_kinds(), transports(), commands()",
     _HOST + "; host.platform_kinds(); host.transports(); host.commands()"),
    ("+ host.engines() (lazy engines: names only)",
     _HOST + "; host.platform_kinds(); host.transports(); host.commands(); host.engines()"),
)


def stage_table(cwd: str, env: dict[str, str], repeat: int, total: float) -> Table:
    """Return the wall time of each cumulative start-up stage of ``genesis plugins``."""
    times: dict[str, list[float]] = {label: [] for label, _ in PLUGINS_STAGES}
    broken: set[str] = set()
    for _ in range(repeat):
        for label, code in PLUGINS_STAGES:
            if label in broken:
                continue
            try:
                times[label].append(run_once([PYTHON, "-c", code], cwd, env))
            except RuntimeError:
                broken.add(label)
    table = Table("genesis plugins: where the start-up time goes (cumulative stages, median)",
                  ["stage", "cumulative", "this stage adds"],
                  note=f"the whole `genesis plugins` took {fmt_seconds(total)} (median) in the run above")
    previous = None
    for label, _ in PLUGINS_STAGES:
        if label in broken or not times[label]:
            table.add(label, "could not run (internal names changed?)", "-")
            continue
        median = statistics.median(times[label])
        delta = None if previous is None else median - previous
        table.add(label, fmt_seconds(median),
                  "-" if delta is None else ("+" if delta >= 0 else "-") + fmt_seconds(abs(delta)))
        previous = median
    return table


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--importtime", action="store_true",
                        help="print the import breakdown of every genesis command, met or missed")
    args = parser.parse_args(argv)
    repeat = repeats(args, 21, 5)
    header("bench_cli", args, f"{repeat} runs each, interleaved; interpreter {PYTHON}")
    cmds = commands()
    with tempfile.TemporaryDirectory(prefix="genesis-bench-cli-") as cwd:
        cache_dir = os.path.join(cwd, "cache")
        os.mkdir(cache_dir)
        env = clean_env(cache_dir)
        runs: dict[str, tuple[list[str], dict[str, str]]] = {name: (line, env) for name, line in cmds.items()}
        runs.update({label: ([PYTHON, "-c", code], env) for label, (code, _, _) in FLOORS.items()})
        runs[NO_CACHE] = (cmds["genesis plugins"], dict(env, GENESIS_NO_PLUGIN_CACHE="1"))
        for line, run_env in runs.values():  # warm the OS page cache and .pyc files
            run_once(line, cwd, run_env)
        cached = warm_cache(cmds["genesis plugins"], cwd, env, cache_dir)
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(repeat):
            for name, (line, run_env) in runs.items():
                times[name].append(run_once(line, cwd, run_env))

        baseline = statistics.median(times["python -c pass"])
        table = Table("start-up time (median wall time of a fresh process)",
                      ["command", "median", "min", "max", "vs python -c pass", "target", "result"],
                      note="genesis plugins ran with a warm discovery cache" if cached else
                      "the discovery cache was never written (the install is younger than its settle time)")
        missed = []
        for name in cmds:
            runs_of = times[name]
            median = statistics.median(runs_of)
            target = TARGETS.get(name)
            ratio = median / baseline
            if target is None:
                table.add(name, fmt_seconds(median), fmt_seconds(min(runs_of)), fmt_seconds(max(runs_of)),
                          "1.00x" if name == "python -c pass" else fmt_ratio(ratio), "-", "-")
                continue
            ok = ratio <= target
            if not ok:
                missed.append(name)
            table.add(name, fmt_seconds(median), fmt_seconds(min(runs_of)), fmt_seconds(max(runs_of)),
                      fmt_ratio(ratio), f"<= {target:.1f}x", verdict(ok))
        table.print()

        floors = Table("floors (what a command cannot go below) and the discovery cache",
                       ["reference", "median", "vs python -c pass", "compared with", "that command / this",
                        "target", "result", "what it is"],
                       note=f"target: each command within {FLOOR_TARGET:.1f}x of the imports it cannot avoid")
        for label, (_, command, meaning) in [*FLOORS.items(),
                                             (NO_CACHE, ("", "genesis plugins", "every run scans importlib.metadata"))]:
            median = statistics.median(times[label])
            ratio = statistics.median(times[command]) / median
            if label == NO_CACHE:
                target, result = "-", "-"
            else:
                ok = ratio <= FLOOR_TARGET
                if not ok and command not in missed:
                    missed.append(command)
                target, result = f"<= {FLOOR_TARGET:.1f}x", verdict(ok)
            floors.add(label, fmt_seconds(median), fmt_ratio(median / baseline), command,
                       fmt_ratio(ratio), target, result, meaning)
        floors.print()

        if args.importtime or "genesis plugins" in missed:
            stage_table(cwd, env, 3 if args.quick else 11,
                        statistics.median(times["genesis plugins"])).print()
        explain = [name for name in ("genesis --version", "genesis plugins")
                   if args.importtime or name in missed]
        profiles = 3 if args.quick else 9
        for name in explain:
            runs = [import_profile(cmds[name], cwd, env) for _ in range(profiles)]
            for part in import_tables(name, runs):
                part.print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
