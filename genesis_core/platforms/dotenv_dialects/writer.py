"""Write a value so that the readers that matter read back exactly that value.

Forms are tried in this order, and each is checked by reading ``KEY=<form>``
back with every dialect concerned (the form must give the value, unexpanded,
and leave the next line alone):

1. bare: ``KEY=value``;
2. single quotes: ``KEY='value'`` (no ``'``, no line break in the value);
3. double quotes with ``\\n`` and ``\\r`` escapes only: ``KEY="line one\\nline two"``;
4. single quotes around real line breaks (no ``'``, no carriage return);
5. double quotes with ``\\\\`` and ``\\"`` escaped too (python-dotenv and Compose only).

The first form that *every* dialect reads identically wins; failing that, the first
form that the configured dialect and python-dotenv agree on; failing that, the value
is refused (:class:`Refused`) and nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import attrs

from .base import Context, Dialect, DialectError

_PROBE_NEXT = "GENESIS_PROBE_NEXT"


class Refused(Exception):
    """No form is read back identically by ``dialects``; the message names the key and dialects only."""

    def __init__(self, key: str, dialects: Sequence[Dialect]) -> None:
        self.key = key
        self.dialects = tuple(dialects)
        titles = " and ".join(d.title for d in self.dialects)
        if len(self.dialects) == 1:
            message = f"refusing to write {key}: no quoting makes {titles} read this value back unchanged"
        else:
            message = f"refusing to write {key}: no quoting makes {titles} read the same value"
        super().__init__(message + " (nothing was written)")


@attrs.frozen
class Target:
    """A dialect a written value must satisfy, with the expansion it reads with."""

    dialect: Dialect
    expand: bool


@attrs.frozen(repr=False)
class Encoded:
    """The text after ``KEY=`` and the dialects that read it back unchanged."""

    text: str
    readers: frozenset[str]

    def __repr__(self) -> str:
        return f"Encoded(text=<hidden>, readers={sorted(self.readers)})"


def forms(value: str) -> Iterator[str]:
    """Yield the candidate spellings of ``value``, most portable first."""
    breaks = "\n" in value or "\r" in value
    if not breaks:
        yield value
        if "'" not in value:
            yield f"'{value}'"
    yield '"' + value.replace("\n", "\\n").replace("\r", "\\r") + '"'
    if breaks and "'" not in value and "\r" not in value:
        yield f"'{value}'"
    yield '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") + '"'


def reads_back(target: Target, key: str, form: str, value: str) -> bool:
    """Return whether ``target`` reads ``KEY=<form>`` as ``value`` (unexpanded) and the next line intact."""
    text = f"{key}={form}\n{_PROBE_NEXT}=1\n"
    try:
        reading = target.dialect.read(text, expand=target.expand, context=Context())
    except DialectError:
        return False
    if reading.ignored_lines or [e.key for e in reading.entries] != [key, _PROBE_NEXT]:
        return False
    entry, probe = reading.entries
    return entry.value == value and not entry.expanded and probe.value == "1"


def encode(key: str, value: str, required: Sequence[Target], everyone: Sequence[Target]) -> Encoded:
    """Return the most portable spelling of ``value`` that every ``required`` target reads back.

    Raise :class:`Refused` when there is none.
    """
    fallback: Encoded | None = None
    for form in forms(value):
        readers = frozenset(t.dialect.name for t in everyone if reads_back(t, key, form, value))
        if not all(reads_back(t, key, form, value) for t in required):
            continue
        readers |= frozenset(t.dialect.name for t in required)
        if all(t.dialect.name in readers for t in everyone):
            return Encoded(form, readers)
        if fallback is None:
            fallback = Encoded(form, readers)
    if fallback is None:
        raise Refused(key, list(dict.fromkeys(t.dialect for t in required)))
    return fallback
