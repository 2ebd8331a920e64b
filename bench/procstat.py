"""CPU time and memory of server processes, read from /proc (Linux)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_TICK_NS = 1e9 / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuSample:
    """One reading of a process's CPU time, two ways: clock ticks over the whole process (counts
    threads that have exited, 10 ms steps) and the scheduler's ns summed over its live threads."""

    ticks_ns: float
    sched_ns: float


def cpu_sample(pid: int) -> CpuSample:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = (int(fields[11]) + int(fields[12])) * _TICK_NS  # utime + stime
        sched = 0.0
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                sched += int((task / "schedstat").read_text().split()[0])
            except (OSError, IndexError, ValueError):  # the thread just ended
                continue
    except (OSError, IndexError, ValueError):
        return CpuSample(0.0, 0.0)
    return CpuSample(ticks, sched)


def cpu_seconds(before: CpuSample, after: CpuSample) -> float:
    """CPU seconds between two samples: the scheduler's figure unless threads ended in between."""
    sched = after.sched_ns - before.sched_ns
    ticks = after.ticks_ns - before.ticks_ns
    if sched < ticks - 2 * _TICK_NS:  # a thread's time left with it: trust the coarser total
        return max(ticks, 0.0) / 1e9
    return max(sched, 0.0) / 1e9


class CpuMeter:
    """CPU seconds of several processes over a stretch of time: ``start()``, then ``stop()``."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = dict(pids)
        self._start: dict[str, CpuSample] = {}

    def start(self) -> CpuMeter:
        self._start = {name: cpu_sample(pid) for name, pid in self.pids.items()}
        return self

    def stop(self) -> dict[str, float]:
        """CPU seconds per process since ``start()``."""
        return {
            name: cpu_seconds(self._start.get(name, CpuSample(0.0, 0.0)), cpu_sample(pid))
            for name, pid in self.pids.items()
        }


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory in MiB (``VmHWM`` for the peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0
