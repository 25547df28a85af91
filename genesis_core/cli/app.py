"""Build the argument parser from the registered commands (the core's and plugins'), run one,
map errors to exit codes."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .. import first_party
from .._version import __version__
from ..errors import GenesisError, UsageError, one_line
from .commands import Command
from .context import CommandContext

if TYPE_CHECKING:
    from typing import Any

EXIT_ERROR = 2


def _terminal_columns() -> int:
    """Return ``shutil.get_terminal_size().columns``: ``$COLUMNS``, else the terminal's width, else 80."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns if columns > 0 else 80


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter, sized as argparse sizes it, without importing ``shutil`` (2-3 ms at start-up).

    argparse builds a formatter for every ``add_argument``; each would ask
    ``shutil.get_terminal_size``.
    """

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position,
                         _terminal_columns() - 2 if width is None else width)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"genesis: error: {message}\n")


GLOBAL_OPTIONS_WITH_VALUE = ("--config", "--role", "--log-level")


def _abbreviates_option_with_value(token: str) -> bool:
    """Return whether argparse expands ``token`` (``--rol``) to a global option that takes a value."""
    if not token.startswith("--") or len(token) < 3 or "=" in token:
        return False
    matches = [option for option in (*GLOBAL_OPTIONS_WITH_VALUE, "--version", "--help") if option.startswith(token)]
    return len(matches) == 1 and matches[0] in GLOBAL_OPTIONS_WITH_VALUE


def first_positional(argv: Sequence[str]) -> str | None:
    """Return the first token of ``argv`` that is neither a global option nor its value.

    ``None`` when there is none or ``-h``/``--help`` comes first (the whole command list is
    then wanted).
    """
    skip = False
    for token in argv:
        if skip:
            skip = False
        elif token in GLOBAL_OPTIONS_WITH_VALUE or _abbreviates_option_with_value(token):
            skip = True
        elif token in ("-h", "--help"):
            return None
        elif token.startswith("-"):
            continue
        else:
            return token
    return None


def chosen_command(argv: Sequence[str], names: set[str]) -> str | None:
    """Return the sub-command named in ``argv`` (skipping global options and their values).

    ``None`` when there is none, it is unknown, or ``-h``/``--help`` comes first (the
    whole command list is then wanted).
    """
    token = first_positional(argv)
    return token if token in names else None


def build_parser(commands: Sequence[Command], *, only: str | None = None) -> argparse.ArgumentParser:
    """Return the ``genesis`` parser with one sub-parser per command.

    With ``only`` (the command ``argv`` names), the parser holds just that command's
    sub-parser, configured, so no other command's module is imported.  Without it
    (help, no command, an unknown one) every command is listed by name and help,
    none is configured or can run, so a plugin command that cannot load cannot
    break ``--help``.
    """
    parser = _Parser(prog="genesis", description="Keep environment variables consistent across platforms.")
    parser.add_argument("-V", "--version", action="version", version=f"genesis {__version__}")
    parser.add_argument("--config", metavar="PATH", help="config file (default: genesis.toml found upwards)")
    parser.add_argument("--role", metavar="ROLE", help="Guardian role to publish as (default from [guardian])")
    parser.add_argument("--log-level", metavar="LEVEL", type=str.upper,
                        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                        default=os.environ.get("GENESIS_LOG_LEVEL", "").upper() or None,
                        help="log to stderr at LEVEL (default: $GENESIS_LOG_LEVEL, else warnings only)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in commands:
        if only is not None and only != command.name:
            continue
        child = sub.add_parser(command.name, help=command.help, description=command.help)
        if only is not None:
            command.configure(child)
            child.set_defaults(_command=command)
    return parser


def _configure_logging(level: str | None) -> None:
    """Send log records at ``level`` and above to stderr, one line each (secrets are never logged)."""
    if level is None:
        return
    import logging

    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise UsageError(f"GENESIS_LOG_LEVEL: expected DEBUG, INFO, WARNING or ERROR, got {level!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    from ..http import install_log_redaction

    install_log_redaction()


def _collect_commands(ctx: CommandContext) -> tuple[list[Command], list[str]]:
    """Return every registered command (the core's first, as registered) and the refused ones."""
    from .builtin import COMMANDS

    host = ctx.host
    first = {name: index for index, (name, _, _) in enumerate(COMMANDS)}
    commands = sorted(host.commands().values(), key=lambda c: (first.get(c.name, len(first)), c.name))
    problems = [f"plugin {p.plugin!r}: {p.error}; ignored" for p in host.problems
                if p.hook == "genesis_register_commands"]
    return commands, problems


def run(argv: Sequence[str]) -> int:
    """Parse ``argv``, run the chosen command and return its exit code."""
    ctx = CommandContext()
    try:
        commands, problems = _collect_commands(ctx)
    except GenesisError as exc:
        ctx.error(str(exc))
        return exc.exit_code
    only = chosen_command(argv, {c.name for c in commands})
    wanted = first_positional(argv) if only is None else None
    if wanted in first_party.COMMANDS:  # a first-party plugin's command, not installed here
        ctx.error(first_party.missing(f"`genesis {wanted}`", first_party.COMMANDS[wanted],
                                      ctx.host.plugin_infos()))
        return EXIT_ERROR
    try:
        parser = build_parser(commands, only=only)
    except Exception as exc:  # a plugin command whose module cannot be imported or configured
        if os.environ.get("GENESIS_DEBUG"):
            raise
        ctx.error(f"{only}: the command could not be loaded ({one_line(exc, every_line=True)}); "
                  "`genesis plugins` shows which plugin provides it")
        return EXIT_ERROR
    args = parser.parse_args(list(argv))
    ctx.config_path = args.config
    ctx.role = args.role
    for problem in problems:
        ctx.error(problem)
    command: Command | None = getattr(args, "_command", None)
    if command is None:
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    try:
        _configure_logging(args.log_level)
        return int(command.run(args, ctx))
    except GenesisError as exc:
        ctx.error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        ctx.error("interrupted")
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        if os.environ.get("GENESIS_DEBUG"):
            raise
        ctx.error(f"internal error ({type(exc).__name__}); run with GENESIS_DEBUG=1 to see the traceback "
                  "and please report it")
        return EXIT_ERROR
    finally:
        ctx.close()
