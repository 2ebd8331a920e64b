"""What a decoded JSON value may hold to be stored and sent: no lone surrogates, no NaN, a bounded depth.

Kept apart from the API's ASGI layers so that the request models (and the Python client, which uses
them) import no web framework.
"""

from __future__ import annotations

import math
from collections.abc import Iterable


def check_text(text: str) -> str:
    """``text``, if it can be stored and sent: a lone surrogate (``"\\ud800"`` in JSON) cannot be
    encoded as UTF-8, so it is refused here (a ValueError, which validation answers with 422)."""
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError as exc:
            raise ValueError(f"a lone surrogate (U+{ord(text[exc.start]):04X}) is not valid text") from None
    return text


def check_json(value: object, max_depth: int) -> None:
    """Refuse (ValueError) a JSON value nested deeper than ``max_depth`` objects and arrays, holding a
    lone surrogate in a key or string, or a number that is not finite (``NaN``: no database stores it).

    Iterative, so a hostile nesting costs no recursion; stops at the first problem.
    """
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            items: Iterable[object] = node.values()
            for key in node:
                check_text(key)
        elif isinstance(node, list):
            items = node
        else:
            continue
        if depth > max_depth:
            raise ValueError(f"nests deeper than the limit of {max_depth} levels")
        for item in items:
            if isinstance(item, dict | list):
                stack.append((item, depth + 1))
            elif isinstance(item, str):
                check_text(item)
            elif isinstance(item, float) and not math.isfinite(item):
                raise ValueError(f"{item} is not a JSON number")
