"""Score saliency maps the way the paper does: AUC, sAUC, NSS, SIM, CC, overall and per category.

Maps are compared at one evaluation resolution (`EVAL_SIZE` square, the ground truth reduced
with R), so models of every input resolution, teachers and baselines are scored on the same
grid. Predictions are resized to it bilinearly. Where the data has fixation maps they are
used for AUC and sAUC; where it only has continuous maps (AVS1K), fixations are sampled
from the ground-truth map with a fixed seed. NSS is the map-weighted form of the paper
(`metrics.nss_weighted`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from skd_ros import metrics
from skd_ros.markdown import table

EVAL_SIZE = 128
METRICS = ("AUC", "sAUC", "NSS", "SIM", "CC")
FIXATIONS_PER_FRAME = 20
SHUFFLE_FRAMES = 10


@dataclass
class EvalSet:
    """Ground truth of one split at the evaluation resolution."""

    targets: np.ndarray  # (N, S, S) float, continuous maps
    fixations: np.ndarray  # (N, S, S) bool
    video: np.ndarray  # (N,) video index
    categories: list[str | None]  # per video

    @classmethod
    def from_maps(
        cls,
        targets: np.ndarray,
        video: np.ndarray,
        categories: list[str | None],
        fixations: np.ndarray | None = None,
        seed: int = 0,
    ) -> EvalSet:
        """Build from continuous maps; fixations are sampled from them when not given."""
        targets = targets.astype(np.float32)
        if fixations is None:
            rng = np.random.default_rng(seed)
            fixations = np.stack(
                [metrics.fixations_from_map(t, FIXATIONS_PER_FRAME, rng) for t in targets]
            )
        return cls(targets, fixations.astype(bool), np.asarray(video), list(categories))


def score_frames(predictions: np.ndarray, truth: EvalSet, seed: int = 0) -> dict[str, np.ndarray]:
    """Per-frame metric values of `predictions` (N, h, w) against `truth`."""
    if len(predictions) != len(truth.targets):
        raise ValueError(
            f"{len(predictions)} predictions for {len(truth.targets)} ground-truth frames"
        )
    size = truth.targets.shape[1:]
    rng = np.random.default_rng(seed)
    scores = {name: np.zeros(len(predictions)) for name in METRICS}
    for i, prediction in enumerate(predictions):
        pred = _resize(prediction, size)
        fix, target = truth.fixations[i], truth.targets[i]
        scores["AUC"][i] = metrics.auc_judd(pred, fix)
        scores["sAUC"][i] = metrics.auc_shuffled(pred, fix, _other_fixations(truth, i, rng))
        scores["NSS"][i] = metrics.nss_weighted(pred, target)
        scores["SIM"][i] = metrics.sim(pred, target)
        scores["CC"][i] = metrics.cc(pred, target)
    return scores


def summarise(scores: dict[str, np.ndarray], truth: EvalSet) -> dict[str, dict[str, float]]:
    """Mean of each metric overall and per category: {'all': {...}, 'Vehicle': {...}}."""
    frame_category = np.array([truth.categories[v] or "unknown" for v in truth.video])
    groups = {"all": np.ones(len(frame_category), bool)}
    for category in sorted(set(frame_category)):
        groups[category] = frame_category == category
    return {
        group: {"frames": int(mask.sum()), **{m: float(scores[m][mask].mean()) for m in METRICS}}
        for group, mask in groups.items()
        if mask.any()
    }


def _resize(prediction: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    prediction = np.asarray(prediction, np.float32).squeeze()
    if prediction.shape == tuple(size):
        return prediction
    return cv2.resize(prediction, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)


def _other_fixations(truth: EvalSet, index: int, rng: np.random.Generator) -> np.ndarray:
    """Union of fixations of random frames from other videos (sAUC's negatives)."""
    others = np.flatnonzero(truth.video != truth.video[index])
    if len(others) == 0:  # a single-video split: fall back to other frames of the video
        others = np.delete(np.arange(len(truth.video)), index)
    if len(others) == 0:
        return truth.fixations[index]
    chosen = rng.choice(others, size=min(SHUFFLE_FRAMES, len(others)), replace=False)
    return truth.fixations[chosen].any(axis=0)


def markdown_table(rows: dict[str, dict[str, dict[str, float]]], group: str = "all") -> str:
    """Markdown table: one row per model, one column per metric, for one category group."""
    lines = [
        [name, *(f"{summary[group][m]:.3f}" for m in METRICS)]
        for name, summary in rows.items()
        if group in summary
    ]
    return table(["model", *METRICS], lines)


def category_tables(rows: dict[str, dict[str, dict[str, float]]]) -> str:
    """Markdown: the all-frames table, then one `markdown_table` per category group, so a
    report shows where (which kind of footage) one model beats another."""
    groups = sorted({g for summary in rows.values() for g in summary} - {"all"})
    parts = ["### All frames", markdown_table(rows, "all")]
    for group in groups:
        parts += [f"### {group}", markdown_table(rows, group)]
    return "\n\n".join(parts)
