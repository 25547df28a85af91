"""Read a JSON object of strings, and change one member of its text leaving every other byte as it was.

A secret's ``SecretString`` may have been written by hand, by the console or by
another tool, with its own spacing, member order and escapes.  Re-serialising the
whole object would rewrite all of it; :func:`set_member` edits the text in place:
the value of the one member (or a new member after the last one), nothing else.
"""

from __future__ import annotations

import json
import re

import attrs

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


class NotAnObject(ValueError):
    """The text is not one JSON object (the message names the problem, never a value)."""


@attrs.frozen
class _Member:
    key: str
    key_start: int
    key_end: int
    value_start: int
    value_end: int


def _skip(text: str, position: int) -> int:
    match = _WHITESPACE.match(text, position)
    assert match is not None  # the pattern matches the empty string
    return match.end()


def _members(text: str) -> tuple[list[_Member], int, int]:
    """Return the top-level members of the object in ``text``, the index after ``{`` and the index of ``}``."""
    position = _skip(text, 0)
    if text[position:position + 1] != "{":
        raise NotAnObject("not a JSON object")
    opened = position + 1
    position = _skip(text, opened)
    members: list[_Member] = []
    if text[position:position + 1] != "}":
        while True:
            if text[position:position + 1] != '"':
                raise NotAnObject(f"expected a member name at character {position}")
            key_start = position
            try:
                key, position = _DECODER.raw_decode(text, position)  # a JSON string token
            except ValueError:
                raise NotAnObject(f"invalid member name at character {key_start}") from None
            key_end = position
            position = _skip(text, position)
            if text[position:position + 1] != ":":
                raise NotAnObject(f"expected ':' at character {position}")
            value_start = _skip(text, position + 1)
            try:
                _, position = _DECODER.raw_decode(text, value_start)
            except ValueError:
                raise NotAnObject(f"invalid value at character {value_start}") from None
            members.append(_Member(key, key_start, key_end, value_start, position))
            position = _skip(text, position)
            separator = text[position:position + 1]
            if separator == ",":
                position = _skip(text, position + 1)
                continue
            if separator == "}":
                break
            raise NotAnObject(f"expected ',' or '}}' at character {position}")
    closed = position
    if text[_skip(text, closed + 1):]:
        raise NotAnObject("text after the JSON object")
    return members, opened, closed


def parse_object(text: str) -> dict[str, object]:
    """Return the object in ``text``; raise :class:`NotAnObject` for anything else or a duplicate name."""
    members, _, _ = _members(text)
    names = [member.key for member in members]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise NotAnObject(f"member {duplicates[0]!r} appears more than once")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:  # _members accepted it, so this is only a safety net
        raise NotAnObject(f"invalid JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(value, dict):
        raise NotAnObject("not a JSON object")
    return value


def _dump(text: str, value: str) -> str:
    ascii_style = text.isascii() and "\\u" in text
    return json.dumps(value, ensure_ascii=ascii_style)


def set_member(text: str, key: str, value: str) -> str:
    """Return ``text`` with member ``key`` set to the string ``value``; every other byte is kept.

    A new member goes after the last one, spaced like the existing members.
    """
    members, opened, closed = _members(text)
    matching = [member for member in members if member.key == key]
    if len(matching) > 1:
        raise NotAnObject(f"member {key!r} appears more than once")
    if matching:
        member = matching[0]
        return text[:member.value_start] + _dump(text, value) + text[member.value_end:]
    if not members:
        return text[:closed] + f"{_dump(text, key)}: {_dump(text, value)}" + text[closed:]
    first = members[0]
    colon = text[first.key_end:first.value_start]
    if len(members) > 1:
        separator = text[first.value_end:members[1].key_start]
    else:
        leading = text[opened:first.key_start]
        separator = "," + leading if "\n" in leading else ", "
    last = members[-1]
    return text[:last.value_end] + separator + _dump(text, key) + colon + _dump(text, value) + text[last.value_end:]
