"""Editing one member of a JSON object's text keeps every other byte (property-based)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genesis_aws.jsonedit import NotAnObject, parse_object, set_member

SENTINEL = "\x00sentinel\x00"
keys = st.text(min_size=1, max_size=12).filter(lambda k: SENTINEL not in k)
values = st.text(max_size=40)
objects = st.dictionaries(keys, values, max_size=8)
styles = st.sampled_from([{}, {"indent": 2}, {"separators": (",", ":")}, {"ensure_ascii": False},
                          {"indent": "\t", "sort_keys": True}])


@settings(max_examples=300, deadline=None)
@given(objects, styles, values, st.data())
def test_changing_a_member_keeps_every_other_byte(original: dict[str, str], style: dict[str, Any], value: str,
                                                  data: st.DataObject) -> None:
    if not original:
        return
    key = data.draw(st.sampled_from(sorted(original)))
    template = json.dumps({**original, key: SENTINEL}, **style)
    marker = json.dumps(SENTINEL, ensure_ascii=style.get("ensure_ascii", True))
    at = template.index(marker)
    prefix, suffix = template[:at], template[at + len(marker):]
    text = json.dumps(original, **style)
    assert text == prefix + json.dumps(original[key], ensure_ascii=style.get("ensure_ascii", True)) + suffix

    edited = set_member(text, key, value)
    assert edited.startswith(prefix) and edited.endswith(suffix)
    assert json.loads(edited[len(prefix):len(edited) - len(suffix)]) == value
    assert parse_object(edited) == {**original, key: value}


@settings(max_examples=300, deadline=None)
@given(objects, styles, keys, values)
def test_a_new_member_is_inserted_after_the_last_one(original: dict[str, str], style: dict[str, Any], key: str,
                                                     value: str) -> None:
    if key in original:
        return
    text = json.dumps(original, **style)
    closing = text.rindex("}")
    cut = len(text[:closing].rstrip()) if original else closing
    edited = set_member(text, key, value)
    assert edited.startswith(text[:cut]) and edited.endswith(text[cut:])
    inserted = edited[cut:len(edited) - (len(text) - cut)]
    member = inserted.lstrip()[1:] if original else inserted
    assert (inserted.lstrip().startswith(",") or not original) and json.loads("{" + member + "}") == {key: value}
    assert parse_object(edited) == {**original, key: value}


def test_the_spelling_around_a_member_is_kept() -> None:
    text = '{ "A" : "caf\\u00e9" ,"B":"x",\n "C": "\\/path" }'
    assert set_member(text, "B", "y") == '{ "A" : "caf\\u00e9" ,"B":"y",\n "C": "\\/path" }'
    assert set_member(text, "D", "new") == '{ "A" : "caf\\u00e9" ,"B":"x",\n "C": "\\/path" ,"D" : "new" }'
    pretty = '{\n    "A": "1",\n    "B": "2"\n}'
    assert set_member(pretty, "C", "3") == '{\n    "A": "1",\n    "B": "2",\n    "C": "3"\n}'
    assert set_member('{"only": "1"}', "next", "2") == '{"only": "1", "next": "2"}'
    assert set_member('{\n  "only": "1"\n}', "next", "2") == '{\n  "only": "1",\n  "next": "2"\n}'
    assert set_member("{}", "A", "1") == '{"A": "1"}'
    assert set_member(' {"A": "1"} \n', "A", "2") == ' {"A": "2"} \n'
    assert set_member('{"A": "\\u00e9"}', "B", "\u00e9") == '{"A": "\\u00e9", "B": "\\u00e9"}'


@pytest.mark.parametrize("text", ["", "[]", "null", '{"A": 1', '{"A": "1"} x', '{"A": "1", "A": "2"}', "{A: 1}",
                                  '{"A" "1"}', '{"A": "1",}'])
def test_anything_but_one_object_is_refused(text: str) -> None:
    with pytest.raises(NotAnObject):
        parse_object(text)
