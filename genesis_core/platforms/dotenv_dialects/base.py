"""What every ``.env`` dialect shares: the reading result, the error, the interface.

A dialect reads the text of one file the way one reader does (python-dotenv,
Node ``dotenv``, dotenvx, Docker Compose) and returns each assignment with its
line numbers.  It never runs anything the file contains.  Messages name lines
and variable names, never a line's text or a value: a ``.env`` holds secrets.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Iterable, Mapping
from typing import ClassVar

import attrs


class DialectError(Exception):
    """A line the dialect cannot read; ``str()`` is the message without file or line."""

    def __init__(self, line: int, message: str) -> None:
        self.line = line
        self.message = message
        super().__init__(message)


#: Where a reference was found (:attr:`Reference.source`): a key of the files read so far.
FROM_FILES = "files"
#: The process environment (only with ``expand_from_environment = true``).
FROM_ENVIRONMENT = "environment"
#: Nowhere: the reader used an empty string or the reference's default.
UNSET = "unset"


@attrs.frozen
class Reference:
    """One ``${NAME}``/``$NAME`` an expanded value used, and where ``NAME`` was found (never its value)."""

    name: str
    source: str = attrs.field(validator=attrs.validators.in_((FROM_FILES, FROM_ENVIRONMENT, UNSET)))


@attrs.frozen(repr=False)
class Entry:
    """One assignment: ``value`` is ``None`` when the reader gives the key no value Genesis can know."""

    key: str
    value: str | None
    line: int
    end_line: int
    #: The value came from ``${VAR}``/``$VAR`` expansion (it differs from the text as written).
    expanded: bool = False
    #: The names the value referred to, in order of first use (set with ``expanded``, and for
    #: Compose's bare ``KEY`` line taken from the environment).
    references: tuple[Reference, ...] = ()

    def __repr__(self) -> str:
        shown = "<unreadable>" if self.value is None else "<hidden>"
        return f"Entry(key={self.key!r}, value={shown}, lines={self.line}-{self.end_line})"


@attrs.frozen
class Note:
    """Something the reader does silently that the user should hear about (no value inside)."""

    line: int
    message: str


@attrs.frozen(repr=False)
class Reading:
    """Every assignment of one file in order, plus what the reader silently ignored."""

    entries: tuple[Entry, ...]
    #: Lines with text the reader skips without a word (Node and dotenvx skip what they cannot match).
    ignored_lines: tuple[int, ...] = ()
    notes: tuple[Note, ...] = ()

    def values(self) -> dict[str, str | None]:
        """Return ``{key: value}``; a key set twice keeps its last value, as every reader does."""
        return {entry.key: entry.value for entry in self.entries}

    def __repr__(self) -> str:
        return f"Reading(entries={len(self.entries)}, ignored_lines={self.ignored_lines!r})"


@attrs.frozen(repr=False)
class Context:
    """What expansion may refer to besides the file's own earlier keys."""

    #: Values of the files read before this one (``paths`` are read in order).
    earlier: Mapping[str, str] = attrs.field(factory=dict)
    #: The process environment, or ``None`` when it must not be consulted (the default).
    environ: Mapping[str, str] | None = None

    def __repr__(self) -> str:
        consulted = "consulted" if self.environ is not None else "not consulted"
        return f"Context(earlier={len(self.earlier)} keys, environment {consulted})"


class Dialect(abc.ABC):
    """How one reader turns the text of a ``.env`` file into variables."""

    #: The ``dialect = "..."`` name.
    name: ClassVar[str]
    #: The reader, as messages and docs name it.
    title: ClassVar[str]
    #: Whether the reader expands ``${VAR}`` by default, and whether that can be changed.
    expands_by_default: ClassVar[bool] = False
    expansion_optional: ClassVar[bool] = False
    #: What ends a line for this reader (line numbers and edits follow it).
    line_break: ClassVar[re.Pattern[str]] = re.compile(r"\r\n|\r|\n")

    @abc.abstractmethod
    def read(self, text: str, *, expand: bool, context: Context) -> Reading:
        """Return the assignments of ``text``; raise :class:`DialectError` for a line it cannot read."""

    def line_of(self, text: str, offset: int) -> int:
        """Return the 1-based line number of ``offset`` in ``text``, counting this reader's line breaks."""
        return len(self.line_break.findall(text, 0, offset)) + 1

    def __repr__(self) -> str:
        return f"<dialect {self.name}>"


_SHOWABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,127}")


def shown_name(name: str) -> str:
    """Return ``${name}`` for a message when ``name`` looks like a variable name, else a placeholder."""
    return f"${{{name}}}" if _SHOWABLE_NAME.fullmatch(name) else "a reference"


class Lookup:
    """Where an expanding reader finds ``NAME``: the environment first (when consulted), then earlier keys.

    All three expanding readers (python-dotenv's ``load_dotenv``, dotenvx, Docker Compose)
    let a variable already set in the process environment win over the file's own keys.
    """

    def __init__(self, context: Context) -> None:
        self._environ = context.environ
        self.known: dict[str, str] = dict(context.earlier)

    def get(self, name: str) -> str | None:
        """Return the value ``name`` refers to, or ``None`` when it is not set anywhere consulted."""
        if self._environ is not None and name in self._environ:
            return self._environ[name]
        return self.known.get(name)

    def source(self, name: str) -> str:
        """Return where ``name`` is found now: :data:`FROM_ENVIRONMENT`, :data:`FROM_FILES` or :data:`UNSET`."""
        if self._environ is not None and name in self._environ:
            return FROM_ENVIRONMENT
        return FROM_FILES if name in self.known else UNSET

    def references(self, names: Iterable[str]) -> tuple[Reference, ...]:
        """Return each of ``names`` once, in order, with where it is found now (call before setting the key)."""
        return tuple(Reference(name, self.source(name)) for name in dict.fromkeys(names))

    def merged(self) -> dict[str, str]:
        """Return every consulted name with its value (environment over file keys)."""
        merged = dict(self.known)
        if self._environ is not None:
            merged.update(self._environ)
        return merged
