"""The ``python`` dialect: python-dotenv's own parser, as ``dotenv_values`` reads a file.

The file is read with universal newlines, as python-dotenv opens it (a lone
``\\r`` ends a line).  ``expand = true`` adds python-dotenv's interpolation
(``${VAR}`` and ``${VAR:-default}`` in any quoting, as ``load_dotenv()`` does by
default); without it values are taken as written.
"""

from __future__ import annotations

import io
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

#: What Genesis accepts as a variable name in this dialect (POSIX names, plus ``.`` and ``-``).
PYTHON_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


def universal_newlines(text: str) -> str:
    """Return ``text`` with ``\\r\\n`` and lone ``\\r`` turned into ``\\n`` (how ``open()`` reads text)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


class PythonDialect(Dialect):
    """python-dotenv (``dotenv_values``/``load_dotenv``)."""

    name: ClassVar[str] = "python"
    title: ClassVar[str] = "python-dotenv"
    expands_by_default: ClassVar[bool] = False
    expansion_optional: ClassVar[bool] = True

    def read(self, text: str, *, expand: bool, context: Context) -> Reading:
        """Return the assignments python-dotenv finds; a line it flags as invalid is an error."""
        from dotenv.parser import parse_stream

        text = universal_newlines(text.removeprefix("\ufeff"))
        entries: list[Entry] = []
        lookup = Lookup(context)
        notes: list[Note] = []
        for binding in parse_stream(io.StringIO(text)):
            original = binding.original.string
            leading = original[: len(original) - len(original.lstrip())]
            line = binding.original.line + leading.count("\n")
            if binding.error:
                raise DialectError(line, "cannot parse this line (expected KEY=VALUE, a comment or a blank line)")
            if binding.key is None:
                continue
            if binding.value is None:
                # A pasted value is the usual cause, so neither the line nor its "key" is echoed back.
                raise DialectError(line, "expected KEY=VALUE (the line has no '='; python-dotenv reads no "
                                         "value for it, so it is unreadable: write KEY= for an empty value)")
            if not PYTHON_KEY.fullmatch(binding.key):
                raise DialectError(line, "invalid variable name (use letters, digits and _ . -, "
                                         "not starting with a digit)")
            body = original.rstrip("\n")
            end_line = binding.original.line + body.count("\n")
            value, expanded = binding.value, False
            references: tuple[Reference, ...] = ()
            if expand:
                value, expanded, references = _interpolate(value, lookup, notes, line)
            lookup.known[binding.key] = value
            entries.append(Entry(binding.key, value, line, end_line, expanded, references))
        return Reading(tuple(entries), notes=tuple(notes))


def _interpolate(value: str, lookup: Lookup, notes: list[Note],
                 line: int) -> tuple[str, bool, tuple[Reference, ...]]:
    """Return ``value`` after python-dotenv's ``${VAR}``/``${VAR:-default}`` interpolation, whether it had
    a reference, and the names it referred to."""
    from dotenv.variables import Variable, parse_variables

    atoms = list(parse_variables(value))
    names = [atom.name for atom in atoms if isinstance(atom, Variable)]
    if not names:
        return value, False, ()
    env = lookup.merged()
    for atom in atoms:
        if isinstance(atom, Variable) and atom.name not in env and atom.default is None:
            notes.append(Note(line, f"{shown_name(atom.name)} is not set; python-dotenv uses an empty string"))
    return "".join(atom.resolve(env) for atom in atoms), True, lookup.references(names)
