"""What a plugin registers to add a ``genesis`` sub-command."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Callable

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
