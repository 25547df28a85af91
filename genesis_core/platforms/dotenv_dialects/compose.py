"""The ``compose`` dialect: Docker Compose v2's ``env_file`` rules (compose-go's ``dotenv`` package).

- a line ends at ``\\n`` only; a UTF-8 byte-order mark at the start is skipped;
- ``KEY=value``, ``KEY: value`` and ``export KEY=value``; a name may hold letters, digits
  and ``_ . - [ ]``; any other character in a name is an error;
- unquoted: the value runs to the end of the line, `` #`` (a space, then ``#``) starts a
  comment, trailing whitespace is dropped; ``${VAR}`` is expanded;
- single quotes: taken as written (``\\'`` is a quote), never expanded;
- double quotes: ``\\n \\r \\t \\\\ \\" \\$`` and the other shell escapes, then expansion;
- expansion: ``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:+alt}``,
  ``${VAR+alt}``, ``${VAR:?error}``, ``${VAR?error}``; ``$$`` is a literal ``$``; an unset
  variable is an empty string (Compose warns); a malformed ``${`` is an error;
- ``KEY`` alone takes ``KEY`` from the environment Compose runs in.  Genesis reads it
  from the process environment when ``expand_from_environment = true``; otherwise its
  value cannot be known and it is reported as unreadable.
"""

from __future__ import annotations

import re
import unicodedata
from typing import ClassVar

from .base import (
    Context,
    Dialect,
    DialectError,
    Entry,
    Lookup,
    Note,
    Reading,
    shown_name,
)

#: Go's ``unicode.IsSpace``.
_GO_SPACE = frozenset("\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
                      "\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
#: compose-go's ``isSpace``: a space that does not end a line.
_INLINE_SPACE = frozenset("\t\v\f\r \x85\xa0")
_EXPORT = re.compile(r"export[\t\n\f\r ]+")
_ESCAPE = re.compile(r"\\(?:[abcfnrtv$\"\\]|0[0-9]{0,3})")
_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
                   "\\": "\\", '"': '"'}
_TEMPLATE = re.compile(
    r"\$(?i:(?P<escaped>\$)|(?P<named>[_a-z][_a-z0-9]*)|"
    r"\{(?:(?P<braced>[_a-z][_a-z0-9]*(?::?[-+?](.*))?)\}|(?P<invalid>)))")
_OPERATORS = (":?", "?", ":-", "-", ":+", "+")


class TemplateError(Exception):
    """An expansion Compose refuses (``${`` malformed, or ``${VAR:?err}`` with ``VAR`` unset)."""


def _unescape(match: re.Match[str]) -> str:
    text = match.group(0)
    if text == "\\$":
        return "$$"
    if text.startswith("\\0"):
        digits = text[2:]
        if len(digits) == 3 and all(d in "01234567" for d in digits) and int(digits, 8) < 256:
            return chr(int(digits, 8))
        return text
    return _SIMPLE_ESCAPES.get(text[1:], text)


def expand_escapes(text: str) -> str:
    """Return a double-quoted value with its escapes turned into characters (``\\$`` into ``$$``)."""
    return _ESCAPE.sub(_unescape, text)


def _first_closing_brace(text: str) -> int:
    depth = 0
    i = 0
    while i < len(text):
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        if text[i] == "{":
            depth += 1
            i += 1
        i += 1
    return -1


class _Substituter:
    """compose-go's ``template.Substitute`` over one lookup."""

    def __init__(self, lookup: Lookup) -> None:
        self.lookup = lookup
        self.unset: list[str] = []
        self.names: list[str] = []
        self.found = False

    def substitute(self, template: str) -> str:
        return _TEMPLATE.sub(self._replace, template)

    def _replace(self, match: re.Match[str]) -> str:
        substring = match.group(0)
        operator = self._operator(substring)
        closing = _first_closing_brace(substring)
        rest = ""
        if closing > -1:
            rest = substring[closing + 1:]
            substring = substring[:closing + 1]
        groups = _TEMPLATE.match(substring)
        assert groups is not None
        if groups.group("escaped"):
            return "$"
        substitution = groups.group("named")
        braced = not substitution
        if braced:
            substitution = groups.group("braced")
        if not substitution:
            raise TemplateError("invalid ${...} expression")
        self.found = True
        if braced and operator is not None and operator in substitution:
            self.names.append(substitution.partition(operator)[0])
            value = self._apply(operator, substitution)
            return value + self.substitute(rest)
        self.names.append(substitution)
        known = self.lookup.get(substitution)
        if known is None:
            self.unset.append(substitution)
        return known or ""

    @staticmethod
    def _operator(substring: str) -> str | None:
        positions = [(substring.find(op), i, op) for i, op in enumerate(_OPERATORS) if op in substring]
        return min(positions)[2] if positions else None

    def _apply(self, operator: str, substitution: str) -> str:
        name, _, argument = substitution.partition(operator)
        value = self.lookup.get(name)
        if operator in (":?", "?"):
            if value is None or (operator == ":?" and value == ""):
                self.substitute(argument)
                raise TemplateError(f"{shown_name(name)} must be set (a '{operator}' reference) and is not")
            return value
        if operator in (":-", "-"):
            if value is None or (operator == ":-" and value == ""):
                return self.substitute(argument)
            return value
        if value is not None and (operator == "+" or value != ""):
            return self.substitute(argument)
        return value or ""


class ComposeDialect(Dialect):
    """Docker Compose v2 ``env_file`` (compose-go)."""

    name: ClassVar[str] = "compose"
    title: ClassVar[str] = "Docker Compose"
    expands_by_default: ClassVar[bool] = True
    line_break: ClassVar[re.Pattern[str]] = re.compile(r"\n")

    def read(self, text: str, *, expand: bool, context: Context) -> Reading:
        """Return what Compose puts in the service's environment; a line it rejects is an error."""
        text = text.removeprefix("\ufeff")
        lookup = Lookup(context)
        entries: list[Entry] = []
        notes: list[Note] = []
        pos = 0
        while True:
            pos = self._statement_start(text, pos)
            if pos == -1:
                break
            line = self.line_of(text, pos)
            key, pos, inherited = self._key(text, pos, line)
            if " " in key:
                raise DialectError(line, "a variable name cannot contain a space")
            if not key and not inherited:
                raise DialectError(line, "no variable name before '='")
            if inherited:
                if not key:
                    continue  # "export" alone on a line: Compose finds no such variable either
                value = lookup.get(key) if context.environ is not None else lookup.known.get(key)
                if value is not None or context.environ is None:
                    taken = lookup.references([key]) if value is not None else ()
                    entries.append(Entry(key, value, line, line, references=taken))
                if value is not None:
                    lookup.known[key] = value
                continue
            value, end, expanded, unset, names = self._value(text, pos, line, lookup, expand)
            end_line = self.line_of(text, max(end - 1, pos))
            notes.extend(Note(line, f"{shown_name(name)} is not set; Docker Compose uses an empty string")
                         for name in dict.fromkeys(unset))
            references = lookup.references(names)
            lookup.known[key] = value
            entries.append(Entry(key, value, line, end_line, expanded, references))
            pos = end
        return Reading(tuple(entries), notes=tuple(notes))

    @staticmethod
    def _statement_start(text: str, pos: int) -> int:
        while True:
            while pos < len(text) and text[pos] in _GO_SPACE:
                pos += 1
            if pos >= len(text):
                return -1
            if text[pos] != "#":
                return pos
            newline = text.find("\n", pos)
            if newline == -1:
                return -1
            pos = newline

    @staticmethod
    def _key(text: str, pos: int, line: int) -> tuple[str, int, bool]:
        export = _EXPORT.match(text, pos)
        if export:
            pos += len("export")
            while pos < len(text) and text[pos] in _INLINE_SPACE:
                pos += 1
        start = pos
        for i in range(pos, len(text)):
            char = text[i]
            if char in _INLINE_SPACE:
                continue
            if char in "=:\n":
                key = text[start:i].rstrip("".join(_GO_SPACE))
                after = i + 1
                if char != "\n":
                    while after < len(text) and text[after] in _INLINE_SPACE:
                        after += 1
                return key, after, char == "\n"
            if char in "_.-[]" or unicodedata.category(char)[0] in "LN":
                continue
            raise DialectError(line, "invalid character in a variable name (letters, digits and _ . - [ ])")
        # The last line has no '=' and no newline: Compose reads its text as the value of a key
        # with an empty name, which it then rejects.
        raise DialectError(line, "a line without '=' at the end of the file (Docker Compose cannot read it)")

    def _value(self, text: str, pos: int, line: int, lookup: Lookup,
               expand: bool) -> tuple[str, int, bool, list[str], list[str]]:
        substituter = _Substituter(lookup)
        quote = text[pos] if pos < len(text) and text[pos] in "'\"" else ""
        if not quote:
            newline = text.find("\n", pos)
            end = len(text) if newline == -1 else newline + 1
            raw = text[pos:end].removesuffix("\n").split(" #", 1)[0].rstrip("".join(_GO_SPACE))
            return self._finish(raw, substituter, line, expand, end)
        chars: list[str] = []
        escaped = False
        for i in range(pos + 1, len(text)):
            char = text[i]
            if char != quote:
                if not escaped and char == "\\":
                    escaped = True
                    continue
                if escaped:
                    escaped = False
                    chars.append("\\")
                chars.append(char)
                continue
            if escaped:
                escaped = False
                chars.append(char)
                continue
            value = "".join(chars)
            if quote == '"':
                return self._finish(expand_escapes(value), substituter, line, expand, i + 1)
            return value, i + 1, False, [], []
        raise DialectError(line, "unterminated quoted value")

    @staticmethod
    def _finish(raw: str, substituter: _Substituter, line: int, expand: bool,
                end: int) -> tuple[str, int, bool, list[str], list[str]]:
        """Return the value, where it ends, whether it had a reference, the unset names and every name used."""
        if not expand:
            return raw, end, False, [], []
        try:
            value = substituter.substitute(raw)
        except TemplateError as exc:
            raise DialectError(line, str(exc)) from None
        return value, end, substituter.found, substituter.unset, substituter.names
