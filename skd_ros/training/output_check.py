"""Whether a trained Sst still says something: its maps on training frames, as the node sees them.

A network can end training with a flat map (a fine-tune at too high a learning rate, a
target that is faint everywhere): every loss is finite, the export works, and the node then
finds no region in any frame. After stage 2 the run predicts a sample of its own frames and
counts those whose map stays below the node's `peaks.threshold`; over `SILENT_SHARE` it warns.
"""

from __future__ import annotations

import numpy as np

from skd_ros.training.box_eval import node_peak_settings
from skd_ros.training.predict import predict

SAMPLE = 256  # frames predicted (evenly spread over the cache)
SILENT_SHARE = 0.5  # more silent frames than this: the run warns
NODE_THRESHOLD = float(node_peak_settings()["threshold"])  # config/saliency.yaml's


def silent_share(model, frames: np.ndarray, previous: np.ndarray) -> float:
    """Share of (up to SAMPLE) cached frames on which `model`'s map never reaches the node's
    threshold, so the node would publish no region there."""
    rows = np.unique(np.linspace(0, len(frames) - 1, min(SAMPLE, len(frames))).astype(int))
    pairs = np.concatenate([frames[rows], frames[previous[rows]]])
    before = np.arange(len(rows)) + len(rows)  # each sampled frame's predecessor, after them
    maps = predict(model, pairs, np.concatenate([before, before]))[: len(rows)]
    return float(np.mean(maps.reshape(len(rows), -1).max(axis=1) < NODE_THRESHOLD))


def silence_warning(share: float, fine_tuned: bool) -> str | None:
    """The warning for a model silent on `share` of its frames, or None when it speaks."""
    if share <= SILENT_SHARE:
        return None
    fix = (
        "the fine-tune may have collapsed: lower optim.lr or train from scratch (no model.init)"
        if fine_tuned
        else "the target may be faint (teachers.target, the teachers) or training too short"
    )
    return (
        f"Sst's map stays below the node's peaks.threshold ({NODE_THRESHOLD}) on "
        f"{100 * share:.0f} % of the sampled training frames, so the node would find no "
        f"region there; {fix}"
    )
