"""How far the teachers can be trusted on unlabelled data, said before training on them.

On a user's own flight (`data.source: bag`) the teachers' fused map is the only target.
Where a teacher fires on parallax or wind-blown vegetation rather than on targets, its map
jumps from frame to frame, because such responses do not persist the way a real target
does, and the spatial and temporal teachers stop agreeing. Two numbers catch it, on the
reduced maps the students learn from: each teacher's **stability** (median correlation,
CC, of a frame's map with its predecessor's) and the **agreement** of the two teachers
(median CC of their maps on the same frame). Below `UNSTABLE` or `DISAGREE` the run warns.
"""

from __future__ import annotations

import numpy as np

UNSTABLE = 0.5  # stability below this: the teacher's map jumps between consecutive frames
DISAGREE = 0.1  # agreement below this: the two teachers point at different places
FLAT_SHARE = 0.5  # a teacher flat on more of the frames than this: the run says so
CHUNK = 4096


def map_correlations(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """CC of each pair of (N, h, w) maps, one value per row (NaN where a map is flat: a
    silent teacher is not a flickering one)."""
    a = first.reshape(len(first), -1).astype(np.float32)
    b = second.reshape(len(second), -1).astype(np.float32)
    a -= a.mean(axis=1, keepdims=True)
    b -= b.mean(axis=1, keepdims=True)
    norm = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    return np.where(norm > 0, (a * b).sum(axis=1) / np.maximum(norm, 1e-12), np.nan)


def check_teachers(
    teacher_maps: dict[str, np.ndarray], previous: np.ndarray, target: str = "fused"
) -> dict:
    """{stability: {teacher: median CC with the predecessor's map}, agreement: median CC
    of the first two teachers, flat: {teacher: share of flat maps}, warnings: [sentences]}
    over every cached frame; None where there is nothing to compare (a single teacher, or
    no frame with a predecessor). Flat maps are left out of the medians and counted."""
    moving = np.flatnonzero(previous != np.arange(len(previous)))  # not a first frame
    rows = np.arange(len(previous))
    stability, flat = {}, {}
    for name, maps in teacher_maps.items():
        stability[name] = _median(_values(maps, maps, moving, previous[moving]))
        flat[name] = _flat_share(maps)
    names = list(teacher_maps)
    agreement = None
    if len(names) >= 2:
        agreement = _median(_values(teacher_maps[names[0]], teacher_maps[names[1]], rows, rows))
    warnings = _warnings(stability, agreement, names, target) + _flat_warnings(flat)
    return {"stability": stability, "agreement": agreement, "flat": flat, "warnings": warnings}


def _values(first, second, rows, other_rows) -> np.ndarray:
    chunks = [
        map_correlations(
            np.asarray(first[rows[k : k + CHUNK]]), np.asarray(second[other_rows[k : k + CHUNK]])
        )
        for k in range(0, len(rows), CHUNK)
    ]
    return np.concatenate(chunks) if chunks else np.zeros(0)


def _flat_share(maps: np.ndarray) -> float:
    """Share of the maps that are the same value everywhere (they point at nothing)."""
    flat = [
        np.ptp(np.asarray(maps[k : k + CHUNK]).reshape(-1, maps[0].size), axis=1) == 0
        for k in range(0, len(maps), CHUNK)
    ]
    return round(float(np.mean(np.concatenate(flat)) if flat else 0.0), 3)


def _median(values: np.ndarray) -> float | None:
    values = values[~np.isnan(values)]
    return round(float(np.median(values)), 3) if len(values) else None


def _warnings(stability: dict, agreement: float | None, names: list[str], target: str) -> list[str]:
    said = [
        f"teacher {name}'s map changes a lot from frame to frame (median CC {value:.2f} with "
        f"the frame before, under {UNSTABLE}): it may be firing on parallax, vegetation or "
        "noise rather than on targets, and the model learns that too"
        for name, value in stability.items()
        if value is not None and value < UNSTABLE
    ]
    if agreement is not None and agreement < DISAGREE:
        said.append(
            f"teachers {names[0]} and {names[1]} disagree (median CC {agreement:.2f} between "
            f"their maps, under {DISAGREE}): "
            + ("their fused target is a compromise; " if target == "fused" else "")
            + "score the model on footage with boxes (`train footage`) before trusting it"
        )
    return said


def _flat_warnings(flat: dict[str, float]) -> list[str]:
    return [
        f"teacher {name}'s map is flat on {100 * share:.0f} % of the frames: it points at "
        "nothing there (a static scene for a motion teacher), so those frames teach silence"
        for name, share in flat.items()
        if share > FLAT_SHARE
    ]
