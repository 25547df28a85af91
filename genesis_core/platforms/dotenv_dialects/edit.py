"""Set one key in the text of a ``.env`` file, keeping every other byte as it was.

The key's last assignment (the one every reader uses) is replaced where it
stands, keeping its indentation, its ``export`` prefix and its line ending; a
new key is appended with the file's own line ending.  Comments, blank lines,
ordering, other keys, CRLF endings and a byte-order mark are left alone.
"""

from __future__ import annotations

import re

from .base import Dialect, Reading

_PREFIX = re.compile(r"\ufeff?[ \t]*(?:export[ \t]+)?")


class EditError(Exception):
    """The key's line cannot be replaced without touching another key (no value in the message)."""


def _lines(text: str, dialect: Dialect) -> list[tuple[str, str]]:
    """Return ``text`` as ``(content, line ending)`` pairs, splitting where ``dialect`` ends lines."""
    lines: list[tuple[str, str]] = []
    cursor = 0
    for match in dialect.line_break.finditer(text):
        lines.append((text[cursor:match.start()], match.group(0)))
        cursor = match.end()
    if cursor < len(text):
        lines.append((text[cursor:], ""))
    return lines


def newline_of(text: str) -> str:
    """Return the line ending the file already uses (``\\r\\n`` or ``\\n``)."""
    first = re.search(r"\r\n|\n|\r", text)
    return "\r\n" if first and first.group(0) == "\r\n" else "\n"


def set_key(text: str, dialect: Dialect, reading: Reading, key: str, form: str) -> str:
    """Return ``text`` with ``key`` set to ``form`` (the text after ``KEY=``)."""
    assignment = f"{key}={form}"
    matches = [entry for entry in reading.entries if entry.key == key]
    if not matches:
        if text and not text.endswith(("\n", "\r")):
            text += newline_of(text)
        return text + assignment + newline_of(text)
    target = matches[-1]
    for entry in reading.entries:
        if entry is not target and entry.line <= target.end_line and target.line <= entry.end_line:
            raise EditError(f"cannot rewrite {key}: its line(s) also hold {entry.key}")
    lines = _lines(text, dialect)
    first, _ = lines[target.line - 1]
    last, ending = lines[target.end_line - 1]
    if ending == "\n" and last.endswith("\r"):
        ending = "\r\n"  # a CRLF file read by a dialect whose lines end at \n alone keeps its endings
    prefix = _PREFIX.match(first)
    kept = prefix.group(0) if prefix else ""
    lines[target.line - 1:target.end_line] = [(kept + assignment, ending)]
    return "".join(content + end for content, end in lines)
