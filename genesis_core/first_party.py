"""Which first-party distribution provides each command, platform kind, engine and transport.

When something a command line or a config names is not installed, Genesis says in one line
which distribution to install (``pip install genesis-envsync-autonomy``) instead of
``invalid choice``.  Only this project's own distributions are listed: a third-party
plugin's names are its own.  ``tests/test_first_party.py`` keeps the table in step with the
plugins in this repository.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class PluginState(Protocol):
    """What ``missing`` reads of a plugin (``plugins.PluginInfo``; a protocol keeps this table a leaf module)."""

    @property
    def name(self) -> str: ...
    @property
    def distribution(self) -> str: ...
    @property
    def disabled(self) -> bool: ...
    @property
    def broken(self) -> bool: ...
    @property
    def error(self) -> str | None: ...


#: The core distribution.
CORE = "genesis-envsync"

#: ``genesis COMMAND`` -> the distribution that registers it.
COMMANDS: dict[str, str] = {
    "heal": "genesis-envsync-autonomy",
    "blueprint": "genesis-envsync-blueprint",
    "serve": "genesis-envsync-cascade",
    "worker": "genesis-envsync-nats",
    "nats": "genesis-envsync-nats",
    "steward": "genesis-envsync-steward",
    "ledger": "genesis-envsync-truth",
}

#: ``kind = "..."`` of a ``[platforms.NAME]`` table -> the distribution that registers it.
KINDS: dict[str, str] = {
    "render": "genesis-envsync-render",
    "netlify": "genesis-envsync-netlify",
    "github": "genesis-envsync-github",
    "vercel": "genesis-envsync-vercel",
    "aws-ssm": "genesis-envsync-aws",
    "aws-secrets-manager": "genesis-envsync-aws",
    "vault": "genesis-envsync-vault",
    "heroku": "genesis-envsync-heroku",
    "fly": "genesis-envsync-fly",
    "railway": "genesis-envsync-railway",
}

#: The kinds whose plugin offers an emulator (``PlatformKind.emulator``), in ``genesis emulate``'s order.
EMULATED_KINDS: tuple[str, ...] = ("render", "netlify", "github", "heroku", "fly", "railway")

#: ``[engines.NAME]`` -> the distribution that registers the engine.
ENGINES: dict[str, str] = {
    "truth": "genesis-envsync-truth",
    "blueprint": "genesis-envsync-blueprint",
    "steward": "genesis-envsync-steward",
    "cascade": "genesis-envsync-cascade",
    "autonomy": "genesis-envsync-autonomy",
}

#: ``[bus] transport = "..."`` -> the distribution that registers it.
TRANSPORTS: dict[str, str] = {
    "nats": "genesis-envsync-nats",
}


def install_command(distributions: Iterable[str]) -> str:
    """Return ``pip install A B`` for the distributions, each once, in the order given."""
    return "pip install " + " ".join(dict.fromkeys(distributions))


def missing(what: str, distribution: str, infos: Iterable[PluginState] = ()) -> str:
    """Return one line saying why ``what`` is unavailable and what to do.

    ``what`` reads as a subject (``"the render emulator"``).  ``infos`` are the plugins the
    host saw: a plugin of ``distribution`` that is disabled or broken is named as such, and
    so is a distribution that is installed but whose plugin did not load (installing it
    again would not help).
    """
    for info in infos:
        if info.distribution != distribution:
            continue
        if info.disabled:
            return (f"{what} comes with {distribution}, whose plugin {info.name!r} is disabled: "
                    f"remove {info.name} from GENESIS_DISABLE_PLUGINS")
        if info.broken:
            return (f"{what} comes with {distribution}, which is installed but failed to load "
                    f"({info.error}); `genesis plugins` shows every plugin's state")
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version(distribution)
    except PackageNotFoundError:
        return f"{what} needs {distribution}, which is not installed: {install_command([distribution])}"
    return (f"{what} comes with {distribution} {installed}, which is installed but did not load; "
            "`genesis plugins` shows every plugin's state")


#: Distributions known to ship a ``genesis_core`` package of their own: the unrelated
#: ``genesis-core`` project on PyPI (and Genesis itself before it was renamed).
CLASHING = ("genesis-core",)


def clashing_distributions() -> list[tuple[str, str]]:
    """Return ``(name, version)`` of every installed distribution other than ours that ships ``genesis_core``.

    Both ship files under ``genesis_core/``, so in one environment the last one installed
    overwrites the other's.  Found by name (``CLASHING``) and by the packages each
    distribution's metadata says it provides.
    """
    from importlib.metadata import PackageNotFoundError, packages_distributions, version

    def canonical(name: str) -> str:
        return name.lower().replace("_", "-").replace(".", "-")

    names = {canonical(name) for name in packages_distributions().get("genesis_core", ())}
    names.update(CLASHING)
    found = []
    for name in sorted(names - {CORE}):
        try:
            found.append((name, version(name)))
        except PackageNotFoundError:
            continue
    return found
