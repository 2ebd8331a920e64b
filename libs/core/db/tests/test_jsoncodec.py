"""JSON columns: orjson where it can, the standard library for what it refuses; the same values back."""

from __future__ import annotations

import json
import math

from planwright.core.db import jsoncodec


def test_round_trip_of_ordinary_documents_is_compact_json() -> None:
    doc = {"goal": "Write a note", "n": [1, 2.5, None, True], "nested": {"ü": "ö"}}
    text = jsoncodec.dumps(doc)
    assert text == '{"goal":"Write a note","n":[1,2.5,null,true],"nested":{"ü":"ö"}}'
    assert jsoncodec.loads(text) == doc
    assert json.loads(text) == doc  # any JSON reader reads it


def test_integer_keys_become_strings_like_the_standard_library() -> None:
    assert jsoncodec.loads(jsoncodec.dumps({1: "a"})) == json.loads(json.dumps({1: "a"})) == {"1": "a"}


def test_what_orjson_refuses_falls_back_to_the_standard_library() -> None:
    huge = 2**70  # beyond 64 bits: orjson refuses it, json writes it
    assert jsoncodec.loads(jsoncodec.dumps({"n": huge})) == {"n": huge}
    # NaN as the standard library wrote it before orjson: still readable
    assert math.isnan(jsoncodec.loads(json.dumps({"x": float("nan")}))["x"])
