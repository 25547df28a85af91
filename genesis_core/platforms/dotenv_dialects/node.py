"""The ``node`` dialect: the ``dotenv`` npm package's parser (``dotenv.parse``, also used by ``config()``).

Node ``dotenv`` turns ``\\r\\n`` and lone ``\\r`` into ``\\n``, then matches one
regular expression per assignment.  Whatever the expression does not match
(a line without ``=``, stray text) is skipped without a word; Genesis skips it
too and says so.  Values are trimmed, one pair of surrounding quotes (``'``,
``"`` or a backtick) is removed, and only double-quoted values turn ``\\n`` and
``\\r`` into a newline and a carriage return.  Nothing is expanded.

The expression is JavaScript's; it is written here with JavaScript's meaning of
``\\s``, ``\\w``, ``.``, ``^`` and ``$`` (multiline), so that both engines match
the same text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import ClassVar

from .base import Context, Dialect, Entry, Reading

#: JavaScript's ``\\s`` (and what ``String.prototype.trim`` removes).
JS_SPACE = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_S = f"[{JS_SPACE}]"
_LT = "\n\r\u2028\u2029"
_BOL = f"(?:\\A|(?<=[{_LT}]))"
_EOL = f"(?=[{_LT}]|\\Z)"

#: ``/(?:^|^)\\s*(?:export\\s+)?([\\w.-]+)(?:\\s*=\\s*?|:\\s+?)(\\s*'(?:\\\\'|[^'])*'|\\s*"(?:\\\\"|[^"])*"
#: |\\s*`(?:\\\\`|[^`])*`|[^#\\r\\n]+)?\\s*(?:#.*)?(?:$|$)/mg`` from Node dotenv (and dotenvx).
LINE = re.compile(
    f"{_BOL}{_S}*(?:export{_S}+)?([A-Za-z0-9_.-]+)(?:{_S}*={_S}*?|:{_S}+?)"
    f"({_S}*'(?:\\\\'|[^'])*'|{_S}*\"(?:\\\\\"|[^\"])*\"|{_S}*`(?:\\\\`|[^`])*`|[^#\r\n]+)?"
    f"{_S}*(?:#([^{_LT}]*))?{_EOL}"
)
#: ``value.replace(/^(['"`])([\\s\\S]*)\\1$/mg, '$2')``
_UNQUOTE = re.compile(f"{_BOL}(['\"`])([\\s\\S]*)\\1{_EOL}")


def js_trim(text: str) -> str:
    """Return ``text`` without JavaScript whitespace at either end."""
    return text.strip("\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
                      "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff")


def js_newlines(text: str) -> str:
    """Return ``text.replace(/\\r\\n?/mg, '\\n')``."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def unquote(raw: str) -> tuple[str, str]:
    """Return ``(quote, value)``: the trimmed value with one pair of surrounding quotes removed."""
    value = js_trim(raw)
    quote = value[:1] if value[:1] in ("'", '"', "`") else ""
    return quote, _UNQUOTE.sub(lambda m: m.group(2), value)


def assignments(text: str) -> Iterator[re.Match[str]]:
    """Yield every match of Node dotenv's expression in ``text`` (already ``js_newlines``-ed)."""
    return LINE.finditer(text)


def ignored_lines(text: str, spans: list[tuple[int, int]]) -> tuple[int, ...]:
    """Return the lines outside ``spans`` that hold something other than blanks or a comment."""
    ignored: list[int] = []
    cursor = 0
    for start, end in [*spans, (len(text), len(text))]:
        gap = text[cursor:start]
        first = text.count("\n", 0, cursor) + 1
        for number, line in enumerate(gap.split("\n"), start=first):
            stripped = js_trim(line)
            if stripped and not stripped.startswith("#"):
                ignored.append(number)
        cursor = end
    return tuple(sorted(set(ignored)))


class NodeDialect(Dialect):
    """The ``dotenv`` npm package."""

    name: ClassVar[str] = "node"
    title: ClassVar[str] = "Node dotenv"

    def read(self, text: str, *, expand: bool, context: Context) -> Reading:
        """Return what ``dotenv.parse`` returns, with line numbers; skipped lines are listed."""
        text = js_newlines(text)
        entries: list[Entry] = []
        spans: list[tuple[int, int]] = []
        for match in assignments(text):
            quote, value = unquote(match.group(2) or "")
            if quote == '"':
                value = value.replace("\\n", "\n").replace("\\r", "\r")
            line = text.count("\n", 0, match.start(1)) + 1
            end_line = text.count("\n", 0, match.end()) + 1
            entries.append(Entry(match.group(1), value, line, end_line))
            spans.append(match.span())
        return Reading(tuple(entries), ignored_lines=ignored_lines(text, spans))
