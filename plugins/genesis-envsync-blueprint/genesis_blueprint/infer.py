"""Write a starting schema from the variables the platforms hold now (``genesis blueprint init``).

The file holds key names, inferred types and ``secret = true`` marks, never
a value: ``required`` lists the keys every instance holds, ``min_keys`` is
today's key count, and a ``[keys.NAME]`` table gives each key whose readable
values all share a type (int, bool, url or email).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

import attrs

from .valuetypes import infer_type

if TYPE_CHECKING:
    from genesis_core.api import SecretPolicy, Variable

_BARE_KEY = re.compile(r"[A-Za-z0-9_\-]+")


@attrs.frozen
class InferredKey:
    """What ``init`` learned about one key."""

    key: str
    type: str | None
    secret: bool


@attrs.frozen
class InferredSchema:
    """A schema learned from current variables."""

    instances: tuple[str, ...]
    min_keys: int
    required: tuple[str, ...]
    keys: tuple[InferredKey, ...]


def infer_schema(variables: Mapping[str, Mapping[str, Variable]], policy: SecretPolicy) -> InferredSchema:
    """Return the schema today's ``{instance: {key: Variable}}`` satisfies."""
    instances = tuple(sorted(variables))
    union: set[str] = set()
    for held in variables.values():
        union.update(held)
    required = tuple(sorted(key for key in union if all(key in variables[i] for i in instances)))
    keys = []
    for key in sorted(union):
        found = [variables[i][key] for i in instances if key in variables[i]]
        readable = [var.value for var in found if var.value is not None]
        secret = any(var.value is None or policy.is_secret(key, var.value, platform_marked=var.secret)
                     for var in found)
        type_name = infer_type(readable)
        if type_name is not None or secret:
            keys.append(InferredKey(key, type_name, secret))
    return InferredSchema(instances, len(union), required, tuple(keys))


def toml_string(text: str) -> str:
    """Return ``text`` as a TOML basic string (quotes, backslashes and control characters escaped)."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\\uFFFD")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def toml_key(key: str) -> str:
    """Return ``key`` as a TOML key: bare when it can be, quoted otherwise."""
    return key if _BARE_KEY.fullmatch(key) else toml_string(key)


def render_schema(schema: InferredSchema, *, generated_at: str) -> str:
    """Return the schema as TOML text, with a header saying where it came from."""
    lines = [
        f"# Genesis Blueprint schema, written by `genesis blueprint init` at {generated_at}",
        f"# from the instances: {', '.join(schema.instances)}.",
        "# It holds key names and inferred types only, never a value. Edit freely; see",
        "# docs/engines/blueprint.md for every rule (type, pattern, one_of, required, secret).",
        "",
        f"min_keys = {schema.min_keys}",
    ]
    if schema.required:
        lines.append("required = [")
        lines.extend(f"  {toml_string(key)}," for key in schema.required)
        lines.append("]")
    else:
        lines.append("required = []")
    for item in schema.keys:
        lines.append("")
        lines.append(f"[keys.{toml_key(item.key)}]")
        if item.type is not None:
            lines.append(f"type = {toml_string(item.type)}")
        if item.secret:
            lines.append("secret = true")
    return "\n".join(lines) + "\n"
