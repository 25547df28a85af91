"""Benchmark Autonomy's ``apply_plan``: a heal written to four emulated platforms at once.

The Render, Netlify, GitHub and Vercel emulators from the plugins run on
127.0.0.1, each answering every request after a fixed delay (50 ms by
default, ``--latency``), and each starting empty.  The plan creates the same
``--keys`` plain variables (100 by default) on every platform; a heal writes
them through each adapter's own one-key ``write`` and then re-reads every
platform it wrote to, verifying each key, as ``genesis heal --apply`` does.
What one write costs in requests is the adapter's: Render one ``PUT``, Netlify
a ``PATCH`` that answers 404 then a ``POST``, GitHub a check that no secret
has the name then a ``POST``, Vercel a listing of the project's entries (one
page of 100) then a ``POST``.

Each platform healed alone is its own *write chain* (one write after the
other, then its verification read); the heal of all four should take about
as long as the slowest chain (target: within 1.2x), since the platforms are
written concurrently and each one's writes are sequential.  The emulators
count the requests, and every run checks that each platform ends up holding
every key and that every key came back verified.

    python benchmarks/bench_heal.py [--quick] [--repeat N] [--keys N] [--latency SECONDS]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Table, fmt_ratio, fmt_seconds, header, make_parser, repeats, verdict
from bench_fetch import ACCOUNT_ID, REPO, SERVICE_ID, SITE_ID, _instance, slow

from genesis_autonomy.apply import OK_STATUSES, apply_plan
from genesis_autonomy.plan import HealPlan, make_plan, reference_values
from genesis_core.platforms.model import PlatformAdapter, Snapshot
from genesis_core.secrets import SecretPolicy
from genesis_github.adapter import GitHubAdapter
from genesis_github.emulator import GitHubEmulator
from genesis_netlify.adapter import NetlifyAdapter
from genesis_netlify.emulator import NetlifyEmulator
from genesis_render.adapter import RenderAdapter
from genesis_render.emulator import RenderEmulator
from genesis_vercel.adapter import VercelAdapter
from genesis_vercel.emulator import VercelEmulator

TARGET_RATIO = 1.2
VERCEL_PAGE = 100
POLICY = SecretPolicy(fingerprint_key=b"h" * 32)


class Platform:
    """One started emulator with its adapter, credentials and a way to empty it and count its keys."""

    def __init__(self, name: str, emulator: Any, adapter: PlatformAdapter, env: dict[str, str],
                 empty: Any, count: Any) -> None:
        self.name, self.emulator, self.adapter, self.env = name, emulator, adapter, env
        self.empty, self.count = empty, count


def start_platforms(latency: float) -> list[Platform]:
    """Start the four empty emulators (each with ``latency`` per request) and return them."""
    common = {"timeout": 30.0, "retries": 0}
    platforms = []

    render = slow(RenderEmulator)(token="rnd_bench_token")
    render.set_env(SERVICE_ID, {})
    render.latency = latency
    render.start()
    platforms.append(Platform("render", render, RenderAdapter(_instance("render", "render", {
        "kind": "render", "service_id": SERVICE_ID, "base_url": render.base_url, **common})),
        {"RENDER_API_KEY": render.token}, lambda: render.set_env(SERVICE_ID, {}),
        lambda: len(render.env(SERVICE_ID))))

    netlify = slow(NetlifyEmulator)(token="nfp_bench_token", rate_limit=1_000_000)
    netlify.add_site(ACCOUNT_ID, SITE_ID)
    netlify.latency = latency
    netlify.start()
    platforms.append(Platform("netlify", netlify, NetlifyAdapter(_instance("netlify", "netlify", {
        "kind": "netlify", "account_id": ACCOUNT_ID, "site_id": SITE_ID, "context": "production",
        "base_url": netlify.base_url, **common})), {"NETLIFY_AUTH_TOKEN": netlify.token},
        lambda: netlify.set_env(ACCOUNT_ID, SITE_ID, {}), lambda: len(netlify.keys(ACCOUNT_ID, SITE_ID))))

    github = slow(GitHubEmulator)(token="ghp_benchToken0123456789abcdef")
    github.add_repo(REPO)
    github.latency = latency
    github.start()
    platforms.append(Platform("github", github, GitHubAdapter(_instance("github", "github", {
        "kind": "github", "repository": REPO, "base_url": github.base_url, **common})),
        {"GITHUB_TOKEN": github.token}, lambda: github.clear(REPO), lambda: len(github.variables(REPO))))

    vercel = slow(VercelEmulator)(token="vercel_benchToken0123456789abcdef", page_size=VERCEL_PAGE)
    vercel.add_project("bench-app", team_id="team_bench")
    vercel.latency = latency
    vercel.start()
    platforms.append(Platform("vercel", vercel, VercelAdapter(_instance("vercel", "vercel", {
        "kind": "vercel", "project": "bench-app", "team_id": "team_bench", "target": "production",
        "base_url": vercel.base_url, **common})), {"VERCEL_TOKEN": vercel.token},
        lambda: vercel.clear("bench-app"), lambda: len(vercel.values("bench-app"))))
    return platforms


def reference(keys: int) -> Snapshot:
    """Return the reference: ``keys`` plain variables shaped like configuration."""
    return Snapshot.from_values("local", "dotenv", {
        f"BENCH_{['DB', 'API', 'CACHE', 'MAIL'][i % 4]}_{i:04d}": f"https://svc-{i}.example.com/v{i % 3}"
        for i in range(keys)})


def plan_for(ref: Snapshot, platforms: list[Platform]) -> HealPlan:
    """Return the plan that creates every reference key on each of ``platforms`` (all empty)."""
    snapshots = {"local": ref, **{p.name: Snapshot(p.name, p.adapter.kind, {}) for p in platforms}}
    return make_plan(snapshots, reference="local", targets=[p.name for p in platforms], policy=POLICY,
                     writable={p.name: True for p in platforms})


async def timed_heal(ref: Snapshot, platforms: list[Platform]) -> float:
    """Return the seconds one ``apply_plan`` to ``platforms`` takes; raise if anything went wrong."""
    for platform in platforms:
        platform.empty()
    plan = plan_for(ref, platforms)
    env: dict[str, str] = {}
    for platform in platforms:
        env.update(platform.env)
    adapters = {p.name: p.adapter for p in platforms}
    values = reference_values(plan, ref)
    started = time.perf_counter()
    result = await apply_plan(plan, values, adapters, env)
    elapsed = time.perf_counter() - started
    if not result.ok or len(result.results) != len(ref) * len(platforms):
        bad = [(r.instance, r.key, r.status, r.detail) for r in result.failed][:3]
        raise RuntimeError(f"heal failed: {len(result.failed)} key(s) not healed, e.g. {bad}")
    if any(r.status not in OK_STATUSES or not r.written for r in result.results):
        raise RuntimeError("a key was not written")
    for platform in platforms:
        held = platform.count()
        if held != len(ref):
            raise RuntimeError(f"{platform.name}: holds {held} variables after the heal, expected {len(ref)}")
    return elapsed


async def measure(ref: Snapshot, platforms: list[Platform], repeat: int
                  ) -> tuple[list[float], dict[str, list[float]]]:
    """Return (times of full heals, {platform: times alone}), interleaved so noise hits both."""
    await timed_heal(reference(3), platforms)  # warm-up: imports, first connections
    for platform in platforms:
        platform.emulator.requests.clear()
    together: list[float] = []
    alone: dict[str, list[float]] = {p.name: [] for p in platforms}
    for _ in range(repeat):
        together.append(await timed_heal(ref, platforms))
        for platform in platforms:
            alone[platform.name].append(await timed_heal(ref, [platform]))
    return together, alone


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=None,
                        help="keys to create on every platform (default 100, --quick 10)")
    parser.add_argument("--latency", type=float, default=None,
                        help="seconds each emulator waits before answering a request (default 0.05, --quick 0.01)")
    args = parser.parse_args(argv)
    repeat = repeats(args, 3, 1)
    keys = args.keys or (10 if args.quick else 100)
    latency = args.latency if args.latency is not None else (0.01 if args.quick else 0.05)
    header("bench_heal", args, f"{keys} keys x 4 platforms, {latency * 1000:.0f} ms per request, "
                               f"{repeat} runs each")
    ref = reference(keys)
    platforms = start_platforms(latency)
    try:
        together, alone = asyncio.run(measure(ref, platforms, repeat))
    finally:
        for platform in platforms:
            platform.emulator.stop()
    # Each platform was healed 2 x repeat times (alone and with the others), the same requests each time.
    per_run = {p.name: len(p.emulator.requests) // (2 * repeat) for p in platforms}

    table = Table("heal of four emulated platforms (apply_plan: writes, then the verification read)",
                  ["heal", "keys written", "requests", "latency/request", "wall time (median)", "min", "max"])
    for platform in platforms:
        runs = alone[platform.name]
        table.add(f"{platform.name} alone", keys, per_run[platform.name], fmt_seconds(latency),
                  fmt_seconds(statistics.median(runs)), fmt_seconds(min(runs)), fmt_seconds(max(runs)))
    table.add("all four (apply_plan)", keys * len(platforms), sum(per_run.values()), "-",
              fmt_seconds(statistics.median(together)), fmt_seconds(min(together)), fmt_seconds(max(together)))
    table.print()

    slowest_name = max(alone, key=lambda name: statistics.median(alone[name]))
    slowest = statistics.median(alone[slowest_name])
    full = statistics.median(together)
    sequential = sum(statistics.median(runs) for runs in alone.values())
    ratio = full / slowest
    summary = Table("heal target", ["measure", "value", "target", "result"])
    summary.add("slowest platform's own write chain", f"{fmt_seconds(slowest)} ({slowest_name})", "-", "-")
    summary.add("sum of the chains (a sequential heal)", fmt_seconds(sequential), "-", "-")
    summary.add("all four concurrently", fmt_seconds(full), "-", "-")
    summary.add("all four / slowest", fmt_ratio(ratio), f"<= {TARGET_RATIO:.1f}x", verdict(ratio <= TARGET_RATIO))
    summary.print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
