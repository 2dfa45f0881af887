"""Roads and tracks: a dense, gently curved centre line with arc length."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skd_ros.data.synthetic.geometry import heading_vector


@dataclass
class Road:
    """A road's dense centre line with arc length, for drawing and for driving on."""

    points: np.ndarray  # (N, 2)
    arc: np.ndarray  # (N,) cumulative length
    width: float

    @classmethod
    def through(cls, point, heading: float, bend: float, side: int, width: float) -> Road:
        """A gentle quadratic curve across the whole canvas, passing near `point`."""
        direction = heading_vector(heading)
        normal = np.array([-direction[1], direction[0]])
        start, end = point - direction * side * 1.5, point + direction * side * 1.5
        control = point + normal * bend
        t = np.linspace(0.0, 1.0, 600)[:, None]
        points = (1 - t) ** 2 * start + 2 * (1 - t) * t * control + t**2 * end
        arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
        return cls(points, arc, width)

    def at(self, s: float) -> tuple[np.ndarray, np.ndarray]:
        """Point and unit tangent at arc length `s`."""
        s = min(max(float(s), 0.0), float(self.arc[-1]))
        i = min(max(int(np.searchsorted(self.arc, s)) - 1, 0), len(self.arc) - 2)
        frac = (s - self.arc[i]) / max(self.arc[i + 1] - self.arc[i], 1e-9)
        tangent = self.points[i + 1] - self.points[i]
        point = self.points[i] + frac * tangent
        return point, tangent / max(float(np.linalg.norm(tangent)), 1e-9)

    def sample(self, s: np.ndarray) -> np.ndarray:
        """Centre-line points at many arc lengths at once, (len(s), 2)."""
        return np.stack([np.interp(s, self.arc, self.points[:, k]) for k in (0, 1)], axis=1)

    def nearest(self, point: np.ndarray) -> float:
        """Arc length of the centre-line point closest to `point`."""
        return float(self.arc[np.argmin(np.linalg.norm(self.points - point, axis=1))])

    def distance(self, point: np.ndarray) -> float:
        """Distance from `point` to the nearest centre-line point."""
        return float(np.min(np.linalg.norm(self.points - point, axis=1)))

    def offset(self, lateral: float) -> np.ndarray:
        """The centre line shifted sideways by `lateral` pixels (left of travel is positive)."""
        tangent = np.gradient(self.points, axis=0)
        tangent /= np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), 1e-9)
        return self.points + lateral * np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
