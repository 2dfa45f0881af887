"""The synthetic camera frame that the measurements send to the node (no footage needed)."""

from __future__ import annotations

import numpy as np


def synthetic_frame(width: int, height: int) -> np.ndarray:
    """A (height, width, 3) uint8 BGR frame: the first frame of a synthetic Vehicle clip.

    Always the same frame for the same size (a fixed seed), so measurements of the node on
    different days, or of one node against several, send the same content.
    """
    from skd_ros.data.synthetic import ClipSpec, generate_clip

    return next(iter(generate_clip(ClipSpec(11, "Vehicle", 1, width, height)))).image
