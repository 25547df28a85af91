"""Topic validation and wildcard matching: a table of cases and a property against a regex model."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from genesis_core.bus.topics import (
    is_wildcard,
    matches_any,
    topic_matches,
    validate_pattern,
    validate_topic,
)
from genesis_core.errors import BusError

TABLE = [
    # pattern, topic, matches
    ("envsync.drift", "envsync.drift", True),
    ("envsync.drift", "envsync.commit", False),
    ("envsync.drift", "envsync.drift.extra", False),
    ("envsync.*", "envsync.drift", True),
    ("envsync.*", "envsync", False),
    ("envsync.*", "envsync.drift.extra", False),
    ("envsync.*", "truth.drift", False),
    ("*.drift", "envsync.drift", True),
    ("*.drift", "envsync.commit", False),
    ("*", "envsync", True),
    ("*", "envsync.drift", False),
    ("autonomy.>", "autonomy.alert", True),
    ("autonomy.>", "autonomy.heal.planned", True),
    ("autonomy.>", "autonomy", False),
    ("autonomy.**", "autonomy.heal.planned", True),
    ("autonomy.**", "autonomy", False),
    (">", "envsync", True),
    (">", "autonomy.heal.planned", True),
    ("**", "a.b.c.d", True),
    ("*.heal.>", "autonomy.heal.planned", True),
    ("*.heal.>", "autonomy.heal", False),
    ("*.heal.>", "autonomy.alert.planned", False),
    ("envsync.drift", "envsync.driftx", False),
    ("envsync.>", "envsyncx.drift", False),
]


@pytest.mark.parametrize(("pattern", "topic", "expected"), TABLE)
def test_matching_table(pattern: str, topic: str, expected: bool) -> None:
    assert topic_matches(pattern, topic) is expected


@pytest.mark.parametrize("topic", ["", ".", "a.", ".a", "a..b", "a.*", "a.>", "a b", "a/b",
                                   "x" * 256, "envsync.dr!ft"])
def test_invalid_topics_are_rejected(topic: str) -> None:
    with pytest.raises(BusError):
        validate_topic(topic)


@pytest.mark.parametrize("pattern", ["", "a..b", "a.>.b", "**.a", "a.b*", "a.*x", "a b", 5])
def test_invalid_patterns_are_rejected(pattern: object) -> None:
    with pytest.raises(BusError):
        validate_pattern(pattern)  # type: ignore[arg-type]


def test_valid_names_pass_through() -> None:
    assert validate_topic("autonomy.heal.planned") == "autonomy.heal.planned"
    assert validate_topic("my-app_1.x") == "my-app_1.x"
    assert validate_pattern("a.*.>") == "a.*.>"
    assert is_wildcard("a.*") and is_wildcard(">") and not is_wildcard("a.b")
    assert matches_any(("truth.*", "envsync.*"), "envsync.init")
    assert not matches_any((), "envsync.init")


def _model(pattern: str, topic: str) -> bool:
    """Reference semantics as a regular expression."""
    parts = pattern.split(".")
    rest = parts[-1] in (">", "**")
    if rest:
        parts = parts[:-1]
    regex = r"\.".join("[^.]+" if p == "*" else re.escape(p) for p in parts)
    if rest:
        regex = regex + r"\..+" if parts else ".+"
    return re.fullmatch(regex, topic) is not None


segments = st.sampled_from(["a", "b", "c-1", "d_2"])
topics = st.lists(segments, min_size=1, max_size=5).map(".".join)
patterns = st.tuples(
    st.lists(st.one_of(segments, st.just("*")), min_size=0, max_size=4),
    st.sampled_from(["", ">", "**"]),
).filter(lambda t: t[0] or t[1]).map(lambda t: ".".join(t[0] + ([t[1]] if t[1] else [])))


@given(patterns, topics)
def test_matching_agrees_with_regex_model(pattern: str, topic: str) -> None:
    assert topic_matches(pattern, topic) == _model(pattern, topic)


@given(topics)
def test_a_topic_matches_itself_and_the_catch_all(topic: str) -> None:
    assert topic_matches(topic, topic)
    assert topic_matches(">", topic)
    assert topic_matches(".".join("*" for _ in topic.split(".")), topic)
