"""The node's health counters: rates, latency percentiles, drops, rejections, resets.

Plain Python (no rclpy), shared by the subscription callback and the worker thread, hence
the lock. Rates and percentiles are over a sliding window of recent frames.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Snapshot:
    """One look at the counters, as reported on /diagnostics."""

    input_hz: float
    output_hz: float
    latency_ms: dict[str, float]  # p50/p90/p99/max of receive -> published, recent frames
    cpu_ms: dict[str, float]  # p50/p99 of the worker's CPU time per frame
    received: int
    published: int
    dropped: int  # received but replaced by a newer frame before it could be processed
    lost: int  # reported lost by the middleware before reaching this node
    rejected: dict[str, int] = field(default_factory=dict)  # malformed messages by cause
    resets: dict[str, int] = field(default_factory=dict)  # frame-chain restarts by cause
    seconds_since_input: float | None = None


class NodeStats:
    """Thread-safe counters; `window` frames are kept for rates and percentiles."""

    def __init__(self, window: int = 300) -> None:
        self._lock = threading.Lock()
        self._arrivals: deque[int] = deque(maxlen=window)
        self._outputs: deque[int] = deque(maxlen=window)
        self._latency: deque[float] = deque(maxlen=window)
        self._cpu: deque[float] = deque(maxlen=window)
        self.received = self.published = self.dropped = self.lost = 0
        self.rejected: Counter[str] = Counter()
        self.resets: Counter[str] = Counter()
        self._busy: dict[str, tuple[int, str]] = {}  # role -> (since, on what)

    def frame_received(self, now_ns: int, replaced_older: bool) -> None:
        with self._lock:
            self.received += 1
            self.dropped += int(replaced_older)
            self._arrivals.append(now_ns)

    def frame_published(self, received_ns: int, now_ns: int, cpu_ns: int) -> None:
        with self._lock:
            self.published += 1
            self._outputs.append(now_ns)
            self._latency.append((now_ns - received_ns) / 1e6)
            self._cpu.append(cpu_ns / 1e6)

    def frame_rejected(self, cause: str, count: int = 1) -> None:
        with self._lock:
            self.rejected[cause] += count

    def chain_reset(self, cause: str) -> None:
        with self._lock:
            self.resets[cause] += 1

    def messages_lost(self, count: int) -> None:
        with self._lock:
            self.lost += count

    @contextmanager
    def busy(self, role: str, what: str) -> Iterator[None]:
        """Mark `role` (a thread: 'receiving thread', 'worker') as working on `what` for the
        duration of the block, so a silence can be told from a stalled node."""
        with self._lock:
            self._busy[role] = (time.monotonic_ns(), what)
        try:
            yield
        finally:
            with self._lock:
                self._busy.pop(role, None)

    def longest_busy(self, now_ns: int | None = None) -> tuple[str, float, str] | None:
        """(role, seconds, what) of the thread busy the longest on one item, or None."""
        now_ns = time.monotonic_ns() if now_ns is None else now_ns
        with self._lock:
            if not self._busy:
                return None
            role, (since, what) = min(self._busy.items(), key=lambda item: item[1][0])
        return role, (now_ns - since) / 1e9, what

    def last_arrival_ns(self) -> int | None:
        with self._lock:
            return self._arrivals[-1] if self._arrivals else None

    def snapshot(self, now_ns: int | None = None) -> Snapshot:
        now_ns = time.monotonic_ns() if now_ns is None else now_ns
        with self._lock:
            last = self._arrivals[-1] if self._arrivals else None
            return Snapshot(
                input_hz=_rate(self._arrivals, now_ns),
                output_hz=_rate(self._outputs, now_ns),
                latency_ms=_percentiles(self._latency, (50, 90, 99, 100)),
                cpu_ms=_percentiles(self._cpu, (50, 99)),
                received=self.received,
                published=self.published,
                dropped=self.dropped,
                lost=self.lost,
                rejected=dict(self.rejected),
                resets=dict(self.resets),
                seconds_since_input=None if last is None else (now_ns - last) / 1e9,
            )


def _rate(times: deque[int], now_ns: int, horizon_s: float = 5.0) -> float:
    """Events per second over the last `horizon_s` (0 when fewer than two events)."""
    recent = [t for t in times if now_ns - t <= horizon_s * 1e9]
    if len(recent) < 2:
        return 0.0
    span = (recent[-1] - recent[0]) / 1e9
    return (len(recent) - 1) / span if span > 0 else 0.0


def _percentiles(values: deque[float], qs: tuple[int, ...]) -> dict[str, float]:
    if not values:
        return {}
    result = np.percentile(np.fromiter(values, float), qs)
    return {("max" if q == 100 else f"p{q}"): float(v) for q, v in zip(qs, result, strict=True)}


class Throttle:
    """Per-cause log throttling: the first occurrence passes, then one per `period_s`.

    `should_log(cause)` returns (True, n) when a message should go out now, n being how many
    occurrences were suppressed since the last one.
    """

    def __init__(self, period_s: float = 10.0) -> None:
        self.period_s = period_s
        self._last: dict[str, float] = {}
        self._suppressed: Counter[str] = Counter()

    def should_log(self, cause: str, now: float | None = None) -> tuple[bool, int]:
        now = time.monotonic() if now is None else now
        last = self._last.get(cause)
        if last is not None and now - last < self.period_s:
            self._suppressed[cause] += 1
            return False, 0
        self._last[cause] = now
        return True, self._suppressed.pop(cause, 0)
