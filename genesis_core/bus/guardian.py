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
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

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


_ARGNAMES = ("topic", "event", "context")
#: One permission hook: (plugin name, function, its argument names or None for a policy object,
#: whether it takes exactly ``topic, event, context`` in that order).
_Check = tuple[str, Callable[..., Any], "tuple[str, ...] | None", bool]


def _takes_arguments_in_order(function: Callable[..., Any]) -> bool:
    """Return whether ``function(topic, event, context)`` binds exactly like the keyword call."""
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return False
    return ([p.name for p in parameters] == list(_ARGNAMES)
            and all(p.kind is p.POSITIONAL_OR_KEYWORD for p in parameters))


class _Verdict:
    """Folds the hooks' answers with the veto rule: any deny wins, else the first allow."""

    __slots__ = ("allowed", "denials")

    def __init__(self) -> None:
        self.allowed: Decision | None = None
        self.denials: list[Decision] = []

    def add(self, name: str, result: Decision | None) -> None:
        """Count one hook's answer (``None`` abstains)."""
        if result is None:
            return
        if result.allowed is True:
            if self.allowed is None:
                self.allowed = result if result.by else attrs.evolve(result, by=name)
        else:  # anything but a real True denies; rebuilt so a forged value never leaves
            self.denials.append(Decision(False, str(result.reason or f"denied by {name}"),
                                         str(result.by or name)))

    def decision(self) -> Decision:
        """Return the combined decision (fail closed when nobody allowed)."""
        denials = self.denials
        if denials:
            if len(denials) == 1:
                return denials[0]
            reason = "; ".join(d.reason for d in denials)
            by = ",".join(dict.fromkeys(d.by for d in denials))
            return Decision.deny(reason, by)
        if self.allowed is None:
            return Decision.deny("no permission hook allowed this publish (fail closed)", "guardian")
        return self.allowed


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
        self._impls: list[Any] = []
        self._checks: tuple[_Check, ...] = self._build([])

    @classmethod
    def of(cls, *policies: object, hook_timeout: float = 10.0) -> Guardian:
        """Return a Guardian that asks only ``policies`` (objects with a ``genesis_check_permission``)."""
        return cls(None, policies, hook_timeout=hook_timeout)

    def checks(self) -> list[tuple[str, Callable[..., Any], tuple[str, ...] | None]]:
        """Return ``(name, function, argnames)`` for every permission hook, plugin manager first."""
        return [(name, function, argnames) for name, function, argnames, _ in self._current()]

    def _build(self, impls: list[Any]) -> tuple[_Check, ...]:
        found: list[_Check] = []
        for impl in impls:
            argnames = tuple(impl.argnames)
            found.append((impl.plugin_name, impl.function, argnames, argnames == _ARGNAMES))
        for policy in self.policies:
            function = getattr(policy, HOOK_NAME)
            found.append((_plugin_name(policy), function, None, _takes_arguments_in_order(function)))
        return tuple(found)

    def _current(self) -> tuple[_Check, ...]:
        """Return the hooks to ask, rebuilt only when the plugin manager's implementations change."""
        if self.pm is not None:
            caller = getattr(self.pm.hook, HOOK_NAME, None)
            impls = caller.get_hookimpls() if caller is not None else []
            if impls != self._impls:
                self._checks, self._impls = self._build(impls), impls
        return self._checks

    async def check(self, topic: str, event: Mapping[str, Any], context: Mapping[str, Any]
                    ) -> Decision:
        """Return the combined decision for publishing ``event`` on ``topic`` in ``context``."""
        decision = self.gate(topic, event, context)
        return decision if type(decision) is Decision else await cast("Awaitable[Decision]", decision)

    def gate(self, topic: str, event: Mapping[str, Any], context: Mapping[str, Any]
             ) -> Decision | Awaitable[Decision]:
        """Return ``check``'s decision at once, or an awaitable of it if a hook answered asynchronously.

        The bus calls this so that a gate of synchronous hooks costs no coroutine.
        """
        checks = self._checks if self.pm is None else self._current()
        if not checks:
            return Decision.deny("no permission hook is registered (fail closed)", "guardian")
        if len(checks) == 1 and checks[0][3]:  # the usual case: one hook, called positionally
            try:
                first = checks[0][1](topic, event, context)
            except Exception as exc:
                first = self._raised(checks[0][0], exc)
            if type(first) is Decision and first.allowed is True and first.by:
                return first  # it allows, and there is nothing to combine
        else:
            first = self._ask(checks[0], topic, event, context)
        verdict = _Verdict()
        for index, check in enumerate(checks):
            result = first if index == 0 else self._ask(check, topic, event, context)
            if type(result) is not Decision and result is not None:
                return self._gate_rest(checks, index, result, topic, event, context, verdict)
            verdict.add(check[0], result)
        return verdict.decision()

    async def _gate_rest(self, checks: tuple[_Check, ...], index: int, pending: Any, topic: str,
                         event: Mapping[str, Any], context: Mapping[str, Any], verdict: _Verdict
                         ) -> Decision:
        """Finish ``gate`` from hook ``index`` on, whose answer ``pending`` still needs resolving."""
        verdict.add(checks[index][0], await self._resolve(checks[index][0], pending))
        for check in checks[index + 1:]:
            result = self._ask(check, topic, event, context)
            if type(result) is not Decision and result is not None:
                result = await self._resolve(check[0], result)
            verdict.add(check[0], result)
        return verdict.decision()

    def _ask(self, check: _Check, topic: str, event: Mapping[str, Any],
             context: Mapping[str, Any]) -> Any:
        """Return what one hook answered (a ``Decision``, ``None``, or anything it returned)."""
        name, function, argnames, positional = check
        try:
            if positional:
                return function(topic, event, context)
            if argnames is None:  # a policy object: its method is called with keywords
                return function(topic=topic, event=event, context=context)
            arguments = {"topic": topic, "event": event, "context": context}
            return function(**{k: arguments[k] for k in argnames if k in arguments})
        except Exception as exc:
            return self._raised(name, exc)

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
        if type(role) is not str:
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
