"""The figures the bench reports, the table printed to stdout, and the JSON written next to it."""

from __future__ import annotations

from dataclasses import dataclass

from bench.config import TARGET_MODES, TARGETS

EMBEDDED, DISTRIBUTED = "embedded", "distributed"
BOTH = (EMBEDDED, DISTRIBUTED)


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    unit: str
    modes: tuple[str, ...] = BOTH
    # The floor each mode's figure is divided by (a key of the floor figures), and how: "time" divides
    # the figure by the floor; "rate" turns a rate into ms per item first.
    floors: tuple[str | None, str | None] = (None, None)
    kind: str = "time"
    # A count of events that need not happen in a run (0 is a result, not a missing figure).
    zero_ok: bool = False


_HOP = ("floor_sqlite_commit_ms", "floor_stream_2hop_ms")
_COMMIT = ("floor_sqlite_commit_ms", "floor_pg_commit_ms")
_D = (DISTRIBUTED,)

FIGURES = [
    Figure("start_to_healthz_s", "start: spawn to first 200 on /healthz (API)", "s"),
    Figure("idle_rss_mb", "idle RSS: API process (embedded: the one process)", "MiB"),
    Figure("idle_rss_planner_mb", "idle RSS: planner", "MiB", _D),
    Figure("idle_rss_worker_mb", "idle RSS: worker", "MiB", _D),
    Figure("w1_tasks_per_s", "W1: chain(3) jobs at c=50, throughput", "tasks/s", floors=_COMMIT, kind="rate"),
    Figure("w1_cpu_ms_per_task", "W1: CPU of Planwright processes per task", "ms"),
    Figure("w1_infra_cpu_ms_per_task", "W1: CPU of Postgres backends + Redis per task", "ms", _D),
    Figure("lat_sse_p50_ms", "W1-latency p50: submit -> succeeded, via SSE", "ms", floors=_HOP),
    Figure("lat_sse_p95_ms", "W1-latency p95: via SSE", "ms", floors=_HOP),
    Figure("lat_sse2_p50_ms", "W1-latency p50: POST, then GET .../events", "ms", floors=_HOP),
    Figure("lat_poll_p50_ms", "W1-latency p50: via GET /jobs/{id} tight loop", "ms", floors=_HOP),
    Figure("lat_poll_p95_ms", "W1-latency p95: via GET /jobs/{id} tight loop", "ms", floors=_HOP),
    Figure("hop_ms", "hop: chained instant tasks, per dependent hop", "ms", floors=_HOP),
    Figure("w2_ms", "W2: fan-out + join, submit -> join done (SSE)", "ms", floors=_HOP),
    Figure("w5_ms", "W5: 120 KB page: fetch -> 2 artifact writes (SSE)", "ms", floors=_HOP),
    Figure("post_serial_mean_ms", "POST /jobs back to back: mean", "ms", floors=_COMMIT),
    Figure("post_serial_p50_ms", "POST /jobs back to back: p50", "ms", floors=_COMMIT),
    Figure("post_concurrent_per_s", "POST /jobs at c=50: throughput", "req/s", floors=_COMMIT, kind="rate"),
    Figure("get_job_cpu_ms", "GET /jobs/{id} (finished job): server CPU", "ms/req"),
    Figure("healthz_cpu_ms", "GET /healthz: server CPU", "ms/req"),
    Figure("w4_connect_replay_s", "W4 SSE: connect + replay, all clients", "s"),
    Figure("w4_lag_p50_ms", "W4 SSE: live delivery lag p50 (vs created_at)", "ms"),
    Figure("w4_lag_p99_ms", "W4 SSE: live delivery lag p99 (vs created_at)", "ms"),
    Figure("w4_spread_p99_ms", "W4 SSE: spread p99 (vs first client to get it)", "ms"),
    Figure("w4_gc_full_count", "W4: full GC collections in the API process", "-", zero_ok=True),
    Figure("w4_gc_full_ms", "W4: time those stopped the API process", "ms", zero_ok=True),
    Figure("scale_2api_tasks_per_s", "scale-out W1, 2 APIs: throughput", "tasks/s", _D),
    Figure("scale_2api_cpu_s_api", "scale-out W1, 2 APIs: CPU of API 1", "s", _D),
    Figure("scale_2api_cpu_s_api2", "scale-out W1, 2 APIs: CPU of API 2", "s", _D),
    Figure("scale_2api_cpu_s_planner", "scale-out W1, 2 APIs: CPU of planner", "s", _D),
    Figure("scale_2api_cpu_s_worker", "scale-out W1, 2 APIs: CPU of worker", "s", _D),
    Figure("scale_1worker_tasks_per_s", "scale-out W1, 1 worker (same jobs): throughput", "tasks/s", _D),
    Figure("scale_1worker_cpu_ms_per_task", "scale-out W1, 1 worker: CPU per task (all)", "ms", _D),
    Figure("scale_2workers_tasks_per_s", "scale-out W1, 2 workers: throughput", "tasks/s", _D),
    Figure("scale_2workers_cpu_ms_per_task", "scale-out W1, 2 workers: CPU per task (all)", "ms", _D),
]

FLOORS = [
    Figure("floor_python_ms", "floor: Python, fixed work (1,000 dicts via JSON)", "ms"),
    Figure("floor_sqlite_commit_ms", "floor: SQLite INSERT + COMMIT (WAL, NORMAL)", "ms", (EMBEDDED,)),
    Figure("floor_redis_ping_ms", "floor: Redis PING round trip", "ms", _D),
    Figure("floor_stream_2hop_ms", "floor: Redis stream two-hop round trip", "ms", _D),
    Figure("floor_pg_commit_ms", "floor: Postgres INSERT + COMMIT", "ms", _D),
]


def expected_keys(mode: str) -> list[str]:
    """The figure keys a run of ``mode`` reports."""
    return [f.key for f in FIGURES if mode in f.modes]


def may_be_zero(key: str) -> bool:
    """Whether 0 is a valid value of the figure ``key`` (a count of something a run may not meet)."""
    return any(f.key == key and f.zero_ok for f in FIGURES)


def expected_floors(mode: str) -> list[str]:
    """The floor keys a run of ``mode`` needs."""
    return [f.key for f in FLOORS if mode in f.modes]


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    size = abs(value)
    if size >= 100:
        return f"{value:.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _ratio(figure: Figure, value: float | None, floor_ms: float | None) -> str:
    if value is None or not floor_ms or value <= 0:
        return "-"
    as_ms = 1000.0 / value if figure.kind == "rate" else value * (1000.0 if figure.unit == "s" else 1.0)
    return f"{_num(as_ms / floor_ms)}x"


def _met(key: str, value: float | None, mode: str) -> str:
    target = TARGETS.get(key)
    if value is None or target is None or target[0] == "info" or TARGET_MODES.get(key, mode) != mode:
        return "-"
    op, bound = target
    assert isinstance(bound, int | float)
    return "yes" if (value >= bound if op == ">=" else value <= bound) else "NO"


def _target(key: str) -> str:
    target = TARGETS.get(key)
    if target is None:
        return ""
    op, bound = target
    return str(bound) if op == "info" else f"{op} {bound}"


def table(results: dict[str, dict[str, float]], floors: dict[str, float | None]) -> str:
    """results: mode -> figure key -> value. One row per figure; floors as rows of their own."""
    header = ["workload", EMBEDDED, DISTRIBUTED, "unit", "floor ratio E/D", "target", "met E/D"]
    rows = [header]
    for figure in FIGURES:
        if not set(figure.modes) & set(results):
            continue  # a figure of a mode that did not run
        values = [results.get(mode, {}).get(figure.key) for mode in BOTH]
        ratios = [
            _ratio(figure, value, floors.get(floor) if floor else None)
            for value, floor in zip(values, figure.floors, strict=True)
        ]
        mets = [_met(figure.key, value, mode) for value, mode in zip(values, BOTH, strict=True)]
        ratio = " / ".join(ratios) if any(r != "-" for r in ratios) else "-"
        met = " / ".join(mets) if any(m != "-" for m in mets) else "-"
        rows.append([figure.label, *map(_num, values), figure.unit, ratio, _target(figure.key), met])
    for figure in FLOORS:
        value = floors.get(figure.key)
        if value is None:
            continue
        cells = [_num(value) if mode in figure.modes else "" for mode in BOTH]
        rows.append([figure.label, *cells, figure.unit, "", "", ""])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            cell.ljust(w) if i in (0, 3) else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append(" | ".join(cells).rstrip())
        if n == 0:
            lines.append("-+-".join("-" * w for w in widths))
    return "\n".join(lines)
