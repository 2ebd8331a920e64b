"""Small helpers shared by the bench modules."""

from __future__ import annotations

import asyncio
import math
import socket
import statistics
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


class BenchError(Exception):
    """The bench cannot go on: a server did not start, a job did not succeed, a shape was wrong."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0..100), nearest rank; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def ms(seconds: float) -> float:
    return seconds * 1000.0


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run a measuring coroutine on uvloop when there is one (it comes with uvicorn[standard]), as the
    servers run: the clients share the machine's cores with the servers, so what they spend on their
    own event loop is taken from what is measured."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)
