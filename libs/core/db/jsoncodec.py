"""How JSON columns are written and read: orjson, with the standard library for what it refuses.

SQLAlchemy's JSON type encodes every value with the dialect's serializer; with the standard library
that was the largest single cost of storing a batch (events, task args and outputs, plans). orjson
writes compact JSON (no spaces after separators) and reads the same documents; a value it cannot
encode (an integer beyond 64 bits, say) or a document it cannot read (``NaN`` written by the standard
library) falls back to ``json``, so nothing that was accepted before is refused now.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS  # {1: "a"} becomes {"1": "a"}, as json.dumps does


def dumps(value: Any) -> str:
    try:
        return orjson.dumps(value, option=_OPTIONS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value)


def loads(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
