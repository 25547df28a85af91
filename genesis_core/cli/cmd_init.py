"""``genesis init``: write a commented ``genesis.toml`` for the platforms the user names."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from .commands import Command
from .context import CommandContext

if TYPE_CHECKING:
    from ..plugins import PluginInfo

HEADER = """\
# Genesis configuration (reference: docs/configuration.md in the Genesis repository).
# `genesis sync` compares every [platforms.NAME] table below; `genesis doctor` checks this file.
# Credentials are read from environment variables, never from this file.

[sync]
# ignore = ["LOCAL_ONLY_*"]      # keys never compared anywhere
"""

FOOTER = """\
[engines.truth]
# topics = ["envsync.commit", "envsync.drift", "envsync.cross_drift"]   # what the signed ledger records

[engines.autonomy]
reference = "local"              # the source of truth `genesis heal` copies from
# overwrite_conflicts = false    # also update keys whose values differ
# auto_heal = false              # heal on envsync.drift without a person (needs a Guardian policy)

[guardian]
# default_role = "operator"
"""


def _configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("platforms", nargs="*", metavar="KIND[:NAME]",
                        help="platform kinds to add, e.g. render netlify github (a local .env is always added)")
    parser.add_argument("--output", "-o", default="genesis.toml", help="file to write (default genesis.toml)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")


def _table(name: str, kind: Any) -> str:
    lines = [f"[platforms.{name}]"]
    if name != kind.name:
        lines.append(f'kind = "{kind.name}"')
    if kind.description:
        lines.insert(0, f"# {kind.description}")
    if kind.credential_env:
        lines.append(f"# credentials: export {kind.credential_env}=...  (never put the token in this file)")
    if kind.config_example:
        lines.append(kind.config_example.rstrip())
    return "\n".join(lines) + "\n"


def render_config(requested: list[str], kinds: dict[str, Any], infos: Sequence[PluginInfo] = ()
                  ) -> tuple[str, list[tuple[str, str]]]:
    """Return the config text and ``[(instance, credential env var)]`` for ``requested`` kinds.

    ``infos`` (every plugin seen) let a kind whose plugin is broken or disabled say so.
    """
    from ..reconciliation import validate_instance_name

    entries: list[tuple[str, str]] = [("local", "dotenv")]
    for item in requested:
        kind_name, _, name = item.partition(":")
        name = name or kind_name.replace("-", "_")  # an instance name has no "-" (aws-ssm -> aws_ssm)
        if kind_name not in kinds:
            from ..sync import unknown_kind_message

            raise UsageError(unknown_kind_message(kind_name, kinds, infos))
        try:
            validate_instance_name(name)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        if any(existing == name for existing, _ in entries):
            raise UsageError(f"platform name {name!r} given twice; use KIND:NAME to name instances")
        entries.append((name, kind_name))
    parts = [HEADER]
    credentials = []
    for name, kind_name in entries:
        kind = kinds[kind_name]
        parts.append(_table(name, kind))
        if kind.credential_env:
            credentials.append((name, kind.credential_env))
    parts.append(FOOTER)
    return "\n".join(parts), credentials


def _run(args: argparse.Namespace, ctx: CommandContext) -> int:
    output = Path(args.output)
    if output.exists() and not args.force:
        ctx.error(f"{output} already exists; use --force to overwrite it")
        return 2
    text, credentials = render_config(list(args.platforms), ctx.host.platform_kinds(),
                                       ctx.host.plugin_infos())
    output.write_text(text, encoding="utf-8")
    ctx.print(f"wrote {output}")
    if credentials:
        ctx.print("credentials each platform needs (set them in your shell or CI secrets):")
        for name, env in credentials:
            ctx.print(f"  {name:<10} {env}")
    ctx.print("next: fill in the REPLACE_ME values, then run `genesis doctor` and `genesis sync`")
    return 0


COMMAND = Command(name="init", help="write a commented genesis.toml for the platforms you name",
                  configure=_configure, run=_run)
