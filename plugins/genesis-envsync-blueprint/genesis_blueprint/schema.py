"""The Blueprint schema: where it comes from, what it may say, and strict validation of it.

A schema lives either in ``[engines.blueprint]`` itself or in a TOML file
(``schema = "genesis.schema.toml"``, relative to the config file).  Without
either, ``genesis.schema.toml`` next to the config is used when it exists.
Every mistake raises ``ConfigError`` naming the file and the dotted key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from genesis_core.api import ConfigError, FileProblem, Regex, Table, compile_regex, read_bytes

from .valuetypes import VALUE_TYPES, matches_type

if TYPE_CHECKING:
    from genesis_core.api import Config

DEFAULT_SCHEMA_FILE = "genesis.schema.toml"
RULE_KEYS = frozenset({"min_keys", "required", "keys", "platforms"})
ENGINE_KEYS = frozenset({"schema", "enabled"})
KEY_RULE_KEYS = frozenset({"type", "pattern", "one_of", "required", "secret"})
PLATFORM_RULE_KEYS = frozenset({"required"})


@attrs.frozen
class KeyRule:
    """The rules for one variable: a type (and pattern), allowed values, required, secret."""

    key: str
    type: str | None = None
    pattern: str | None = None
    one_of: tuple[str, ...] | None = None
    required: bool = False
    secret: bool = False
    compiled: Regex | None = attrs.field(init=False, eq=False, repr=False)

    @compiled.default
    def _compile(self) -> Regex | None:
        return compile_regex(self.pattern) if self.pattern is not None else None

    @property
    def has_value_rule(self) -> bool:
        """Return whether checking this rule needs the variable's value."""
        return self.type is not None or self.one_of is not None

    def expected_type(self) -> str:
        """Return the expected type as shown in a violation (``regex:<pattern>`` for regex)."""
        return f"regex:{self.pattern}" if self.type == "regex" else str(self.type)


@attrs.frozen
class Schema:
    """A parsed schema; ``source`` says which file (or config table) it came from."""

    min_keys: int | None = None
    required: tuple[str, ...] = ()
    keys: Mapping[str, KeyRule] = attrs.field(factory=dict)
    platforms: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)
    source: str | None = None

    @property
    def empty(self) -> bool:
        """Return whether the schema has no rule at all."""
        return (self.min_keys is None and not self.required and not self.keys
                and not self.platforms)

    def required_everywhere(self) -> tuple[str, ...]:
        """Return the keys every instance must hold, sorted."""
        keys = set(self.required)
        keys.update(name for name, rule in self.keys.items() if rule.required)
        return tuple(sorted(keys))

    def required_on(self, instance: str) -> dict[str, str]:
        """Return ``{key: rule name}`` for the keys ``instance`` must hold."""
        found = dict.fromkeys(self.required_everywhere(), "required")
        for key in self.platforms.get(instance, ()):
            found.setdefault(key, "platform_required")
        return found

    def is_secret(self, key: str) -> bool:
        """Return whether the schema marks ``key`` as secret."""
        rule = self.keys.get(key)
        return rule is not None and rule.secret


def _key_list(table: Table, key: str) -> tuple[str, ...]:
    names = table.str_list(key, ())
    for index, name in enumerate(names):
        if not name:
            raise table.error(f"{key}[{index}]", "must not be empty")
    return names


def _parse_key_rule(table: Table, key: str) -> KeyRule:
    table.check_known(KEY_RULE_KEYS)
    type_name = table.choice("type", VALUE_TYPES, None)
    pattern = table.str("pattern", None)
    if type_name == "regex" and pattern is None:
        raise table.error("pattern", 'is required when type = "regex"')
    if pattern is not None and type_name != "regex":
        raise table.error("pattern", 'is only allowed with type = "regex"')
    compiled = None
    if pattern is not None:
        try:
            compiled = compile_regex(pattern)
        except ValueError as exc:
            raise table.error("pattern", str(exc)) from None
    one_of: tuple[str, ...] | None = None
    if "one_of" in table:
        one_of = table.str_list("one_of")
        if not one_of:
            raise table.error("one_of", "must list at least one value")
        if type_name is not None:
            for index, allowed in enumerate(one_of):
                if not matches_type(type_name, allowed, compiled):
                    raise table.error(f"one_of[{index}]", f"{allowed!r} is not of type {type_name}")
    required = table.bool("required", False)
    secret = table.bool("secret", False)
    if type_name is None and one_of is None and not required and not secret:
        raise ConfigError("has no rule (set type, one_of, required or secret)",
                          file=table.file, key=table.path)
    return KeyRule(key, type_name, pattern, one_of, required, secret)


def parse_schema(table: Table, *, instances: Collection[str] = ()) -> Schema:
    """Return the schema a rules table describes; ``instances`` (when given) bounds platform names.

    Raises ``ConfigError`` naming the file and key for anything unknown or malformed.
    """
    min_keys = table.int("min_keys", None, minimum=0)
    required = _key_list(table, "required")
    keys_table = table.table("keys")
    rules = {}
    for key in keys_table:
        if not key:
            raise keys_table.error(key, "a key name must not be empty")
        rules[key] = _parse_key_rule(keys_table.table(key), key)
    platforms_table = table.table("platforms")
    platforms: dict[str, tuple[str, ...]] = {}
    for name in platforms_table:
        if instances and name not in instances:
            raise platforms_table.error(
                name, f"unknown platform instance (configured: {', '.join(sorted(instances))})")
        platform = platforms_table.table(name)
        platform.check_known(PLATFORM_RULE_KEYS)
        platforms[name] = _key_list(platform, "required")
    return Schema(min_keys, required, rules, platforms, table.file)


#: The largest schema file read.
SCHEMA_FILE_LIMIT = 4 * 1024 * 1024


def read_toml(path: Path) -> dict[str, Any]:
    """Return the parsed TOML file; ``ConfigError`` naming the file when it is unreadable or invalid.

    Only a regular file of at most ``SCHEMA_FILE_LIMIT`` bytes is read (never a FIFO, device or directory).
    """
    try:
        return tomllib.loads(read_bytes(path, limit=SCHEMA_FILE_LIMIT, what="schema file").decode("utf-8"))
    except FileProblem as exc:
        raise ConfigError(exc.reason, file=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start})", file=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML: {exc}", file=str(path)) from None
    except RecursionError:
        raise ConfigError("invalid TOML: arrays or inline tables nested too deeply", file=str(path)) from None


def schema_path(config: Config) -> Path | None:
    """Return the schema file ``[engines.blueprint] schema`` names, resolved against the config's directory."""
    table = config.engine("blueprint")
    configured = table.str("schema", None)
    if configured is None:
        return None
    return (config.project_dir / Path(configured).expanduser()).resolve()


def default_schema_path(config: Config) -> Path:
    """Return where ``blueprint init`` writes by default: the configured file or ``genesis.schema.toml``."""
    return schema_path(config) or (config.project_dir / DEFAULT_SCHEMA_FILE).resolve()


def load_schema(config: Config) -> Schema:
    """Return the schema of this project (an empty one when none is configured).

    Raises ``ConfigError`` naming the file and key when the schema is invalid,
    when ``schema`` names a missing file, or when rules are given both inline
    and in a file.
    """
    table = config.engine("blueprint")
    table.check_known(ENGINE_KEYS | RULE_KEYS)
    instances = frozenset(config.platforms())
    inline = [key for key in table if key in RULE_KEYS]
    path = schema_path(config)
    if path is not None:
        if inline:
            raise table.error(inline[0], "rules go into the schema file when `schema` is set")
        if not path.exists():
            raise table.error("schema", f"schema file not found: {path}")
    elif inline:
        return parse_schema(table, instances=instances)
    else:
        candidate = config.project_dir / DEFAULT_SCHEMA_FILE
        if not candidate.exists():
            return Schema()
        path = candidate.resolve()
    rules = Table(read_toml(path), str(path), "")
    rules.check_known(RULE_KEYS)
    return parse_schema(rules, instances=instances)
