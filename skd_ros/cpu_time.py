"""The CPU time a process has used so far, as precise as Linux accounts it (no psutil)."""

from __future__ import annotations

import os
from pathlib import Path


def process_cpu_seconds(pid: int) -> float:
    """CPU time of every thread of `pid`, from the scheduler's nanosecond accounting.

    /proc/<pid>/stat's utime/stime are sampled at the clock tick (10 ms) and miss short
    bursts, such as a 0.5 ms frame callback; schedstat counts them exactly. Falls back to
    the tick counts where schedstat is missing.
    """
    total = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            total += int((task / "schedstat").read_text().split()[0])
        return total / 1e9
    except (OSError, ValueError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
