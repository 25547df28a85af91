"""``genesis doctor``: check config, credentials, plugins, state dir and each platform, and say what to fix.

Each adapter checks its own credentials with ``PlatformAdapter.check_credentials`` (by default: is
its credential variable set; the AWS adapters resolve the SDK's credential chain, Vault looks its
token up) and may suggest what to check after a failed read with ``doctor_hint``.  ``--offline``
checks only the credential variable (``check_credential_variable``).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import GenesisError
from .commands import Command
from .context import CommandContext

if TYPE_CHECKING:
    from ..platforms.model import CredentialCheck, PlatformAdapter


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--offline", action="store_true", help="do not contact the platforms")


class _Report:
    def __init__(self, ctx: CommandContext) -> None:
        self.ctx = ctx
        self.problems = 0

    def ok(self, text: str) -> None:
        self.ctx.print(f"  ok    {text}")

    def bad(self, text: str, fix: str) -> None:
        self.problems += 1
        self.ctx.print(f"  FAIL  {text}\n        fix: {fix}")


def _is_placeholder(value: str) -> bool:
    return "REPLACE_ME" in value or value == "OWNER/REPO"


def _is_network_error(error: str) -> bool:
    return any(part in error for part in ("could not connect", "timed out", "network error"))


def _install(report: _Report) -> None:
    """Report the installed genesis-envsync, and any other distribution that ships ``genesis_core``."""
    from .._version import __version__
    from ..first_party import CORE, clashing_distributions

    report.ctx.print("install")
    report.ok(f"{CORE} {__version__}")
    for name, other in clashing_distributions():
        report.bad(f"{name} {other} is installed here too: an unrelated project (or Genesis before its "
                   "rename) that also ships the genesis_core package, so one overwrites the other's files",
                   f"pip uninstall {name} {CORE}, then pip install {CORE} (or \"{CORE}[all]\")")


def _engine_tables(report: _Report, config: Any, host: Any) -> None:
    """Report ``[engines.NAME]`` tables (not ``enabled = false``) that no installed plugin serves."""
    from .. import first_party

    engines = host.engines()
    for name in config.section("engines"):
        table = config.engine(name)
        if name in engines or table.get("enabled") is False:
            continue
        if name in first_party.ENGINES:
            report.bad(f"[engines.{name}] is configured but the {name} engine is not available",
                       first_party.missing(f"the {name} engine", first_party.ENGINES[name], host.plugin_infos()))
        else:
            report.bad(f"[engines.{name}] is configured but no installed plugin provides an engine named {name!r}",
                       "check the name (`genesis plugins` lists the engines) or remove the table")

async def _credential_checks(adapters: Sequence[PlatformAdapter], *,
                             offline: bool) -> list[CredentialCheck | None]:
    """Return each adapter's credential check, in order (only the credential variable when ``offline``).

    A ``PlatformError`` from ``check_credentials`` is a failed check, reported like any other.
    """
    from ..errors import PlatformError
    from ..platforms.model import CredentialCheck, FetchContext

    if offline:
        return [adapter.check_credential_variable(os.environ) for adapter in adapters]
    checks: list[CredentialCheck | None] = []
    ctx = FetchContext(env=os.environ)
    try:
        for adapter in adapters:
            try:
                checks.append(await adapter.check_credentials(ctx))
            except PlatformError as exc:
                fix = f"check the credentials of [platforms.{adapter.name}]"
                checks.append(CredentialCheck(False, exc.reason, fix))
    finally:
        await ctx.aclose()
    return checks


def _run(args: argparse.Namespace, ctx: CommandContext) -> int:
    import asyncio
    import tempfile

    report = _Report(ctx)
    _install(report)
    ctx.print("config")
    try:
        config = ctx.config
    except GenesisError as exc:
        report.bad(str(exc), "correct the file (see docs/configuration.md)")
        return 2
    if config.source is None:
        report.bad("no genesis.toml (or [tool.genesis] in pyproject.toml) found",
                   "run `genesis init` in your project")
        return 2
    report.ok(f"loaded {config.source}")

    ctx.print("plugins")
    host = ctx.host
    for info in host.plugin_infos():
        if info.broken:
            report.bad(f"plugin {info.name} ({info.distribution}) is broken: {info.error}",
                       f"reinstall {info.distribution} or set GENESIS_DISABLE_PLUGINS={info.name}")
    for problem in host.problems:
        report.bad(f"plugin {problem.plugin}: {problem.hook}: {problem.error}", "report it to the plugin's authors")
    loaded = [i.name for i in host.plugin_infos() if not i.broken and not i.disabled]
    report.ok(f"{len(loaded)} plugin(s) loaded: {', '.join(loaded)}")
    _engine_tables(report, config, host)

    ctx.print("state dir")
    state = config.state_dir
    try:
        state.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=state, prefix=".doctor-"):
            pass
        report.ok(f"{state} is writable")
    except OSError as exc:
        report.bad(f"{state} is not writable ({exc.strerror})",
                   "set GENESIS_HOME or [bus] state_dir to a writable directory")

    ctx.print("platforms")
    from ..sync import build_adapters, fetch_all

    try:
        adapters = build_adapters(config, host)
    except GenesisError as exc:
        report.bad(str(exc), "correct the [platforms.*] tables")
        return 2
    try:
        from ..environments import environments_from_config

        environments = environments_from_config(config)
    except GenesisError as exc:
        report.bad(str(exc), "correct the [environments.*] tables (see docs/environments.md)")
        return 2
    if environments.configured:
        report.ok(f"{len(environments.environments)} environment(s): "
                  + "; ".join(f"{e.name} ({', '.join(e.platforms)})" for e in environments.environments))
    placeholders = [f"platforms.{name}.{key}" for name, table in config.platforms().items()
                    for key, value in table.items() if isinstance(value, str) and _is_placeholder(value)]
    for where in placeholders:
        report.bad(f"{where} still holds the placeholder `genesis init` wrote", "replace it with the real value")
    reachable: list[PlatformAdapter] = []
    for adapter, check in zip(adapters, asyncio.run(_credential_checks(adapters, offline=args.offline)), strict=True):
        if check is not None and not check.ok:
            fix = check.fix or f"check the credentials of [platforms.{adapter.name}]"
            report.bad(f"{adapter.name}: {check.detail}", fix)
            continue
        if check is not None:
            report.ok(f"{adapter.name}: {check.detail}")
        reachable.append(adapter)
    if not args.offline and reachable:
        results = asyncio.run(fetch_all(reachable, os.environ))
        by_name = {a.name: a for a in reachable}
        for name, status in results.statuses.items():
            hint = by_name[name].doctor_hint()
            if status.ok:
                report.ok(f"{name}: read {status.keys} key(s) in {status.seconds:.2f}s")
            elif hint is not None:
                report.bad(f"{name}: {status.error}", hint)
            elif type(by_name[name]).credential_env is None:
                report.bad(f"{name}: {status.error}", f"check the paths in [platforms.{name}]")
            elif _is_network_error(status.error or ""):
                report.bad(f"{name}: {status.error}",
                           f"check the network, a proxy, and base_url in [platforms.{name}]")
            else:
                report.bad(f"{name}: {status.error}",
                           f"check the identifiers in [platforms.{name}] and what the token may access")
    ctx.print()
    if report.problems:
        ctx.print(f"{report.problems} problem(s) found")
        return 2
    ctx.print("everything looks good")
    return 0


COMMAND = Command(name="doctor", help="check config, credentials, plugins, state dir and platforms",
                  configure=_configure, run=_run)
