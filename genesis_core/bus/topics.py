"""Topic names and wildcard patterns.

A topic is dot-separated segments of letters, digits, ``_`` and ``-``
(``envsync.drift``, ``autonomy.heal.planned``).  A pattern may also use:

* ``*`` -- exactly one segment (``envsync.*`` matches ``envsync.drift`` but not
  ``envsync`` or ``envsync.a.b``);
* ``>`` or ``**`` as the last segment -- one or more remaining segments
  (``autonomy.>`` matches ``autonomy.alert`` and ``autonomy.heal.planned``;
  ``>`` alone matches every topic).

Anything else must match exactly.
"""

from __future__ import annotations

import functools
import re

from ..errors import BusError

MAX_TOPIC_LENGTH = 255
_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+$")
ONE = "*"
#: The wildcards that match the rest of a topic (one or more segments) in a last segment.
REST_WILDCARDS = (">", "**")

# The topics ``genesis sync`` publishes, which engines subscribe to (``docs/bus.md``).
#: A sync started (the platforms it compares).
INIT_TOPIC = "envsync.init"
#: A comparison found every platform in step.
COMMIT_TOPIC = "envsync.commit"
#: A comparison found drift.
DRIFT_TOPIC = "envsync.drift"
#: The comparison across environments (``[environments]``).
CROSS_TOPIC = "envsync.cross_drift"
#: A sync could not complete (a platform could not be read).
ERROR_TOPIC = "envsync.error"


def _check(text: object, what: str) -> list[str]:
    if not isinstance(text, str) or not text:
        raise BusError(f"{what} must be a non-empty string, got {text!r}")
    if len(text) > MAX_TOPIC_LENGTH:
        raise BusError(f"{what} is longer than {MAX_TOPIC_LENGTH} characters")
    return text.split(".")


@functools.lru_cache(maxsize=4096)
def validate_topic(topic: str) -> str:
    """Return ``topic`` if it is a valid concrete topic (no wildcards); raise ``BusError`` otherwise."""
    for segment in _check(topic, "topic"):
        if not _SEGMENT.match(segment):
            raise BusError(f"invalid topic {topic!r}: segments are letters, digits, '_' or '-' "
                           "separated by single dots (wildcards only in subscriptions)")
    return topic


@functools.lru_cache(maxsize=4096)
def validate_pattern(pattern: str) -> str:
    """Return ``pattern`` if it is a valid topic pattern; raise ``BusError`` otherwise."""
    segments = _check(pattern, "topic pattern")
    for index, segment in enumerate(segments):
        if segment in REST_WILDCARDS:
            if index != len(segments) - 1:
                raise BusError(f"invalid topic pattern {pattern!r}: {segment!r} must be the last segment")
        elif segment != ONE and not _SEGMENT.match(segment):
            raise BusError(f"invalid topic pattern {pattern!r}: each segment is a name, '*', "
                           "or a final '>' / '**'")
    return pattern


def is_wildcard(pattern: str) -> bool:
    """Return whether ``pattern`` contains a wildcard segment."""
    return any(segment == ONE or segment in REST_WILDCARDS for segment in pattern.split("."))


class TopicPattern:
    """A compiled pattern; ``matches(topic)`` is the only operation."""

    __slots__ = ("text", "exact", "_prefix", "_segments", "_rest")

    def __init__(self, pattern: str) -> None:
        validate_pattern(pattern)
        self.text = pattern
        segments = pattern.split(".")
        self._rest = segments[-1] in REST_WILDCARDS
        if self._rest:
            segments = segments[:-1]
        self._segments = tuple(segments)
        self.exact = not self._rest and ONE not in segments
        # ``a.b.>`` with no ``*`` needs only a prefix test.
        self._prefix = ".".join(segments) + "." if self._rest and ONE not in segments else None

    def matches(self, topic: str) -> bool:
        """Return whether the concrete ``topic`` matches this pattern."""
        if self.exact:
            return topic == self.text
        if self._prefix is not None:
            return topic.startswith(self._prefix) if self._segments else True
        parts = topic.split(".")
        count = len(self._segments)
        if self._rest:
            if len(parts) <= count:
                return False
        elif len(parts) != count:
            return False
        for want, got in zip(self._segments, parts):  # noqa: SIM110 - a loop beats all() on the publish path
            if want != ONE and want != got:
                return False
        return True

    def __repr__(self) -> str:
        return f"TopicPattern({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TopicPattern) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)


@functools.lru_cache(maxsize=4096)
def compile_pattern(pattern: str) -> TopicPattern:
    """Return the compiled (and cached) form of ``pattern``."""
    return TopicPattern(pattern)


def topic_matches(pattern: str, topic: str) -> bool:
    """Return whether ``topic`` matches ``pattern`` (see the module docstring for the rules)."""
    return compile_pattern(pattern).matches(topic)


def matches_any(patterns: tuple[str, ...] | list[str], topic: str) -> bool:
    """Return whether ``topic`` matches at least one of ``patterns``."""
    return any(compile_pattern(p).matches(topic) for p in patterns)
