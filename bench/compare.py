"""Two bench results side by side, as a Markdown table: ``python -m bench.compare BEFORE.json AFTER.json``.

Each figure gets its value before and after in each mode, and the issue's target; the floors close the
table. Used for docs/performance.md and for closing notes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench.config import TARGETS
from bench.report import BOTH, FIGURES


def _num(value: Any) -> str:
    if not isinstance(value, int | float):
        return "-"
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}" if value < 1 else f"{value:.1f}"


def _target(key: str) -> str:
    if key not in TARGETS:
        return ""
    op, value = TARGETS[key]
    return str(value) if op == "info" else f"{op} {value}"


def table(before: dict[str, Any], after: dict[str, Any]) -> str:
    head = "| workload | unit | embedded before | embedded after | distributed before | distributed after | target |"  # noqa: E501
    rows = [head, "|" + "---|" * 7]
    for figure in FIGURES:
        cells = []
        for mode in BOTH:
            for result in (before, after):
                cells.append(_num(result["figures"].get(figure.key, {}).get(mode)))
        rows.append(
            f"| {figure.label} | {figure.unit} | " + " | ".join(cells) + f" | {_target(figure.key)} |"
        )
    for key in sorted(set(before["floors"]) | set(after["floors"])):
        b, a = before["floors"].get(key), after["floors"].get(key)
        rows.append(f"| {key} | ms | {_num(b)} | {_num(a)} | | | |")
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m bench.compare BEFORE.json AFTER.json", file=sys.stderr)
        return 2
    before, after = (json.loads(Path(p).read_text()) for p in argv)
    print(f"before: {before.get('commit', '?')[:10]} at {before.get('timestamp')}")
    print(f"after:  {after.get('commit', '?')[:10]} at {after.get('timestamp')}\n")
    print(table(before, after))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
