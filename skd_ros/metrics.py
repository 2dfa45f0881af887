"""Saliency evaluation metrics, as defined by the MIT saliency benchmark.

Definitions follow Bylinskii et al., "What do different evaluation metrics tell us about
saliency models?" (TPAMI 2019, arXiv:1604.03605) and the benchmark's MATLAB code
(github.com/cvzoya/saliency, code_forMetrics). Plain numpy; all computation is float64.

* Location-based (binary fixation map, nonzero = fixated): ``auc_judd``, ``auc_shuffled``,
  ``auc_shuffled_mit``, ``nss``.
* Distribution-based (continuous ground-truth map): ``nss_weighted``, ``cc``, ``sim``, ``kld``.

The map metrics (``nss``, ``nss_weighted``, ``cc``, ``sim``, ``kld``) take one (H, W) map and
return a float, or a batch (N, H, W) and return an array of N values. The AUCs take single
(H, W) maps only. Predictions are never resized here: give them the ground-truth size.

Known deviations from the MATLAB code, all at degenerate inputs or below 1e-3:

* ``nss`` standardises with the population std (ddof=0); MATLAB's ``std`` uses ddof=1, which
  scales NSS by sqrt((P-1)/P) for P pixels (a relative 1e-6 at 480x640).
* A constant (flat) prediction carries no information: NSS and CC return 0.0 and AUC_Judd
  0.5 (MATLAB gives NaN from 0/0); SIM and KLD treat it, the all-zero map included, as a
  uniform map (MATLAB's SIM gives NaN, or 0 for an all-zero map).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import rankdata

EPS = np.finfo(np.float64).eps
"""MATLAB's ``eps`` (2.2204e-16), the regulariser of KLD."""

RngLike = np.random.Generator | int | None


# ----------------------------------------------------------------------------- input checks


def _array(x: ArrayLike, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return a


def _pair(
    saliency: ArrayLike, other: ArrayLike, name: str, batch: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    s, g = _array(saliency, "saliency"), _array(other, name)
    if s.shape != g.shape:
        raise ValueError(
            f"saliency shape {s.shape} does not match {name} shape {g.shape}; "
            "resize the prediction to the ground-truth size first"
        )
    if batch and s.ndim not in (2, 3):
        raise ValueError(f"expected a (H, W) map or an (N, H, W) batch, got shape {s.shape}")
    if not batch and s.ndim != 2:
        raise ValueError(
            f"AUC metrics take a single (H, W) map, got shape {s.shape}; loop over the batch"
        )
    return s, g


def _rows(a: np.ndarray) -> np.ndarray:
    """(H, W) -> (1, H*W); (N, H, W) -> (N, H*W)."""
    return a.reshape(1 if a.ndim == 2 else a.shape[0], -1)


def _where(index: int, batched: bool) -> str:
    return f" (batch index {index})" if batched else ""


def _fixation_rows(f: np.ndarray, name: str) -> np.ndarray:
    mask = _rows(f) != 0
    empty = np.flatnonzero(~mask.any(axis=1))
    if empty.size:
        where = _where(int(empty[0]), f.ndim == 3)
        raise ValueError(f"{name} has no fixated (nonzero) pixels{where}")
    return mask


def _gt_rows(g: np.ndarray, name: str, nonnegative: bool = False) -> np.ndarray:
    rows = _rows(g)
    if nonnegative and np.any(rows < 0):
        raise ValueError(f"{name} has negative values; it must be a non-negative density")
    empty = np.flatnonzero(~np.any(rows != 0, axis=1))
    if empty.size:
        where = _where(int(empty[0]), g.ndim == 3)
        raise ValueError(f"{name} is all zero{where}; it carries no ground truth")
    return rows


def _result(values: np.ndarray, batched: bool) -> float | np.ndarray:
    return values if batched else float(values[0])


# ----------------------------------------------------------------------------- normalisations


def _is_flat(rows: np.ndarray) -> np.ndarray:
    """Rows whose values are all equal (exactly, so no float noise of mean/std leaks in)."""
    return (rows.max(axis=1) == rows.min(axis=1))[:, None]


def _standardise(rows: np.ndarray) -> np.ndarray:
    """Per row (x - mean) / std with ddof=0; flat rows become all-zero."""
    flat = _is_flat(rows)
    std = np.where(flat, 1.0, rows.std(axis=1, keepdims=True))
    return np.where(flat, 0.0, (rows - rows.mean(axis=1, keepdims=True)) / std)


def _minmax_distribution(rows: np.ndarray) -> np.ndarray:
    """Per row min-max to [0, 1] then divide by the sum; flat rows become uniform."""
    lo = rows.min(axis=1, keepdims=True)
    span = rows.max(axis=1, keepdims=True) - lo
    scaled = np.where(span > 0, (rows - lo) / np.where(span > 0, span, 1.0), 1.0)
    return scaled / scaled.sum(axis=1, keepdims=True)


def _sum_distribution(rows: np.ndarray) -> np.ndarray:
    """Per row divide by the sum; all-zero rows become uniform."""
    total = rows.sum(axis=1, keepdims=True)
    return np.where(total > 0, rows / np.where(total > 0, total, 1.0), 1.0 / rows.shape[1])


def _minmax01(s: np.ndarray) -> np.ndarray:
    """Min-max to [0, 1]; a flat map becomes all-zero."""
    span = s.max() - s.min()
    return (s - s.min()) / span if span > 0 else np.zeros_like(s)


def _trapezoid(x: np.ndarray, y: np.ndarray) -> float:
    """MATLAB trapz(x, y): signed, so a backwards step in x subtracts area."""
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2.0))


# ----------------------------------------------------------------------------- AUCs


def _auc_inputs(
    saliency: ArrayLike, fixations: ArrayLike, name: str = "fixations"
) -> tuple[np.ndarray, np.ndarray]:
    s, f = _pair(saliency, fixations, name, batch=False)
    return s.ravel(), _fixation_rows(f, name)[0]


def auc_judd(
    saliency: ArrayLike, fixations: ArrayLike, jitter: bool = False, rng: RngLike = None
) -> float:
    """MIT AUC_Judd: ROC area, fixated pixels vs all non-fixated pixels. In [0, 1], higher better.

    Thresholds are the (min-max normalised) saliency values at the fixations, descending;
    at the i-th (1-based) tp = i/Nfix and fp = (#pixels >= threshold - i) / (Npixels - Nfix);
    (0, 0) and (1, 1) close the curve, integrated by the trapezoid rule. This interpolates
    linearly between fixation thresholds, so it is not the Mann-Whitney AUC, and ties among
    fixated values can step the curve backwards, exactly as in the MATLAB code.
    ``jitter`` adds 1e-7 * uniform(0, 1) to the [0, 1]-normalised map before normalising
    again (MATLAB adds it to the raw map; identical for maps with range 1) to break ties;
    pass a seeded ``rng`` to make it reproducible. A flat map without jitter scores 0.5.
    Single (H, W) maps only.
    """
    s, fix = _auc_inputs(saliency, fixations)
    n_fix, n_pix = int(fix.sum()), s.size
    if n_fix == n_pix:
        raise ValueError("every pixel is fixated; AUC_Judd needs non-fixated pixels")
    s = _minmax01(s)
    if jitter:
        s = _minmax01(s + np.random.default_rng(rng).random(s.shape) / 1e7)
    if s.max() == s.min():
        return 0.5
    thresholds = np.sort(s[fix])[::-1]
    above = n_pix - np.searchsorted(np.sort(s), thresholds, side="left")
    i = np.arange(1, n_fix + 1)
    tp = np.concatenate(([0.0], i / n_fix, [1.0]))
    fp = np.concatenate(([0.0], (above - i) / (n_pix - n_fix), [1.0]))
    return _trapezoid(fp, tp)


def _mann_whitney_auc(positives: np.ndarray, negatives: np.ndarray) -> float:
    """P(pos > neg) + P(pos == neg) / 2 over all pairs, from mid-ranks."""
    ranks = rankdata(np.concatenate((positives, negatives)))
    n_pos, n_neg = positives.size, negatives.size
    u = ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def auc_shuffled(saliency: ArrayLike, fixations: ArrayLike, other_fixations: ArrayLike) -> float:
    """Exact shuffled AUC: this frame's fixations vs other frames'. In [0, 1], higher better.

    Positives are the saliency values at ``fixations``, negatives the values at every pixel of
    ``other_fixations`` (e.g. the union of other frames' fixations; pixels in both maps count
    as negatives too). The score is the exact ROC area, i.e. the Mann-Whitney U / (Npos*Nneg)
    with ties counted one half; deterministic and invariant to any increasing transform of the
    map. ``auc_shuffled_mit`` is the benchmark's sampled, thresholded estimate of the same
    quantity. Centre bias earns nothing, so 0.5 is chance. Single (H, W) maps only.
    """
    s, fix = _auc_inputs(saliency, fixations)
    _, other = _auc_inputs(saliency, other_fixations, "other_fixations")
    return _mann_whitney_auc(s[fix], s[other])


def _matlab_colon(stop: float, step: float) -> np.ndarray:
    """MATLAB's 0:step:stop (count with a tolerance, second half counted back from the end)."""
    n = int(np.floor(stop / step * (1.0 + 1e-10)))
    end = stop if abs(n * step - stop) <= 1e-10 * max(stop, step) else n * step
    k = np.arange(n + 1)
    return np.where(k < n / 2.0, k * step, end - (n - k) * step)


def _at_or_above(sorted_values: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    return sorted_values.size - np.searchsorted(sorted_values, thresholds, side="left")


def _thresholded_auc(pos_sorted: np.ndarray, neg_sorted: np.ndarray, step: float) -> float:
    thresholds = _matlab_colon(max(pos_sorted[-1], neg_sorted[-1]), step)[::-1]
    tp = _at_or_above(pos_sorted, thresholds) / pos_sorted.size
    fp = _at_or_above(neg_sorted, thresholds) / neg_sorted.size
    return _trapezoid(np.concatenate(([0.0], fp, [1.0])), np.concatenate(([0.0], tp, [1.0])))


def auc_shuffled_mit(
    saliency: ArrayLike,
    fixations: ArrayLike,
    other_fixations: ArrayLike,
    n_splits: int = 100,
    step: float = 0.1,
    rng: RngLike = None,
) -> float:
    """MIT AUC_shuffled.m: sampled, thresholded shuffled AUC. In [0, 1], higher better.

    The map is min-max normalised; each of ``n_splits`` splits draws min(Nfix, Nother) distinct
    ``other_fixations`` pixels at random as negatives, sweeps thresholds 0:step:max (descending)
    and integrates the ROC by the trapezoid rule; the splits are averaged. Versus the exact
    ``auc_shuffled``: it is random (seed ``rng`` for reproducibility), values within one
    ``step`` bin count as ties, and it sees only Nfix negatives per split, so it differs by a
    few 0.01 on coarse maps and matches closely on smooth ones. Use it only to compare with
    numbers published on the benchmark. Single (H, W) maps only.
    """
    if n_splits < 1 or not step > 0:
        raise ValueError(f"need n_splits >= 1 and step > 0, got {n_splits} and {step}")
    s, fix = _auc_inputs(saliency, fixations)
    _, other = _auc_inputs(saliency, other_fixations, "other_fixations")
    s = _minmax01(s)
    pos_sorted, other_idx = np.sort(s[fix]), np.flatnonzero(other)
    n_neg = min(pos_sorted.size, other_idx.size)
    gen = np.random.default_rng(rng)
    aucs = [
        _thresholded_auc(pos_sorted, np.sort(s[gen.permutation(other_idx)[:n_neg]]), step)
        for _ in range(n_splits)
    ]
    return float(np.mean(aucs))


# ----------------------------------------------------------------------------- map metrics


def nss(saliency: ArrayLike, fixations: ArrayLike) -> float | np.ndarray:
    """Normalised scanpath saliency: mean standardised prediction at fixated pixels.

    Unbounded; 0 is chance, higher is better. The map is standardised with ddof=0; a flat map
    returns 0.0 (no information). Invariant to positive scaling and shifting. Accepts (H, W)
    or (N, H, W) (then returns N values).
    """
    s, f = _pair(saliency, fixations, "fixations")
    mask = _fixation_rows(f, "fixations")
    z = _standardise(_rows(s))
    return _result((z * mask).sum(axis=1) / mask.sum(axis=1), s.ndim == 3)


def nss_weighted(saliency: ArrayLike, gt_map: ArrayLike) -> float | np.ndarray:
    """NSS against a continuous ground truth: sum(z * g) / sum(g), z the standardised prediction.

    Equals ``nss`` for a binary ``gt_map``. Unbounded; 0 is chance, higher is better. ``gt_map``
    must be non-negative and not all zero. Accepts (H, W) or (N, H, W).
    """
    s, g = _pair(saliency, gt_map, "gt_map")
    weights = _gt_rows(g, "gt_map", nonnegative=True)
    z = _standardise(_rows(s))
    return _result((z * weights).sum(axis=1) / weights.sum(axis=1), s.ndim == 3)


def cc(saliency: ArrayLike, gt_map: ArrayLike) -> float | np.ndarray:
    """Pearson linear correlation coefficient between prediction and ground-truth map.

    In [-1, 1]; 1 is best, 0 is chance. Symmetric, invariant to positive scaling and shifting;
    0.0 when either map is flat. Accepts (H, W) or (N, H, W).
    """
    s, g = _pair(saliency, gt_map, "gt_map")
    a, b = _rows(s), _gt_rows(g, "gt_map")
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    flat = (_is_flat(_rows(s)) | _is_flat(_rows(g)))[:, 0]
    denom = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    values = np.where(flat, 0.0, (a * b).sum(axis=1) / np.where(flat, 1.0, denom))
    return _result(values, s.ndim == 3)


def sim(saliency: ArrayLike, gt_map: ArrayLike) -> float | np.ndarray:
    """Similarity (histogram intersection): sum of min(P, G) over pixels.

    P and G are the maps min-max normalised to [0, 1] then divided by their sums (a flat map
    becomes uniform). In [0, 1]; 1 is identical distributions, higher is better. Invariant to
    positive scaling and shifting of either map. Accepts (H, W) or (N, H, W).
    """
    s, g = _pair(saliency, gt_map, "gt_map")
    p = _minmax_distribution(_rows(s))
    q = _minmax_distribution(_gt_rows(g, "gt_map"))
    return _result(np.minimum(p, q).sum(axis=1), s.ndim == 3)


def kld(saliency: ArrayLike, gt_map: ArrayLike) -> float | np.ndarray:
    """MIT KLdiv: KL divergence of the ground truth G from the prediction P. LOWER is better.

    Both maps are divided by their sums (no min-max; an all-zero prediction becomes uniform),
    then KLD = sum(G * log(eps + G / (P + eps))) with eps = 2.2204e-16. >= 0 up to eps, 0 for
    a perfect map; asymmetric. Both maps must be non-negative. Accepts (H, W) or (N, H, W).
    """
    s, g = _pair(saliency, gt_map, "gt_map")
    if np.any(s < 0):
        raise ValueError("saliency has negative values; KLD needs a non-negative map")
    p = _sum_distribution(_rows(s))
    q = _sum_distribution(_gt_rows(g, "gt_map", nonnegative=True))
    return _result((q * np.log(EPS + q / (p + EPS))).sum(axis=1), s.ndim == 3)


# ----------------------------------------------------------------------------- fixation sampling


def fixations_from_map(
    gt_map: ArrayLike, n: int, rng: RngLike = None, replace: bool = False
) -> np.ndarray:
    """Sample ``n`` fixations from a continuous map used as a probability distribution.

    Returns a boolean map of ``gt_map``'s shape. Pixels are drawn with probability proportional
    to ``gt_map`` (non-negative, not all zero); without replacement (default) the result has
    exactly ``n`` fixated pixels, with replacement repeats merge so it may have fewer. The same
    seed (or a Generator in the same state) gives the same map.
    """
    g = _array(gt_map, "gt_map")
    weights = _gt_rows(g.reshape(1, -1), "gt_map", nonnegative=True)[0]
    support = int(np.count_nonzero(weights))
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if not replace and n > support:
        raise ValueError(
            f"cannot draw n={n} distinct fixations from a map with {support} nonzero pixels; "
            "lower n or pass replace=True"
        )
    idx = np.random.default_rng(rng).choice(
        weights.size, size=n, replace=replace, p=weights / weights.sum()
    )
    fixated = np.zeros(g.size, dtype=bool)
    fixated[idx] = True
    return fixated.reshape(g.shape)
