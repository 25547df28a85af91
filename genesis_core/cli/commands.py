"""What a plugin registers to add a ``genesis`` sub-command."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from .context import CommandContext


@attrs.frozen
class Command:
    """A sub-command: ``configure`` adds its arguments, ``run`` returns the exit code."""

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, CommandContext], int]

    @classmethod
    def lazy(cls, name: str, help: str, target: str) -> Command:
        """Return a command whose module is imported only when it is used.

        ``target`` is ``"module:attribute"`` naming the real ``Command``.
        """
        def resolve() -> Command:
            from ..discovery import load_value

            found = load_value(target)
            if not isinstance(found, Command):
                raise TypeError(f"{target} is a {type(found).__name__}, not a Command")
            return found

        def configure(parser: argparse.ArgumentParser) -> None:
            resolve().configure(parser)

        def run(args: argparse.Namespace, ctx: CommandContext) -> int:
            return int(resolve().run(args, ctx))

        return cls(name, help, configure, run)
