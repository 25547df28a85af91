"""Hypothesis strategies for environment snapshots, for Genesis and for third-party tests.

Needs the ``testing`` extra: ``pip install genesis-envsync[testing]``.  Every
function returns a ``SearchStrategy``; the docstring says what it draws.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from hypothesis import strategies as st

if TYPE_CHECKING:
    from ..reconciliation import ReconcileOptions

__all__ = [
    "env_keys",
    "env_values",
    "environment_names",
    "environments",
    "instance_names",
    "key_patterns",
    "scoping_options",
    "secret_values",
    "snapshot",
    "snapshots",
]

PLATFORM_NAMES = ("local", "render", "netlify", "github", "vercel", "staging", "production")
ENVIRONMENT_NAMES = ("production", "staging", "preview", "development", "qa")
_SPECIAL_VALUES = ("", "=", "a=b=c", "==", '"quoted"', "'single'", 'say "hi"', "it's", "#not a comment",
                   "true", "false", "0", "3000", " padded ", "line\nbreak", "ünïcødé ✓", "\u00a0",
                   "${OTHER_VAR}", "https://example.com/path?x=1&y=2")
_TOKEN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def env_keys() -> st.SearchStrategy[str]:
    """Draw variable names: mostly ``UPPER_SNAKE`` (``DB_URL``), sometimes mixed case (``viteApi``)."""
    return st.one_of(
        st.from_regex(r"[A-Z][A-Z0-9_]{0,15}", fullmatch=True),
        st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,15}", fullmatch=True),
    )


def env_values() -> st.SearchStrategy[str]:
    """Draw values: any unicode text (empty included) and awkward ones with ``=``, quotes, ``#``, newlines."""
    return st.one_of(
        st.sampled_from(_SPECIAL_VALUES),
        st.text(max_size=24),
        st.text(alphabet="=\"'#$ \\abc", max_size=8),
    )


def secret_values() -> st.SearchStrategy[str]:
    """Draw values every ``SecretPolicy`` treats as secret by value (known token formats, URL credentials)."""
    body = st.text(alphabet=_TOKEN_ALPHABET, min_size=36, max_size=40)
    return st.one_of(
        body.map(lambda b: "ghp_" + b),
        body.map(lambda b: "sk_live_" + b),
        body.map(lambda b: "glpat-" + b[:24]),
        body.map(lambda b: "xoxb-" + b),
        st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", min_size=16, max_size=16).map(lambda b: "AKIA" + b),
        body.map(lambda b: f"postgres://app:{b[:16]}@db.example.com:5432/app"),
    )


def instance_names() -> st.SearchStrategy[str]:
    """Draw platform instance names ``reconcile`` accepts: a letter, then letters, digits or ``_``."""
    return st.one_of(
        st.sampled_from(PLATFORM_NAMES),
        st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True),
    ).filter(lambda name: name != "drift")


def _value_or_unreadable(values: st.SearchStrategy[str], unreadable: bool) -> st.SearchStrategy[str | None]:
    return st.one_of(values, st.none()) if unreadable else values


def snapshot(keys: Sequence[str] | st.SearchStrategy[str] | None = None,
             values: st.SearchStrategy[str] | None = None, *, unreadable: bool = True,
             max_size: int = 20) -> st.SearchStrategy[dict[str, str | None]]:
    """Draw one ``{key: value_or_None}`` snapshot.

    Keys come from ``keys`` (a list to pick from, or a strategy; default
    :func:`env_keys`), values from ``values`` (default :func:`env_values`);
    ``None`` (present but unreadable) appears unless ``unreadable=False``.
    """
    if keys is None:
        key_strategy: st.SearchStrategy[str] = env_keys()
    elif isinstance(keys, st.SearchStrategy):
        key_strategy = keys
    else:
        key_strategy = st.sampled_from(tuple(keys))
    return st.dictionaries(key_strategy, _value_or_unreadable(values or env_values(), unreadable),
                           max_size=max_size)


@st.composite
def snapshots(draw: st.DrawFn, min_instances: int = 2, max_instances: int = 5, *,
              unreadable: bool = True, values: st.SearchStrategy[str] | None = None,
              max_keys: int = 12) -> dict[str, dict[str, str | None]]:
    """Draw ``{instance_name: snapshot}`` for 2-5 instances (by default) that share one key pool.

    Each key has one to three candidate values, so instances overlap, miss
    keys and disagree often enough for drift and conflicts to actually occur.
    """
    names = draw(st.lists(instance_names(), min_size=min_instances, max_size=max_instances, unique=True))
    pool = draw(st.lists(env_keys(), min_size=1, max_size=max_keys, unique=True))
    value_strategy = values if values is not None else env_values()
    choices = {key: draw(st.lists(value_strategy, min_size=1, max_size=3, unique=True)) for key in pool}
    result: dict[str, dict[str, str | None]] = {}
    for name in names:
        held = draw(st.lists(st.sampled_from(pool), unique=True, max_size=len(pool)))
        result[name] = {
            key: draw(_value_or_unreadable(st.sampled_from(choices[key]), unreadable)) for key in held
        }
    return result


@st.composite
def key_patterns(draw: st.DrawFn, keys: Sequence[str] | None = None) -> str:
    """Draw an fnmatch-style key pattern: an exact key, ``PREFIX*``, ``*SUFFIX`` or one with ``?``.

    With ``keys`` the pattern is derived from one of them, so it usually matches something.
    """
    key = draw(st.sampled_from(tuple(keys))) if keys else draw(env_keys())
    cut = draw(st.integers(min_value=0, max_value=len(key)))
    shape = draw(st.sampled_from(("exact", "prefix", "suffix", "single")))
    if shape == "prefix":
        return key[:cut] + "*"
    if shape == "suffix":
        return "*" + key[cut:]
    if shape == "single" and key:
        index = min(cut, len(key) - 1)
        return key[:index] + "?" + key[index + 1:]
    return key


@st.composite
def scoping_options(draw: st.DrawFn, names: Iterable[str],
                    keys: Sequence[str] | None = None) -> ReconcileOptions:
    """Draw ``ReconcileOptions`` with random ``include``/``exclude`` per name and a global ``ignore``.

    Patterns come from :func:`key_patterns` (derived from ``keys`` when given);
    the secret policy is left at its default.
    """
    from ..reconciliation import ReconcileOptions

    pattern_lists = st.lists(key_patterns(keys), max_size=3).map(tuple)
    include = {name: draw(pattern_lists) for name in names if draw(st.booleans())}
    exclude = {name: draw(pattern_lists) for name in names if draw(st.booleans())}
    ignore = draw(st.lists(key_patterns(keys), max_size=2).map(tuple))
    return ReconcileOptions(include=include, exclude=exclude, ignore=ignore)


def environment_names() -> st.SearchStrategy[str]:
    """Draw ``[environments.NAME]`` names: ``production``, ``staging``... or a letter, then letters,
    digits, ``_`` or ``-``."""
    return st.one_of(st.sampled_from(ENVIRONMENT_NAMES), st.from_regex(r"[a-z][a-z0-9_-]{0,11}", fullmatch=True))


@st.composite
def environments(draw: st.DrawFn, min_environments: int = 2, max_environments: int = 4, *,
                 min_instances: int = 1, max_instances: int = 3, unreadable: bool = True,
                 values: st.SearchStrategy[str] | None = None,
                 max_keys: int = 12) -> dict[str, dict[str, dict[str, str | None]]]:
    """Draw ``{environment: {instance: snapshot}}``: 2-4 environments of 1-3 instances each (by default).

    Instance names are unique across environments, as ``[environments]`` requires; every
    instance draws from one key pool with one to three candidate values per key, so keys
    go missing in whole environments and values differ inside and across environments.
    """
    names = draw(st.lists(environment_names(), min_size=min_environments, max_size=max_environments, unique=True))
    counts = [draw(st.integers(min_value=min_instances, max_value=max_instances)) for _ in names]
    instances = draw(st.lists(instance_names(), min_size=sum(counts), max_size=sum(counts), unique=True))
    pool = draw(st.lists(env_keys(), min_size=1, max_size=max_keys, unique=True))
    value_strategy = values or env_values()
    choices = {key: draw(st.lists(value_strategy, min_size=1, max_size=3, unique=True)) for key in pool}
    result: dict[str, dict[str, dict[str, str | None]]] = {}
    start = 0
    for name, count in zip(names, counts):
        group: dict[str, dict[str, str | None]] = {}
        for instance in instances[start:start + count]:
            held = draw(st.lists(st.sampled_from(pool), unique=True, max_size=len(pool)))
            group[instance] = {key: draw(_value_or_unreadable(st.sampled_from(choices[key]), unreadable))
                               for key in held}
        result[name] = group
        start += count
    return result
