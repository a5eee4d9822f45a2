"""Plain data: exact round trips through JSON, subclasses reduced to their base value, and a decoder that
builds nothing but built-in types and refuses anything off the format."""

from __future__ import annotations

import json
import math
from collections import Counter, namedtuple

import pytest

from plot_eval.judges.plain_data import MAX_DEPTH, NotPlainDataError, decode, encode


def _through_json(value):
    return decode(json.loads(json.dumps(encode(value))))


@pytest.mark.parametrize(
    "value",
    [
        None, True, 0, -(10**30), 1.0, -0.0, 0.1 + 0.2, 1e308, "", "é\n", b"\x00\xff", 2 - 3j,
        [1, [2.0, "3"]], (1, (2,)), (), {1, 2}, frozenset({"a"}), {(1, 2): [None], "k": {"n": 1.5}},
        int, str, type(None), [float, tuple],
    ],
)  # fmt: skip
def test_round_trip_keeps_value_and_exact_types(value):
    back = _through_json(value)
    assert back == value and repr(back) == repr(value)  # repr tells 1 from 1.0 and (1,) from [1]


def test_non_finite_floats_survive():
    assert math.isnan(_through_json(float("nan")))
    assert _through_json([float("inf"), -float("inf")]) == [math.inf, -math.inf]


def test_subclasses_become_their_base_value_without_their_methods():
    class Always(int):
        def __eq__(self, other):
            return True

        __hash__ = int.__hash__

    class Loud(str):
        def __str__(self):
            return "forged"

    point = namedtuple("point", "x y")(1, 2)
    values = [Always(7), Loud("a"), Counter("aab"), point]
    assert [type(v) for v in map(_through_json, values)] == [int, str, dict, tuple]
    assert list(map(_through_json, values)) == [7, "a", {"a": 2, "b": 1}, (1, 2)]
    assert (_through_json(Always(7)) == 8) is False


@pytest.mark.parametrize(
    "value", [object(), (x for x in ()), len, range(3), [1, {2: object()}], object, type]
)
def test_other_objects_are_refused_by_name(value):
    with pytest.raises(NotPlainDataError, match="is not plain data"):
        encode(value)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"tuple": 1}, "holds a list"),
        ({"tuple": [], "set": []}, "exactly one key"),
        ({"object": []}, "unknown or malformed tag"),
        ({"set": [[1]]}, "unhashable"),
        ({"dict": [[1]]}, r"\[key, value\] pairs"),
        ({"bytes": "zz"}, "hexadecimal"),
        ({"complex": ["1", 2]}, "malformed"),
        ({"type": "object"}, "malformed"),
    ],
)
def test_decoder_refuses_documents_off_the_format(document, message):
    with pytest.raises(NotPlainDataError, match=message):
        decode(document)


def test_nesting_is_bounded_both_ways():
    deep = []
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(NotPlainDataError, match="nested deeper"):
        encode(deep)
    with pytest.raises(NotPlainDataError, match="nested deeper"):
        decode(deep)
