"""The value types a schema can require, and how a value is recognised as one."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from genesis_core.api import Regex

_INT = re.compile(r"[+-]?[0-9]+")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+")
BOOL_WORDS = frozenset({"true", "false", "1", "0", "yes", "no", "on", "off"})
_BOOL_INFER_WORDS = BOOL_WORDS - {"1", "0"}


def is_int(value: str) -> bool:
    """Return whether ``value`` is a decimal integer (optional sign, no spaces)."""
    return _INT.fullmatch(value) is not None


def is_bool(value: str) -> bool:
    """Return whether ``value`` is a boolean word: true/false, 1/0, yes/no, on/off (any case)."""
    return value.lower() in BOOL_WORDS


def is_url(value: str) -> bool:
    """Return whether ``value`` is an absolute URL with a scheme and a host (``postgres://`` too)."""
    if not value or any(ch.isspace() for ch in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return bool(_SCHEME.fullmatch(parts.scheme or "")) and bool(parts.netloc) and bool(parts.hostname)


def is_email(value: str) -> bool:
    """Return whether ``value`` looks like one e-mail address (``name@host.tld``)."""
    return _EMAIL.fullmatch(value) is not None


CHECKERS: dict[str, Callable[[str], bool]] = {
    "int": is_int,
    "bool": is_bool,
    "url": is_url,
    "email": is_email,
}
VALUE_TYPES = ("int", "bool", "url", "email", "regex")


def matches_type(type_name: str, value: str, pattern: Regex | None = None) -> bool:
    """Return whether ``value`` is of ``type_name`` (``regex`` needs ``pattern``, matched in full)."""
    if type_name == "regex":
        return pattern is not None and pattern.fullmatch(value)
    return CHECKERS[type_name](value)


def infer_type(values: Iterable[str]) -> str | None:
    """Return the type every value has (bool, int, url or email, in that order), or ``None``.

    ``bool`` is inferred only from words (true/false, yes/no, on/off), so a
    0/1 flag comes out as ``int``, which it also is.
    """
    items = list(values)
    if not items:
        return None
    if all(v.lower() in _BOOL_INFER_WORDS for v in items):
        return "bool"
    for name in ("int", "url", "email"):
        if all(CHECKERS[name](v) for v in items):
            return name
    return None
