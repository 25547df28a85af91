"""Compile the patterns users write in configuration, so that no pattern can hang Genesis.

Two kinds of pattern:

- a glob (``VITE_*``, ``*_TOKEN``, ``DB_?``, ``[!A]*``) is matched against the whole name with
  :mod:`fnmatch`'s translation (``*`` becomes an atomic group, so it cannot backtrack without end);
- ``re:EXPR`` is a regular expression searched anywhere in the name, run by RE2
  (``google-re2``): its time is linear in the length of the name whatever the pattern,
  so ``re:^(a+)+$`` cannot stall a sync. RE2 has no backreferences and no lookaround;
  a pattern that needs them is refused when the configuration loads.

Every pattern is at most :data:`MAX_PATTERN_LENGTH` characters, and a setting lists at most
:data:`MAX_PATTERNS`. See ``docs/configuration.md#key-patterns``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from .config import Table

__all__ = [
    "MAX_PATTERNS",
    "MAX_PATTERN_LENGTH",
    "REGEX_PREFIX",
    "KeyPatterns",
    "Regex",
    "compile_patterns",
    "compile_regex",
    "patterns_setting",
]

REGEX_PREFIX = "re:"
#: The longest pattern (glob or ``re:``) Genesis accepts, in characters.
MAX_PATTERN_LENGTH = 1000
#: The most patterns one setting (``ignore``, ``include``, ``[secrets] patterns``, ...) may list.
MAX_PATTERNS = 1000
_DETAIL_LIMIT = 120
_SYNTAX_HINT = "(RE2 syntax: no backreferences or lookaround)"


def _re2_compile(source: str, *, ignore_case: bool) -> Any:
    """Return ``source`` compiled by RE2; raise ``ValueError`` with RE2's reason on one line."""
    import re2  # type: ignore[import-untyped]

    options = re2.Options()
    options.log_errors = False  # RE2 would print the error on stderr as well
    options.case_sensitive = not ignore_case
    try:
        return re2.compile(source, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else ""
        if isinstance(reason, bytes):  # the binding passes RE2's message on as bytes
            reason = reason.decode("utf-8", "replace")
        detail = " ".join(str(reason).split())
        if len(detail) > _DETAIL_LIMIT:
            detail = detail[:_DETAIL_LIMIT - 1] + "…"
        raise ValueError(detail or "RE2 cannot compile it") from None


def _utf8(text: str) -> bytes:
    """Return ``text`` as RE2 reads it: UTF-8 (faster to match than a ``str``, and a lone surrogate cannot fail)."""
    return text.encode("utf-8", "surrogatepass")


def _check_length(pattern: str, what: str) -> None:
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ValueError(f"{what} of {len(pattern)} characters is too long (at most {MAX_PATTERN_LENGTH})")


@attrs.frozen
class Regex:
    """A user's regular expression compiled by RE2: matching takes time linear in the text."""

    source: str
    _compiled: Any = attrs.field(eq=False, repr=False)

    def search(self, text: str) -> bool:
        """Return whether the expression matches anywhere in ``text``."""
        return self._compiled.search(_utf8(text)) is not None

    def fullmatch(self, text: str) -> bool:
        """Return whether the expression matches the whole of ``text``."""
        return self._compiled.fullmatch(_utf8(text)) is not None


def compile_regex(source: str, *, ignore_case: bool = False) -> Regex:
    """Return ``source`` compiled by RE2.

    Raises ``ValueError`` (one line, without repeating ``source``) when it is longer than
    :data:`MAX_PATTERN_LENGTH` or not valid RE2 syntax (a backreference, a lookaround, ...).
    """
    if not isinstance(source, str) or not source:
        raise ValueError("expected a non-empty regular expression")
    _check_length(source, "a regular expression")
    try:
        compiled = _re2_compile(source, ignore_case=ignore_case)
    except ValueError as exc:
        raise ValueError(f"invalid regular expression: {exc} {_SYNTAX_HINT}") from None
    return Regex(source, compiled)


@attrs.frozen
class KeyPatterns:
    """Key patterns compiled together: globs over the whole name, ``re:`` expressions searched (RE2)."""

    patterns: tuple[str, ...]
    _globs: re.Pattern[str] | None = attrs.field(eq=False, repr=False)
    _regexes: tuple[Any, ...] = attrs.field(eq=False, repr=False)  # searches of UTF-8 names (_re2_searches)

    def match(self, name: str) -> object | None:
        """Return a true value when ``name`` matches any of the patterns, else ``None``."""
        if self._globs is not None:
            found = self._globs.match(name)
            if found is not None:
                return found
        for search in self._regexes:
            hit: object | None = search(_utf8(name))
            if hit is not None:
                return hit
        return None

    def __call__(self, name: str) -> bool:
        """Return whether ``name`` matches any of the patterns."""
        return self.match(name) is not None


def _pattern_error(pattern: str, problem: str) -> ValueError:
    shown = pattern if len(pattern) <= 60 else pattern[:59] + "…"
    return ValueError(f"invalid key pattern {shown!r}: {problem}")


def compile_patterns(patterns: Iterable[str], *, ignore_case: bool = False) -> KeyPatterns | None:
    """Return the key patterns compiled (use ``.match``), or ``None`` when there are none.

    A pattern is an fnmatch-style glob matched against the whole name
    (``VITE_*``, ``*_TOKEN``, ``DB_?``); a pattern starting with ``re:`` is an RE2
    regular expression searched anywhere in the name.  Raises ``ValueError`` naming
    the pattern when one is empty, longer than :data:`MAX_PATTERN_LENGTH`, or not a
    regular expression RE2 accepts.
    """
    patterns = tuple(patterns)
    globs: list[str] = []
    regexes: list[str] = []
    for pattern in patterns:
        if not isinstance(pattern, str) or not pattern:
            raise ValueError(f"invalid key pattern {pattern!r}: expected a non-empty string")
        if len(pattern) > MAX_PATTERN_LENGTH:
            raise ValueError(f"a key pattern of {len(pattern)} characters is too long "
                             f"(at most {MAX_PATTERN_LENGTH})")
        if pattern.startswith(REGEX_PREFIX):
            source = pattern[len(REGEX_PREFIX):]
            if not source:
                raise _pattern_error(pattern, "expected a regular expression after re:")
            try:
                _re2_compile(source, ignore_case=ignore_case)
            except ValueError as exc:
                raise _pattern_error(pattern, f"{exc} {_SYNTAX_HINT}") from None
            regexes.append(source)
        else:
            globs.append(f"(?:{fnmatch.translate(pattern)})")
    if not patterns:
        return None
    compiled_globs = re.compile("|".join(globs), re.IGNORECASE if ignore_case else 0) if globs else None
    searches = _re2_searches(regexes, ignore_case=ignore_case) if regexes else ()
    return KeyPatterns(patterns, compiled_globs, searches)


def _re2_searches(sources: list[str], *, ignore_case: bool) -> tuple[Callable[[bytes], object | None], ...]:
    """Return functions that each return a true value when some of ``sources`` (checked RE2
    expressions) match somewhere in a UTF-8 name, else ``None``.

    Usually one RE2 set of all of them: a set's ``Match`` is one call into RE2, where a compiled
    expression's ``search`` runs Python code of the binding per name (2-3x the time).  When the
    set exceeds RE2's memory budget, one search per expression.
    """
    import re2

    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = not ignore_case
    try:
        regex_set = re2.Set.SearchSet(options)
        for source in sources:
            regex_set.Add(source)
        regex_set.Compile()
    except re2.error:
        return tuple(_re2_compile(source, ignore_case=ignore_case).search for source in sources)
    search: Callable[[bytes], object | None] = regex_set.Match
    return (search,)


def patterns_setting(table: Table, key: str) -> tuple[str, ...]:
    """Return the key patterns listed at ``table[key]`` (none when absent).

    Each is compiled once to check it: a wrong type, an empty, oversized or invalid pattern,
    or more than :data:`MAX_PATTERNS` of them is a ``ConfigError`` naming the file and setting.
    """
    patterns: tuple[str, ...] = table.str_list(key, ())
    if len(patterns) > MAX_PATTERNS:
        raise table.error(key, f"lists {len(patterns)} patterns, at most {MAX_PATTERNS} are allowed")
    for index, pattern in enumerate(patterns):
        try:
            compile_patterns((pattern,))
        except ValueError as exc:
            raise table.error(f"{key}[{index}]", str(exc)) from None
    return patterns
