"""The Guardian gate: every permission hook is asked before a publish; any deny blocks.

``Guardian`` calls each ``genesis_check_permission`` implementation itself
(pluggy would stop at the first exception) and combines the answers with a
veto rule.  It fails closed: a hook that raises, hangs, or returns something
that is not a :class:`Decision` denies, and so does the absence of any hook
or of any explicit allow.

``DefaultPolicy`` is the built-in policy read from ``[guardian]``; see
``docs/bus.md`` for the reference.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from .._markers import hookimpl
from ..errors import BusError
from .topics import compile_pattern, validate_pattern

if TYPE_CHECKING:
    import pluggy

    from ..config import Config, Table

log = logging.getLogger("genesis.guardian")

HOOK_NAME = "genesis_check_permission"
RESERVED_PATTERN = "genesis.>"
DEFAULT_ROLE = "operator"
DEFAULT_READ_ONLY_TOPICS = ("envsync.init",)
_CI_TOPICS = ("envsync.>", "blueprint.>", "steward.>", "truth.>", "cascade.>",
              "autonomy.heal.planned", "autonomy.alert")


@attrs.frozen
class Decision:
    """One answer of a permission hook: allowed or not, why, and by whom."""

    allowed: bool = attrs.field(validator=attrs.validators.instance_of(bool))
    reason: str = ""
    by: str = ""

    @classmethod
    def allow(cls, by: str = "") -> Decision:
        """Return an allow decision."""
        return cls(True, "allowed", by)

    @classmethod
    def deny(cls, reason: str, by: str = "") -> Decision:
        """Return a deny decision with ``reason``."""
        return cls(False, reason, by)


def _plugin_name(plugin: object) -> str:
    return str(getattr(plugin, "name", None) or type(plugin).__name__)


class Guardian:
    """Asks every permission hook (from a plugin manager and/or extra policy objects); veto rule."""

    def __init__(self, pm: pluggy.PluginManager | None = None, policies: Iterable[object] = (), *,
                 hook_timeout: float = 10.0) -> None:
        self.pm = pm
        self.policies = tuple(policies)
        self.hook_timeout = hook_timeout
        for policy in self.policies:
            if not callable(getattr(policy, HOOK_NAME, None)):
                raise BusError(f"{_plugin_name(policy)} has no {HOOK_NAME} method")

    @classmethod
    def of(cls, *policies: object, hook_timeout: float = 10.0) -> Guardian:
        """Return a Guardian that asks only ``policies`` (objects with a ``genesis_check_permission``)."""
        return cls(None, policies, hook_timeout=hook_timeout)

    def checks(self) -> list[tuple[str, Callable[..., Any], tuple[str, ...] | None]]:
        """Return ``(name, function, argnames)`` for every permission hook, plugin manager first."""
        found: list[tuple[str, Callable[..., Any], tuple[str, ...] | None]] = []
        if self.pm is not None:
            caller = getattr(self.pm.hook, HOOK_NAME, None)
            if caller is not None:
                for impl in caller.get_hookimpls():
                    found.append((impl.plugin_name, impl.function, tuple(impl.argnames)))
        for policy in self.policies:
            found.append((_plugin_name(policy), getattr(policy, HOOK_NAME), None))
        return found

    async def check(self, topic: str, event: Mapping[str, Any], context: Mapping[str, Any]
                    ) -> Decision:
        """Return the combined decision for publishing ``event`` on ``topic`` in ``context``."""
        checks = self.checks()
        if not checks:
            return Decision.deny("no permission hook is registered (fail closed)", "guardian")
        arguments = {"topic": topic, "event": event, "context": context}
        allowed: Decision | None = None
        denials: list[Decision] = []
        for name, function, argnames in checks:
            kwargs = arguments if argnames is None or len(argnames) == 3 else {
                k: arguments[k] for k in argnames if k in arguments}
            try:
                result = function(**kwargs)
            except Exception as exc:
                result = self._raised(name, exc)
            if type(result) is not Decision and result is not None:
                result = await self._resolve(name, result)
            if result is None:
                continue
            if result.allowed is True:
                if allowed is None:
                    allowed = result if result.by else attrs.evolve(result, by=name)
            else:  # anything but a real True denies; rebuilt so a forged value never leaves
                denials.append(Decision(False, str(result.reason or f"denied by {name}"),
                                        str(result.by or name)))
        if denials:
            if len(denials) == 1:
                return denials[0]
            reason = "; ".join(d.reason for d in denials)
            by = ",".join(dict.fromkeys(d.by for d in denials))
            return Decision.deny(reason, by)
        if allowed is None:
            return Decision.deny("no permission hook allowed this publish (fail closed)", "guardian")
        return allowed

    @staticmethod
    def _raised(name: str, exc: BaseException) -> Decision:
        # The message may quote the event, so only the exception type is kept.
        log.warning("permission hook %s raised %s; denying", name, type(exc).__name__)
        return Decision.deny(f"permission hook {name} raised {type(exc).__name__} (fail closed)",
                             name)

    async def _resolve(self, name: str, result: Any) -> Decision | None:
        """Await an async hook's answer (bounded) and check that it is a Decision or None."""
        if inspect.isawaitable(result):
            try:
                async with asyncio.timeout(self.hook_timeout):
                    result = await result
            except TimeoutError:
                log.warning("permission hook %s timed out; denying", name)
                return Decision.deny(f"permission hook {name} timed out (fail closed)", name)
            except Exception as exc:
                return self._raised(name, exc)
        if result is None or isinstance(result, Decision):
            return result
        return Decision.deny(f"permission hook {name} returned {type(result).__name__}, "
                             "not a Decision (fail closed)", name)


# ---------------------------------------------------------------- default policy

@attrs.frozen
class RolePolicy:
    """What one role may publish: allow patterns, and deny patterns that win over them."""

    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    description: str = ""


BUILTIN_ROLES: dict[str, RolePolicy] = {
    "operator": RolePolicy(allow=(">",), description="a person at the CLI: any topic"),
    "ci": RolePolicy(allow=_CI_TOPICS, description="a CI job: sync and engine topics, "
                                                    "heal plans and alerts"),
    "engine": RolePolicy(allow=(">",), deny=("autonomy.heal.apply",),
                         description="an engine reacting to events: any topic except the request to "
                                     "heal automatically (autonomy.heal.apply), which needs a policy"),
}


class DefaultPolicy:
    """The built-in permission hook: roles with allow/deny topic patterns, from ``[guardian]``."""

    name = "genesis-default-policy"

    def __init__(self, roles: Mapping[str, RolePolicy] | None = None, *,
                 default_role: str = DEFAULT_ROLE,
                 read_only_topics: Iterable[str] = DEFAULT_READ_ONLY_TOPICS) -> None:
        self.roles = dict(BUILTIN_ROLES if roles is None else roles)
        self.default_role = default_role
        self.read_only_topics = tuple(read_only_topics)
        for pattern in self.read_only_topics:
            validate_pattern(pattern)
        for role in self.roles.values():
            for pattern in (*role.allow, *role.deny):
                validate_pattern(pattern)
        self._cache: dict[tuple[str, str], Decision] = {}

    @classmethod
    def from_config(cls, config: Config) -> DefaultPolicy:
        """Return the policy of ``config``'s ``[guardian]`` table."""
        return cls.from_table(config.section("guardian"))

    @classmethod
    def from_table(cls, table: Table) -> DefaultPolicy:
        """Return the policy described by a ``[guardian]`` table; raise ``ConfigError`` if malformed."""
        table.check_known({"default_role", "read_only_topics", "roles", "builtin_roles"})
        default_role = table.str("default_role", DEFAULT_ROLE)
        read_only = _patterns(table, "read_only_topics", DEFAULT_READ_ONLY_TOPICS)
        roles = dict(BUILTIN_ROLES) if table.bool("builtin_roles", True) else {}
        roles_table = table.table("roles")
        for role_name in roles_table:
            role_table = roles_table.table(role_name)
            role_table.check_known({"allow", "deny", "description"})
            roles[role_name] = RolePolicy(
                allow=_patterns(role_table, "allow", ()),
                deny=_patterns(role_table, "deny", ()),
                description=role_table.str("description", ""),
            )
        return cls(roles, default_role=default_role, read_only_topics=read_only)

    @hookimpl
    def genesis_check_permission(self, topic: str, event: Mapping[str, Any],
                                 context: Mapping[str, Any]) -> Decision:
        """Return allow/deny for ``topic`` by the role in ``context`` (the event is not inspected)."""
        role = context.get("role")
        role = self.default_role if role is None else str(role)
        key = (role, topic)
        decision = self._cache.get(key)
        if decision is None:
            decision = self._decide(role, topic)
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache[key] = decision
        return decision

    def _decide(self, role: str, topic: str) -> Decision:
        if compile_pattern(RESERVED_PATTERN).matches(topic):
            return Decision.deny(f"{topic!r}: genesis.* topics are reserved for the bus", self.name)
        policy = self.roles.get(role)
        if policy is None:
            if any(compile_pattern(p).matches(topic) for p in self.read_only_topics):
                return Decision.allow(self.name)
            return Decision.deny(f"unknown role {role!r} may publish only read-only topics "
                                 f"({', '.join(self.read_only_topics) or 'none'})", self.name)
        for pattern in policy.deny:
            if compile_pattern(pattern).matches(topic):
                return Decision.deny(f"role {role!r} may not publish {topic!r} "
                                     f"(denied by {pattern!r})", self.name)
        for pattern in policy.allow:
            if compile_pattern(pattern).matches(topic):
                return Decision.allow(self.name)
        return Decision.deny(f"role {role!r} may not publish {topic!r} (not in its allow list)",
                             self.name)

    def describe(self) -> dict[str, Any]:
        """Return the effective policy as plain data (for docs and ``--json`` output)."""
        return {
            "default_role": self.default_role,
            "read_only_topics": list(self.read_only_topics),
            "reserved": RESERVED_PATTERN,
            "roles": {name: {"allow": list(p.allow), "deny": list(p.deny),
                             "description": p.description} for name, p in self.roles.items()},
        }


def _patterns(table: Table, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    patterns = table.str_list(key, default)
    for index, pattern in enumerate(patterns):
        try:
            validate_pattern(pattern)
        except BusError as exc:
            raise table.error(f"{key}[{index}]", str(exc)) from None
    return tuple(patterns)
