"""``python -m bench [--quick] [--mode embedded|distributed|both] [--out PATH]`` from a checkout's root.

Starts Planwright from this checkout as subprocesses, runs every workload through the HTTP API, prints
one table and writes every figure as JSON (see bench/README.md).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import redis

from bench import floor
from bench.config import FULL, QUICK, TARGETS, Sizes
from bench.report import BOTH, DISTRIBUTED, EMBEDDED, table
from bench.runner import ModeResult, run_distributed, run_embedded, say
from bench.servers import REPO, bench_database, redis_prefix, warm_up
from bench.util import BenchError

RESULTS = Path(__file__).parent / "results"

NOTES = """\
floor ratio: the figure (a rate turned into ms per item) over the relevant floor measured in this run:
  embedded: SQLite commit; distributed: Redis stream two-hop round trip for latencies and hops,
  Postgres commit for throughputs and POST /jobs.
CPU figures: /proc/<pid> (scheduler ns over the process's threads; clock ticks if threads ended).
W4 lag: per live event and client, arrival time minus the event's created_at (one clock); spread: minus
  the first arrival of that event at any client. Clients: raw asyncio sockets in several processes."""


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip()


LOAD_AT_START = os.getloadavg()


def _machine() -> dict[str, Any]:
    return {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_avg_start": LOAD_AT_START,  # 1, 5, 15 minutes: how busy the machine was (others' work too)
        "load_avg_end": os.getloadavg(),
    }


def _enter(stack: contextlib.ExitStack, make: Callable[[], Any], needed: bool, what: str) -> Any:
    """Enter ``make()`` on ``stack``; when its server is not reachable, None unless it is ``needed``."""
    try:
        return stack.enter_context(make())
    except (OSError, TimeoutError, asyncpg.PostgresError, redis.RedisError) as exc:
        if needed:
            raise BenchError(f"{what} is not reachable: {exc}") from exc
        say(f"({what} is not reachable: {exc}; its floor is skipped)")
        return None


def _run(
    modes: list[str], sizes: Sizes, tmp: Path
) -> tuple[dict[str, float | None], dict[str, ModeResult], dict[str, float]]:
    needs_servers = DISTRIBUTED in modes
    durations: dict[str, float] = {}
    with contextlib.ExitStack() as stack:
        database_url = _enter(stack, bench_database, needs_servers, "Postgres")
        prefix = _enter(stack, redis_prefix, needs_servers, "Redis")
        started = time.monotonic()
        say("warm-up (planwright openapi) ...")
        warm_up(tmp)
        durations["warm_up"] = time.monotonic() - started
        started = time.monotonic()
        say("floor ...")
        floors = floor.measure(prefix, database_url)
        durations["floor"] = time.monotonic() - started
        results: dict[str, ModeResult] = {}
        for mode in modes:
            started = time.monotonic()
            say(f"{mode} ...")
            if mode == EMBEDDED:
                results[mode] = run_embedded(tmp / mode, sizes)
            else:
                results[mode] = run_distributed(tmp / mode, sizes, database_url, prefix)
            durations[mode] = time.monotonic() - started
            say(f"{mode}: {durations[mode]:.1f}s")
    return floors, results, durations


def _payload(args: argparse.Namespace, sizes: Sizes, run: tuple[Any, ...], stamp: str) -> dict[str, Any]:
    floors, results, durations = run
    keys = sorted({key for result in results.values() for key in result.figures})
    return {
        "mode": args.mode,
        "quick": args.quick,
        "commit": _git("rev-parse", "HEAD") or None,
        "commit_dirty": bool(_git("status", "--porcelain", "--", ".", ":!bench")),
        "machine": _machine(),
        "timestamp": stamp,
        "sizes": sizes.as_dict(),
        "figures": {key: {mode: results[mode].figures.get(key) for mode in results} for key in keys},
        "floors": floors,
        "targets": {key: list(target) for key, target in TARGETS.items()},
        "shapes": {mode: result.shapes for mode, result in results.items()},
        "notes": {mode: result.notes for mode, result in results.items()},
        "details": {mode: result.details for mode, result in results.items()},
        "durations_s": durations,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run of every workload")
    parser.add_argument("--mode", choices=[EMBEDDED, DISTRIBUTED, "both"], default="both")
    parser.add_argument("--out", type=Path, help="JSON file (default bench/results/<time>-<mode>.json)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so every child process is stopped
    sizes = QUICK if args.quick else FULL
    modes = list(BOTH) if args.mode == "both" else [args.mode]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="pwbench-") as tmp:
            run = _run(modes, sizes, Path(tmp))
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench interrupted; its servers are stopped", file=sys.stderr)
        return 130
    floors, results, durations = run
    durations["total"] = time.monotonic() - started
    payload = _payload(args, sizes, run, stamp)
    out = args.out or RESULTS / f"{stamp}-{args.mode}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=1) + "\n")
    _print(payload, {mode: r.figures for mode, r in results.items()}, floors, out)
    return 0


def _print(payload: dict[str, Any], figures: dict[str, dict[str, float]], floors: Any, out: Path) -> None:
    print(
        f"Planwright bench ({'quick' if payload['quick'] else 'full'}), commit {str(payload['commit'])[:12]}"
        f"{' (dirty)' if payload['commit_dirty'] else ''}, nproc {payload['machine']['nproc']}, "
        f"python {payload['machine']['python']}, {payload['timestamp']}"
    )
    print("sizes: " + ", ".join(f"{k}={v}" for k, v in payload["sizes"].items()))
    for mode, lines in payload["shapes"].items():
        for line in lines:
            print(f"shape checked ({mode}) {line}")
    print()
    print(table(figures, floors))
    print()
    for mode, notes in payload["notes"].items():
        for note in notes:
            print(f"NOTE ({mode}) {note}")
    print(NOTES)
    durations = ", ".join(f"{k} {v:.0f}s" for k, v in payload["durations_s"].items())
    print(f"durations: {durations}")
    print(f"JSON: {out}")


if __name__ == "__main__":
    sys.exit(main())
