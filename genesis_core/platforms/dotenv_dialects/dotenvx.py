"""The ``dotenvx`` dialect: ``@dotenvx/dotenvx``'s parser, expansion included, commands refused.

dotenvx matches assignments with Node dotenv's expression, then per value:

- single quotes: ``\\'`` becomes ``'``; nothing else changes and nothing is expanded;
- double quotes: ``\\n``, ``\\r`` and ``\\t`` become a newline, a carriage return and a tab;
- not single-quoted: ``$(command)`` is *run by dotenvx* and replaced by its output.  Genesis
  never runs anything found in a file: such a value is an error naming the line;
- not single-quoted: ``${VAR}``, ``$VAR``, ``${VAR:-default}``, ``${VAR-default}``,
  ``${VAR:+alt}`` and ``${VAR+alt}`` are expanded against the keys above (and the process
  environment when ``expand_from_environment = true``); an unset variable is an empty string;
  ``\\$`` keeps a literal ``$``;
- ``encrypted:...`` values need dotenvx's private key: Genesis reads them as unreadable.
"""

from __future__ import annotations

import re
from typing import ClassVar

from .base import (
    Context,
    Dialect,
    DialectError,
    Entry,
    Lookup,
    Note,
    Reading,
    Reference,
    shown_name,
)
from .node import assignments, ignored_lines, js_newlines, unquote

_REFERENCE = re.compile(r"(?<!\\)\$\{([^{}]+)\}|(?<!\\)\$([A-Za-z_][A-Za-z0-9_]*)")
_LITERAL_REFERENCE = re.compile(r"\$\{[^}]+\}|\$[A-Za-z_][A-Za-z0-9_]*")
_OPERATOR = re.compile(r":\+|\+|:-|-")
_REPLACEMENT_PATTERN = re.compile(r"\$([$&`']|\d{1,2})")
#: More rounds than any real value needs; dotenvx itself would loop for ever on some inputs.
_MAX_ROUNDS = 1000


def find_commands(value: str) -> bool:
    """Return whether dotenvx would run a ``$(...)`` command substitution in ``value``."""
    start = value.find("$(")
    while start != -1:
        stack: list[str | None] = [None]
        i = start + 2
        end = -1
        while i < len(value):
            quote, char = stack[-1], value[i]
            if quote == "'":
                if char == "'":
                    stack[-1] = None
                i += 1
                continue
            if quote:
                if char == "\\":
                    i += 2
                elif char == quote:
                    stack[-1] = None
                    i += 1
                elif char == "$" and value[i + 1:i + 2] == "(":
                    stack.append(None)
                    i += 2
                else:
                    i += 1
                continue
            if char == "\\":
                i += 2
            elif char in ("'", '"', "`"):
                stack[-1] = char
                i += 1
            elif char == "(":
                stack.append(None)
                i += 1
            elif char == ")":
                stack.pop()
                i += 1
                if not stack:
                    end = i
                    break
            else:
                i += 1
        if end != -1:
            return True
        start = value.find("$(", start + 2)
    return False


def _js_replace_first(text: str, search: str, replacement: str) -> str:
    """Return JavaScript's ``text.replace(search, replacement)`` for a string ``search``."""
    index = text.find(search)
    if index == -1:
        return text

    def pattern(match: re.Match[str]) -> str:
        token = match.group(1)
        if token == "$":
            return "$"
        if token == "&":
            return search
        if token == "`":
            return text[:index]
        if token == "'":
            return text[index + len(search):]
        return match.group(0)  # $1..$99: a string search has no groups, so they stay as written

    return text[:index] + _REPLACEMENT_PATTERN.sub(pattern, replacement) + text[index + len(search):]


def expand_value(value: str, env: dict[str, str], literals: dict[str, str],
                 unset: list[str], names: list[str] | None = None) -> tuple[str, bool]:
    """Return ``value`` after dotenvx's expansion, and whether any reference was found.

    The names of unset references are added to ``unset``; every name referred to, to ``names``.
    """
    result = value
    found = False
    for _ in range(_MAX_ROUNDS):
        match = _REFERENCE.search(result)
        if match is None:
            return result, found
        found = True
        template = match.group(0)
        expression = match.group(1) or match.group(2)
        operator = _OPERATOR.search(expression)
        splitter = operator.group(0) if operator else None
        # JavaScript's expression.split(null) splits on the text "null"; dotenvx relies on that.
        name, _, rest = expression.partition(splitter or "null")
        if names is not None:
            names.append(name)
        present = name in env
        current = env.get(name)
        if splitter == ":-":
            replacement = current or rest
        elif splitter == "-":
            replacement = current if present else rest
        elif splitter == ":+":
            replacement = rest if current else ""
        elif splitter == "+":
            replacement = rest if present else ""
        else:
            replacement = current or ""
        if not present and splitter not in ("-", ":-"):
            unset.append(name)
        result = _js_replace_first(result, template, replacement or "")
        if result == env.get(name) or (name in literals and _LITERAL_REFERENCE.search(literals[name])):
            return result, found
    raise DialectError(0, "this value's expansion does not end")


class DotenvxDialect(Dialect):
    """``@dotenvx/dotenvx`` (``dotenvx run``, ``require('@dotenvx/dotenvx').config()``)."""

    name: ClassVar[str] = "dotenvx"
    title: ClassVar[str] = "dotenvx"
    expands_by_default: ClassVar[bool] = True

    def read(self, text: str, *, expand: bool, context: Context) -> Reading:
        """Return what dotenvx injects (without decrypting); a ``$(command)`` is an error."""
        text = js_newlines(text)
        lookup = Lookup(context)
        literals: dict[str, str] = {}
        entries: list[Entry] = []
        notes: list[Note] = []
        spans: list[tuple[int, int]] = []
        for match in assignments(text):
            key = match.group(1)
            line = text.count("\n", 0, match.start(1)) + 1
            end_line = text.count("\n", 0, match.end()) + 1
            spans.append(match.span())
            quote, value = unquote(match.group(2) or "")
            if quote == "'":
                value = value.replace("\\'", "'")
            elif quote == '"':
                value = value.replace("\\n", "\n").replace("\\r", "\r").replace("\\t", "\t")
            if value.startswith("encrypted:"):
                entries.append(Entry(key, None, line, end_line))
                continue
            expanded = False
            references: tuple[Reference, ...] = ()
            if quote != "'" and expand:
                if find_commands(value):
                    raise DialectError(line, "command substitution $(...): dotenvx would run it as a shell "
                                             "command; Genesis never runs anything from a .env file")
                unset: list[str] = []
                names: list[str] = []
                try:
                    value, expanded = expand_value(value, lookup.merged(), literals, unset, names)
                except DialectError as exc:
                    raise DialectError(line, exc.message) from None
                references = lookup.references(names)
                value = value.replace("\\$", "$")
                notes.extend(Note(line, f"{shown_name(name)} is not set; dotenvx uses an empty string")
                             for name in dict.fromkeys(unset))
            if quote == "'":
                literals[key] = value
            lookup.known[key] = value
            entries.append(Entry(key, value, line, end_line, expanded, references))
        return Reading(tuple(entries), ignored_lines=ignored_lines(text, spans), notes=tuple(notes))
