"""Running one of the bench's tools (``python -m bench.loop`` and the like) as a user would, for the
tests in tests/bench."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).parents[1]


def run_bench(module: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """``python -m module args`` in the checkout's root with this interpreter, its output captured as
    text; its exit status is not checked here (the test looks at it)."""
    return subprocess.run(
        [sys.executable, "-m", module, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout
    )
