"""The Guardian gate: veto rule, fail closed, the default policy and blocked events on the bus."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path
from typing import Any

import pluggy
import pytest

from genesis_core import hookimpl, hookspecs
from genesis_core.bus import BLOCKED_TOPIC, Decision, DefaultPolicy, GenesisBus, Guardian
from genesis_core.bus.guardian import BUILTIN_ROLES, RolePolicy
from genesis_core.bus.store import open_store
from genesis_core.config import load_config
from genesis_core.errors import ConfigError

CANARY = "ghp_CanaryCanaryCanary0123456789abcdef"


def check(guardian: Guardian, topic: str, role: str | None = "operator",
          event: dict[str, Any] | None = None) -> Decision:
    return asyncio.run(guardian.check(topic, event or {}, {"role": role}))


class Allow:
    name = "allow-all"

    def genesis_check_permission(self, topic: str, event: Any, context: Any) -> Decision:
        return Decision.allow()


class Deny:
    name = "deny-secrets"

    def genesis_check_permission(self, topic: str, event: Any, context: Any) -> Decision | None:
        return Decision.deny("no secrets topics") if topic.startswith("secret.") else None


class Raises:
    name = "buggy"

    def genesis_check_permission(self, topic: str, event: Any, context: Any) -> Decision:
        raise KeyError(f"leaked {event.get('token')}")


class Abstains:
    def genesis_check_permission(self, topic: str, event: Any, context: Any) -> None:
        return None


# ------------------------------------------------------------------ Guardian mechanics

def test_decision_constructors() -> None:
    assert Decision.allow("x") == Decision(True, "allowed", "x")
    assert Decision.deny("because", "y") == Decision(False, "because", "y")
    with pytest.raises(AttributeError):
        Decision.allow().allowed = False  # type: ignore[misc]


def test_allow_and_veto() -> None:
    assert check(Guardian.of(Allow()), "a.b") == Decision(True, "allowed", "allow-all")
    guardian = Guardian.of(Allow(), Deny())
    assert check(guardian, "a.b").allowed
    denied = check(guardian, "secret.x")
    assert not denied.allowed and denied.reason == "no secrets topics" and denied.by == "deny-secrets"


def test_an_error_in_any_hook_denies_without_quoting_the_event() -> None:
    decision = check(Guardian.of(Allow(), Raises()), "a.b", event={"token": CANARY})
    assert not decision.allowed
    assert decision.by == "buggy" and "KeyError" in decision.reason and "fail closed" in decision.reason
    assert CANARY not in decision.reason


def test_no_hooks_or_only_abstentions_deny() -> None:
    assert not check(Guardian(), "a.b").allowed
    assert "no permission hook" in check(Guardian(), "a.b").reason
    assert not check(Guardian.of(Abstains()), "a.b").allowed


def test_async_hooks_are_awaited_and_bounded() -> None:
    class AsyncAllow:
        async def genesis_check_permission(self, topic: str, event: Any, context: Any) -> Decision:
            await asyncio.sleep(0)
            return Decision.allow("async")

    class Hangs:
        name = "hangs"

        async def genesis_check_permission(self, topic: str, event: Any, context: Any) -> Decision:
            await asyncio.sleep(30)
            return Decision.allow()

    assert check(Guardian.of(AsyncAllow()), "a.b") == Decision(True, "allowed", "async")
    slow = check(Guardian.of(AsyncAllow(), Hangs(), hook_timeout=0.1), "a.b")
    assert not slow.allowed and "timed out" in slow.reason


def test_a_hook_returning_garbage_denies() -> None:
    class Garbage:
        name = "garbage"

        def genesis_check_permission(self, topic: str, event: Any, context: Any) -> Any:
            return True

    decision = check(Guardian.of(Allow(), Garbage()), "a.b")
    assert not decision.allowed and "not a Decision" in decision.reason


def test_hooks_come_from_a_real_plugin_manager_and_all_are_asked() -> None:
    pm = pluggy.PluginManager("genesis")
    pm.add_hookspecs(hookspecs)
    asked: list[str] = []

    class First:
        @hookimpl
        def genesis_check_permission(self, topic: str) -> None:  # a subset of the arguments
            asked.append("first")
            raise RuntimeError("pluggy would stop here")

    class Second:
        @hookimpl
        def genesis_check_permission(self, topic: str, event: Any, context: Any) -> Decision:
            asked.append("second")
            return Decision.allow()

    pm.register(First(), name="first")
    pm.register(Second(), name="second")
    decision = check(Guardian(pm), "a.b")
    assert sorted(asked) == ["first", "second"]
    assert not decision.allowed and decision.by == "first"
    pm.unregister(name="first")
    assert check(Guardian(pm, (DefaultPolicy(),)), "a.b").allowed


# ------------------------------------------------------------------ default policy

ROLE_TABLE = [
    ("operator", "envsync.drift", True),
    ("operator", "autonomy.heal.apply", True),
    ("operator", "genesis.blocked", False),
    ("ci", "envsync.drift", True),
    ("ci", "blueprint.warning", True),
    ("ci", "truth.checkpoint.signed", True),
    ("ci", "autonomy.heal.planned", True),
    ("ci", "autonomy.alert", True),
    ("ci", "autonomy.heal.applied", False),
    ("ci", "autonomy.heal.apply", False),
    ("ci", "genesis.anything", False),
    ("engine", "steward.report", True),
    ("engine", "autonomy.heal.applied", True),
    ("engine", "autonomy.heal.failed", True),
    ("engine", "autonomy.heal.apply", False),
    ("stranger", "envsync.init", True),
    ("stranger", "envsync.drift", False),
    ("stranger", "genesis.blocked", False),
    (None, "autonomy.heal.apply", True),  # no role: the default role (operator)
]


@pytest.mark.parametrize(("role", "topic", "allowed"), ROLE_TABLE)
def test_builtin_roles(role: str | None, topic: str, allowed: bool) -> None:
    assert check(Guardian.of(DefaultPolicy()), topic, role).allowed is allowed


def test_denials_say_why() -> None:
    guardian = Guardian.of(DefaultPolicy())
    assert "reserved" in check(guardian, "genesis.x").reason
    assert "unknown role 'stranger'" in check(guardian, "envsync.drift", "stranger").reason
    assert check(guardian, "autonomy.heal.apply", "ci").reason == (
        "role 'ci' may not publish 'autonomy.heal.apply' (not in its allow list)")


def write_guardian(tmp_path: Path, body: str, name: str = "genesis.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def test_policy_from_config(tmp_path: Path) -> None:
    config = load_config(write_guardian(tmp_path, """
        [guardian]
        default_role = "bot"
        read_only_topics = ["envsync.init", "steward.*"]

        [guardian.roles.bot]
        allow = ["envsync.>", "autonomy.>"]
        deny = ["autonomy.heal.apply"]

        [guardian.roles.ci]
        allow = ["envsync.drift"]
    """))
    policy = DefaultPolicy.from_config(config)
    guardian = Guardian.of(policy)
    assert policy.default_role == "bot"
    assert check(guardian, "autonomy.alert", None).allowed
    assert not check(guardian, "autonomy.heal.apply", None).allowed  # deny wins over allow
    assert "denied by 'autonomy.heal.apply'" in check(guardian, "autonomy.heal.apply", "bot").reason
    assert not check(guardian, "envsync.commit", "ci").allowed  # configured ci replaces built-in
    assert check(guardian, "autonomy.heal.apply", "operator").allowed  # other built-ins remain
    assert check(guardian, "steward.report", "stranger").allowed
    assert not check(guardian, "envsync.init", "ci").allowed  # read-only is for unknown roles
    assert policy.describe()["roles"]["bot"]["deny"] == ["autonomy.heal.apply"]


def test_builtin_roles_can_be_switched_off(tmp_path: Path) -> None:
    config = load_config(write_guardian(tmp_path, "[guardian]\nbuiltin_roles = false\n"))
    guardian = Guardian.of(DefaultPolicy.from_config(config))
    assert not check(guardian, "envsync.drift", "operator").allowed
    assert check(guardian, "envsync.init", "operator").allowed
    assert set(BUILTIN_ROLES) == {"operator", "ci", "engine"}
    assert BUILTIN_ROLES["operator"] == RolePolicy(allow=(">",), description=BUILTIN_ROLES[
        "operator"].description)


@pytest.mark.parametrize(("body", "key"), [
    ("[guardian]\nroles = 5\n", "guardian.roles"),
    ("[guardian.roles.bot]\nallow = 5\n", "guardian.roles.bot.allow"),
    ("[guardian.roles.bot]\nallow = ['ok.*', 3]\n", "guardian.roles.bot.allow[1]"),
    ("[guardian.roles.bot]\nallow = ['a..b']\n", "guardian.roles.bot.allow[0]"),
    ("[guardian.roles.bot]\nalow = ['a.b']\n", "guardian.roles.bot.alow"),
    ("[guardian]\ndefault_rol = 'x'\n", "guardian.default_rol"),
    ("[guardian]\nread_only_topics = ['x.>.y']\n", "guardian.read_only_topics[0]"),
    ("[guardian]\nbuiltin_roles = 'yes'\n", "guardian.builtin_roles"),
])
def test_malformed_guardian_table_names_file_and_key(tmp_path: Path, body: str, key: str) -> None:
    path = write_guardian(tmp_path, body)
    with pytest.raises(ConfigError) as err:
        DefaultPolicy.from_config(load_config(path))
    assert str(path) in str(err.value)
    assert err.value.key == key


def test_pyproject_table_keys_are_prefixed(tmp_path: Path) -> None:
    path = write_guardian(tmp_path, "[tool.genesis.guardian.roles.bot]\ndeny = 1\n",
                          "pyproject.toml")
    with pytest.raises(ConfigError) as err:
        DefaultPolicy.from_config(load_config(path))
    assert err.value.key == "tool.genesis.guardian.roles.bot.deny"


# ------------------------------------------------------------------ on the bus

class MaskingPolicy:
    """A stand-in for genesis_core.secrets.SecretPolicy's mask_payload."""

    def mask_payload(self, payload: dict[str, Any]) -> dict[str, Any]:
        return {k: ("<secret>" if "TOKEN" in k else v) for k, v in payload.items()}


def _stored_bytes(state: Path) -> bytes:
    return b"".join(p.read_bytes() for p in state.iterdir() if p.name.startswith("events.db"))


@pytest.mark.parametrize("policy", ["none", "stand-in", "real"])
def test_blocked_publish_is_persisted_masked(tmp_path: Path, policy: str) -> None:
    secret_policy: Any = None
    if policy == "stand-in":
        secret_policy = MaskingPolicy()
    elif policy == "real":
        from genesis_core.secrets import policy_from_config

        secret_policy = policy_from_config(load_config(write_guardian(tmp_path, "")), tmp_path)
    state = tmp_path / "state"
    bus = GenesisBus(open_store(state), Guardian.of(DefaultPolicy()), secret_policy=secret_policy)
    wrong_topic: list[Any] = []
    notices: list[dict[str, Any]] = []
    bus.subscribe("autonomy.>", wrong_topic.append, name="wrong")
    bus.subscribe(BLOCKED_TOPIC, notices.append, name="notices")

    result = bus.publish_sync("autonomy.heal.apply", {"GITHUB_TOKEN": CANARY, "count": 2},
                              role="ci")

    assert result.status == "blocked" and not result.ok
    assert result.reason == "role 'ci' may not publish 'autonomy.heal.apply' (not in its allow list)"
    assert result.envelope.topic == BLOCKED_TOPIC
    assert wrong_topic == []
    assert result.delivered == ("notices",)
    notice = notices[0]
    assert notice["topic"] == "autonomy.heal.apply" and notice["role"] == "ci"
    assert notice["reason"] == result.reason and notice["by"] == "genesis-default-policy"
    assert set(notice["payload"]) == {"GITHUB_TOKEN", "count"}
    assert notice["payload"]["GITHUB_TOKEN"] != CANARY
    bus.close()

    bus = GenesisBus(open_store(state), Guardian.of(DefaultPolicy()))
    history = bus.get_event_history(limit=None)
    assert [e["_genesis_topic"] for e in history] == [BLOCKED_TOPIC]
    assert bus.stats() == {BLOCKED_TOPIC: 1}
    assert CANARY not in repr(history)
    bus.close()
    assert CANARY.encode() not in _stored_bytes(state)


def test_guardian_error_blocks_the_publish_on_the_bus(tmp_path: Path) -> None:
    bus = GenesisBus(open_store(tmp_path), Guardian.of(DefaultPolicy(), Raises()))
    seen: list[Any] = []
    bus.subscribe("envsync.drift", seen.append)
    result = bus.publish_sync("envsync.drift", {"token": CANARY})
    assert result.status == "blocked" and "buggy raised KeyError" in result.reason
    assert seen == []
    bus.close()
    assert CANARY.encode() not in _stored_bytes(tmp_path)


def test_hooks_receive_topic_event_and_context_with_role(tmp_path: Path) -> None:
    calls: list[tuple[str, dict[str, Any], dict[str, Any]]] = []

    class Spy:
        def genesis_check_permission(self, topic: str, event: Any, context: Any) -> None:
            calls.append((topic, dict(event), dict(context)))

    bus = GenesisBus(open_store(tmp_path), Guardian.of(DefaultPolicy(), Spy()),
                     default_role="engine")
    bus.publish_sync("envsync.drift", {"n": 1}, context={"run": "r1"})
    bus.publish_sync("envsync.drift", {"n": 2}, role="ci")

    async def nested_publish(event: dict[str, Any]) -> None:
        await bus.publish("truth.entry", {})

    bus.subscribe("envsync.commit", nested_publish, name="nester")
    bus.publish_sync("envsync.commit", {})
    assert calls[0] == ("envsync.drift", {"n": 1}, {"run": "r1", "role": "engine", "publisher": None})
    assert calls[1][2]["role"] == "ci"
    assert calls[3][0] == "truth.entry" and calls[3][2]["publisher"] == "nester"
    bus.close()


def test_handler_errors_never_carry_a_secret(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from genesis_core.secrets import policy_from_config

    policy = policy_from_config(load_config(write_guardian(tmp_path, "")), tmp_path)
    state = tmp_path / "state"
    bus = GenesisBus(open_store(state), Guardian.of(DefaultPolicy()), secret_policy=policy)

    def leaky(event: dict[str, Any]) -> None:
        raise ValueError(f"cannot use token {CANARY} for {event['_genesis_topic']}")

    bus.subscribe("envsync.drift", leaky, name="leaky")
    with caplog.at_level("DEBUG"):
        result = bus.publish_sync("envsync.drift", {})
        report = bus.retry_dead_letters_sync()
    error = result.failures[0].error
    assert error.startswith("ValueError: cannot use token <secret fp:") and "envsync.drift" in error
    assert CANARY not in repr(result) and CANARY not in str(report)
    assert all(CANARY not in d.error for d in bus.dead_letters())
    assert CANARY not in caplog.text
    bus.close()
    assert CANARY.encode() not in _stored_bytes(state)


def test_a_decision_whose_allowed_is_not_a_bool_cannot_exist_and_a_forged_one_denies() -> None:
    with pytest.raises(TypeError):
        Decision("no")  # type: ignore[arg-type]

    class Forged:
        name = "forged"

        def genesis_check_permission(self, topic: str, event: Any, context: Any) -> Any:
            decision = Decision.allow("forged")
            object.__setattr__(decision, "allowed", "yes")  # bypasses the validator
            return decision

    assert not check(Guardian.of(Forged()), "a.b").allowed
