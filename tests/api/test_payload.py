"""Parsing a call's body: what is refused, and why, without a request."""

import pytest

from dashboard.api.payload import MAX_DEPTH, InvalidJson, parse_object, unstorable


def test_parses_an_object_with_unicode():
    assert parse_object('{"a": ["é", 1.5, null, true]}'.encode()) == {"a": ["é", 1.5, None, True]}


@pytest.mark.parametrize(
    "raw",
    [b"  ", b"{", b"[]", b"1", b"null", b'{"a": NaN}', b'{"a": -Infinity}', b'{"a": 1e400}'],
)
def test_refuses_what_is_not_a_storable_object(raw):
    with pytest.raises(InvalidJson):
        parse_object(raw)


def test_depth_limit():
    nested = {"a": []}
    inner = nested["a"]
    for _ in range(MAX_DEPTH):
        inner.append([])
        inner = inner[0]
    assert unstorable(nested) is not None
    assert unstorable({"a": [[{"b": "ok"}]]}) is None


def test_nul_and_surrogates_in_keys_and_nested_values():
    assert unstorable({"a": [{"b\x00": 1}]}) is not None
    assert unstorable({"a": [["\udc00"]]}) is not None
    assert unstorable({"a": "\u00e9\U0001f600"}) is None
