"""Which previous frame the current one is paired with, and when that chain must restart.

Sst predicts the newest frame's map from (previous, current). The previous frame is kept
reduced to the model's resolution (a few kB, not a full camera frame). The chain restarts
(the current frame is paired with itself, as in training's first frame) when:

* it is the first frame after start or after `reset()`,
* the stamp went backwards (a bag played in a loop, a simulator restarted),
* the gap to the previous frame is longer than `max_gap_s` (the scene moved on),
* the frame's format (width, height, encoding) changed (another camera mode).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np

# Reset causes, as counted in the node's diagnostics.
FIRST_FRAME = "first frame"
TIME_BACKWARDS = "stamp went backwards"
GAP = "gap too long"
FORMAT_CHANGED = "size or encoding changed"


@dataclass(frozen=True)
class Pair:
    """The model's two inputs for one frame and, when the chain restarted, why."""

    previous: np.ndarray
    current: np.ndarray
    reset: str | None  # one of the causes above, or None when `previous` is a real predecessor
    detail: str = ""  # human-readable specifics of the reset (stamps, gap, formats)


class FramePairer:
    """Keeps the previous (reduced) frame, its stamp and its format; pairs each new frame."""

    def __init__(self, max_gap_s: float = 1.0) -> None:
        self.max_gap_s = max_gap_s
        self.reset()

    @property
    def max_gap_s(self) -> float:
        """A longer gap between consecutive stamps restarts the pair, in seconds."""
        return self._max_gap_ns / 1e9

    @max_gap_s.setter
    def max_gap_s(self, value: float) -> None:
        if not value > 0:
            raise ValueError(f"max_gap_s={value}: must be positive")
        self._max_gap_ns = int(value * 1e9)

    def reset(self) -> None:
        """Forget the previous frame: the next one pairs with itself."""
        self._previous: np.ndarray | None = None
        self._stamp_ns = 0
        self._format: Hashable = None

    def pair(self, current: np.ndarray, stamp_ns: int, frame_format: Hashable) -> Pair:
        """Pair `current` (already reduced) with its predecessor and remember it."""
        reset, detail = self._reset_cause(stamp_ns, frame_format)
        previous = current if reset or self._previous is None else self._previous
        self._previous, self._stamp_ns, self._format = current, stamp_ns, frame_format
        return Pair(previous, current, reset, detail)

    def _reset_cause(self, stamp_ns: int, frame_format: Hashable) -> tuple[str | None, str]:
        if self._previous is None:
            return FIRST_FRAME, ""
        if frame_format != self._format:
            return FORMAT_CHANGED, f"{self._format} -> {frame_format}"
        if stamp_ns < self._stamp_ns:
            return TIME_BACKWARDS, f"{self._stamp_ns} ns -> {stamp_ns} ns"
        if stamp_ns - self._stamp_ns > self._max_gap_ns:
            gap = (stamp_ns - self._stamp_ns) / 1e9
            return GAP, f"{gap:.3f} s > max_gap_s {self.max_gap_s:g} s"
        return None, ""
