"""``[environments.NAME]`` and ``[sync] same_everywhere``: which instances make up each environment.

An environment (production, staging, preview...) is a named group of platform
instances that must agree with each other; different environments may hold
different values for the same key.  Every instance belongs to exactly one
environment once ``[environments]`` exists; without it there is one implicit
environment holding every instance, and nothing changes.  ``same_everywhere``
lists key patterns whose values must also match across environments.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import attrs

from .errors import ConfigError, UsageError

if TYPE_CHECKING:
    from .config import Config, Table

__all__ = ["ENVIRONMENT_NAME", "Environment", "Environments", "environments_from_config", "reference_for"]

#: An environment name: it becomes a JSON key, part of report file names and of Cascade messages.
ENVIRONMENT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,47}")
ENVIRONMENT_KEYS = frozenset({"platforms", "reference"})


@attrs.frozen
class Environment:
    """One ``[environments.NAME]``: its instances (config order) and its optional heal reference."""

    name: str
    platforms: tuple[str, ...]
    reference: str | None = None


@attrs.frozen
class Environments:
    """Every configured environment, in config order; empty when ``[environments]`` is absent."""

    environments: tuple[Environment, ...] = ()
    same_everywhere: tuple[str, ...] = ()

    @property
    def configured(self) -> bool:
        """Return whether ``[environments]`` exists (otherwise one implicit environment holds everything)."""
        return bool(self.environments)

    @property
    def names(self) -> tuple[str, ...]:
        """Return the environment names in config order."""
        return tuple(env.name for env in self.environments)

    def get(self, name: str) -> Environment:
        """Return the environment ``name``; raise ``KeyError`` when there is none."""
        for env in self.environments:
            if env.name == name:
                return env
        raise KeyError(name)

    def of(self, instance: str) -> str | None:
        """Return the name of the environment ``instance`` belongs to (``None`` when not configured)."""
        for env in self.environments:
            if instance in env.platforms:
                return env.name
        return None

    def select(self, names: Iterable[str] | None) -> tuple[Environment, ...]:
        """Return the environments named by ``--env`` (all when ``None``), in config order.

        Raises ``UsageError`` for an unknown name or when no environments are configured.
        """
        if names is None:
            return self.environments
        wanted = [n.strip() for n in names if n.strip()]
        if not wanted:
            raise UsageError("--env: name at least one environment")
        if not self.configured:
            raise UsageError("--env: no environments are configured (add [environments.NAME] tables "
                             "to genesis.toml)")
        unknown = [n for n in wanted if n not in self.names]
        if unknown:
            raise UsageError(f"--env: unknown environment {', '.join(unknown)} "
                             f"(configured: {', '.join(self.names)})")
        return tuple(env for env in self.environments if env.name in wanted)


def _check_patterns(table: Table, key: str) -> tuple[str, ...]:
    """Return the key patterns in ``table[key]``; a bad one is a ``ConfigError`` naming its position."""
    from .patterns import patterns_setting

    return patterns_setting(table, key)


def environments_from_config(config: Config) -> Environments:
    """Return the environments of ``config``; raise ``ConfigError`` naming the file and key on bad input.

    Every ``[platforms.NAME]`` must be in exactly one environment's ``platforms`` once
    ``[environments]`` exists: an instance in none or in two is an error naming it.
    ``reference``, when given, must be one of the environment's own platforms.
    """
    section = config.section("environments")
    sync = config.section("sync")
    same = _check_patterns(sync, "same_everywhere")
    if not section:
        if same:
            raise sync.error("same_everywhere", "needs [environments.NAME] tables: values are compared across "
                                                "environments only")
        return Environments()
    instances = config.platforms()
    configured = ", ".join(instances) or "none"
    owner: dict[str, str] = {}
    environments = []
    for name in section:
        table = section.table(name)
        if ENVIRONMENT_NAME.fullmatch(name) is None:
            raise ConfigError(f"invalid environment name {name!r}: use a letter followed by up to 47 letters, "
                              "digits, '_' or '-'", file=table.file, key=table.path)
        table.check_known(ENVIRONMENT_KEYS)
        platforms = table.str_list("platforms")
        if not platforms:
            raise table.error("platforms", "must name at least one platform instance")
        for index, instance in enumerate(platforms):
            where = f"platforms[{index}]"
            if instance not in instances:
                raise table.error(where, f"unknown platform instance {instance!r} (configured: {configured})")
            if instance in owner:
                other = owner[instance]
                raise table.error(where, f"{instance} is already in environment {other!r}: "
                                         "an instance belongs to one environment only"
                                  if other != name else f"{instance} is listed twice")
            owner[instance] = name
        reference = table.str("reference", None)
        if reference is not None and reference not in platforms:
            raise table.error("reference", f"{reference!r} is not one of this environment's platforms "
                                           f"({', '.join(platforms)})")
        environments.append(Environment(name, tuple(platforms), reference))
    for instance, table in instances.items():
        if instance not in owner:
            raise ConfigError(f"{instance} is in no environment: add it to the platforms of one "
                              f"[environments.NAME] ({', '.join(section)})", file=table.file, key=table.path)
    return Environments(tuple(environments), same)


def reference_for(config: Config, env: Environment | None,
                  instances: Mapping[str, object] | Iterable[str]) -> str | None:
    """Return the heal reference of ``env``: its ``reference``, else ``[engines.autonomy] reference`` when
    that instance is among ``instances`` (the environment's, or every instance without environments)."""
    if env is not None and env.reference is not None:
        return env.reference
    names = set(instances)
    autonomy = config.engine("autonomy").data.get("reference")
    return autonomy if isinstance(autonomy, str) and autonomy in names else None
