"""Distillation losses of paper eqs. 1-5, on hand-computed cases."""

import pytest
import torch

from skd_ros.losses import distillation_loss, hard_loss, normalized_l2, soft_loss, transfer_loss


def test_normalised_l2_is_squared_distance_over_area():
    prediction = torch.zeros(1, 1, 2, 2)
    target = torch.tensor([[[[1.0, 0.0], [0.0, 2.0]]]])
    # ||S - T||^2 = 1 + 4 = 5, area w*h = 4
    assert normalized_l2(prediction, target).item() == pytest.approx(5 / 4)


def test_loss_is_the_batch_mean_of_per_map_losses():
    prediction = torch.zeros(2, 2, 2)
    target = torch.stack((torch.ones(2, 2), torch.zeros(2, 2)))
    assert normalized_l2(prediction, target).item() == pytest.approx((1.0 + 0.0) / 2)


def test_identical_maps_have_zero_loss():
    maps = torch.rand(3, 1, 8, 8)
    assert normalized_l2(maps, maps.clone()).item() == 0.0


def test_mu_mixes_soft_and_hard_terms():
    student = torch.zeros(1, 1, 2, 2)
    teacher = torch.ones(1, 1, 2, 2)  # soft = 1
    truth = torch.full((1, 1, 2, 2), 2.0)  # hard = 4
    assert distillation_loss(student, teacher, truth, mu=0.0).item() == pytest.approx(4.0)
    assert distillation_loss(student, teacher, truth, mu=1.0).item() == pytest.approx(1.0)
    assert distillation_loss(student, teacher, truth).item() == pytest.approx(2.5)
    assert distillation_loss(student, teacher, truth, mu=0.25).item() == pytest.approx(3.25)


def test_stage_two_loss_is_the_hard_loss():
    prediction, truth = torch.rand(2, 1, 4, 4), torch.rand(2, 1, 4, 4)
    assert transfer_loss(prediction, truth).item() == hard_loss(prediction, truth).item()
    assert soft_loss(prediction, truth).item() == hard_loss(prediction, truth).item()


def test_gradient_is_two_residual_over_area_and_batch():
    prediction = torch.zeros(2, 1, 2, 2, requires_grad=True)
    target = torch.ones(2, 1, 2, 2)
    normalized_l2(prediction, target).backward()
    assert torch.allclose(prediction.grad, torch.full_like(prediction, -2.0 / 4 / 2))


@pytest.mark.parametrize("mu", [-0.1, 1.5])
def test_mu_outside_unit_interval_is_refused(mu):
    maps = torch.zeros(1, 1, 2, 2)
    with pytest.raises(ValueError, match="outside"):
        distillation_loss(maps, maps, maps, mu=mu)


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(1, 1, 4, 4\).*\(1, 1, 8, 8\)"):
        normalized_l2(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 8, 8))
