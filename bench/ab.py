"""Two checkouts compared by alternating runs of ``bench.loop``:
``python -m bench.ab BEFORE AFTER [--pairs N] [--seconds S] [--chain N | --fanout N] [--poll]
[--mode embedded|distributed] [--concurrency N]``.

Each pair runs ``python -m bench.loop`` in BEFORE, then in AFTER (each checkout's own ``bench/`` and
code, this interpreter and its packages), the two one after the other, so both sides of a pair see
the same moment of a machine whose speed drifts. Prints each pair's p50 and CPU per job, then, per
figure, the mean of the pairs' differences (AFTER - BEFORE) and in how many pairs AFTER was lower: a
change of a few percent shows there long before one full bench run each can resolve it
(docs/performance.md, "Measuring"). The runs are not timed by anything else, and nothing is asserted.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
from pathlib import Path

_JOBS = re.compile(r"^jobs (\d+)  p50 ([\d.]+) ms  p95 ([\d.]+) ms$", re.M)
_CPU = re.compile(r"^(\w+): ([\d.]+) ms of CPU per job$", re.M)


def loop_figures(checkout: Path, loop_args: list[str], timeout_s: float) -> dict[str, float]:
    """One ``bench.loop`` run in ``checkout``: its p50, p95 and each process's CPU per job, in ms."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.loop", *loop_args],
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    jobs = _JOBS.search(done.stdout)
    if done.returncode != 0 or jobs is None:
        raise SystemExit(
            f"bench.loop failed in {checkout} (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
    figures = {"p50": float(jobs.group(2)), "p95": float(jobs.group(3))}
    figures.update({f"{name} CPU": float(ms) for name, ms in _CPU.findall(done.stdout)})
    return figures


def summary(pairs: list[tuple[dict[str, float], dict[str, float]]]) -> list[str]:
    """Per figure: the mean of AFTER - BEFORE over the pairs, its spread, and how many pairs each side
    was lower in."""
    lines = []
    for key in pairs[0][0]:
        diffs = [after[key] - before[key] for before, after in pairs if key in after]
        if not diffs:
            continue
        lower = sum(d < 0 for d in diffs)
        higher = sum(d > 0 for d in diffs)
        base = statistics.mean(before[key] for before, _ in pairs)
        share = f"; {100 * statistics.mean(diffs) / base:+.1f} %" if base > 0 else ""
        lines.append(
            f"{key:>12}: after - before {statistics.mean(diffs):+.3f} ms on average "
            f"({min(diffs):+.3f} .. {max(diffs):+.3f}{share}), "
            f"after lower in {lower} of {len(diffs)} pairs, higher in {higher}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path, help="the checkout to compare against")
    parser.add_argument("after", type=Path, help="the checkout with the change")
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=6.0, help="each run's measured time")
    shape = parser.add_mutually_exclusive_group()
    shape.add_argument("--chain", type=int, help="a chain of N instant tasks (bench.loop's default: 3)")
    shape.add_argument("--fanout", type=int, help="N independent tasks and a join")
    parser.add_argument("--poll", action="store_true", help="follow each job with GET /jobs/{id}")
    parser.add_argument("--mode", choices=("embedded", "distributed"), default="distributed")
    parser.add_argument("--concurrency", type=int, default=1, help="clients, each with one job at a time")
    args = parser.parse_args()
    for checkout in (args.before, args.after):
        if not (checkout / "bench" / "loop.py").is_file():
            parser.error(f"{checkout} is not a checkout with bench/loop.py")
    loop_args = ["--seconds", str(args.seconds), "--mode", args.mode, "--concurrency", str(args.concurrency)]
    if args.chain is not None:
        loop_args += ["--chain", str(args.chain)]
    if args.fanout is not None:
        loop_args += ["--fanout", str(args.fanout)]
    if args.poll:
        loop_args.append("--poll")
    timeout_s = args.seconds + 180  # the stack's start and the warm-up jobs come on top
    pairs = []
    for n in range(1, args.pairs + 1):
        before = loop_figures(args.before, loop_args, timeout_s)
        after = loop_figures(args.after, loop_args, timeout_s)
        pairs.append((before, after))
        shown = "  ".join(f"{key} {before[key]:.2f} -> {after.get(key, float('nan')):.2f}" for key in before)
        print(f"pair {n}: {shown}", flush=True)
    print("\n".join(summary(pairs)))


if __name__ == "__main__":
    main()
