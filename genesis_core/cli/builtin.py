"""The core's own commands, registered through ``genesis_register_commands`` like any plugin's.

One of the ``BUILTIN_PLUGINS`` (``genesis_core.plugins``).  Each command is
registered lazily: its name and help are here, and the module holding its
``COMMAND`` is imported only when the command runs, so ``genesis plugins``
imports no other command's module (``tests/test_cli.py`` keeps this table and
the modules' ``COMMAND`` in step).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._markers import hookimpl

if TYPE_CHECKING:
    from collections.abc import Callable

    from .commands import Command

#: Every core command: name, help and the module (in ``genesis_core.cli``) holding its ``COMMAND``.
COMMANDS = (
    ("sync", "compare every configured platform; exit 0 parity, 1 drift, 2 error", "cmd_sync"),
    ("init", "write a commented genesis.toml for the platforms you name", "cmd_init"),
    ("doctor", "check config, credentials, plugins, state dir and platforms", "cmd_doctor"),
    ("demo", "run the whole flow on emulated Render, Netlify and GitHub (no credentials)", "cmd_demo"),
    ("emulate", "run emulated Render, Netlify, GitHub, Heroku, Fly.io and Railway APIs on 127.0.0.1 "
                "(for trying Genesis)", "cmd_emulate"),
    ("plugins", "list installed plugins, what they register, and broken ones", "cmd_plugins"),
    ("events", "inspect the event store: history, stats, tail, export, dead letters", "cmd_events"),
    ("publish", "publish one event (checked by the Guardian)", "cmd_publish"),
)


@hookimpl
def genesis_register_commands(register: Callable[[Command], None]) -> None:
    """Register the core's commands (each module is imported when its command is used)."""
    from .commands import Command

    for name, text, module in COMMANDS:
        register(Command.lazy(name, text, f"{__package__}.{module}:COMMAND"))
