"""The distillation losses of paper eqs. 1-5.

Both the soft loss (student vs reduced teacher map) and the hard loss (student vs reduced
ground truth) are the squared L2 distance normalised by the map area w*h. They are the
same function; two names keep the training code readable against the paper.
"""

from __future__ import annotations

import torch


def normalized_l2(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """||S - T||^2 / (w*h) per map, averaged over the batch (eqs. 3 and 4).

    Takes (B, 1, h, w) or (B, h, w) tensors of the same shape.
    """
    if prediction.shape != target.shape:
        raise ValueError(
            f"prediction {tuple(prediction.shape)} and target {tuple(target.shape)} differ; "
            "reduce targets to the model resolution with skd_ros.preprocess.prepare_map"
        )
    if prediction.dim() < 3:
        raise ValueError(f"expected a batch of maps (B, [1,] h, w), got {tuple(prediction.shape)}")
    area = prediction.shape[-1] * prediction.shape[-2]
    per_map = (prediction - target).pow(2).flatten(1).sum(dim=1) / area
    return per_map.mean()


soft_loss = normalized_l2
hard_loss = normalized_l2


def distillation_loss(
    student: torch.Tensor, teacher: torch.Tensor, ground_truth: torch.Tensor, mu: float = 0.5
) -> torch.Tensor:
    """Stage-1 loss (eqs. 1 and 2): mu * soft(student, teacher) + (1 - mu) * hard(student, gt).

    mu = 0 trains on ground truth only, mu = 1 on the teacher only; the paper's best is 0.5.
    """
    if not 0.0 <= mu <= 1.0:
        raise ValueError(f"mu={mu} is outside [0, 1]; the paper sweeps 0.0-1.0 and uses 0.5")
    return mu * soft_loss(student, teacher) + (1.0 - mu) * hard_loss(student, ground_truth)


def transfer_loss(prediction: torch.Tensor, ground_truth: torch.Tensor) -> torch.Tensor:
    """Stage-2 loss (eq. 5): the hard loss of Sst against the reduced ground truth."""
    return hard_loss(prediction, ground_truth)
