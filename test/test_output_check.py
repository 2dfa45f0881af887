"""The run's check that a trained Sst still finds regions where the node would look."""

import numpy as np
import torch

from skd_ros.models import ModelConfig, Sst
from skd_ros.models.layers import head_convolutions
from skd_ros.training.output_check import silence_warning, silent_share


def sst_with_output_bias(bias: float) -> Sst:
    model = Sst(ModelConfig(resolution=16))
    with torch.no_grad():
        last = head_convolutions(model.head)[-1]
        last.weight.zero_()
        last.bias.fill_(bias)  # the map is sigmoid(bias) everywhere
    return model


def frames(n: int = 10) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (n, 3, 16, 16), dtype=np.uint8)
    return images, np.maximum(np.arange(n) - 1, 0)


def test_a_silent_model_is_found_and_named_with_the_fix():
    silent = silent_share(sst_with_output_bias(-8.0), *frames())
    assert silent == 1.0
    warning = silence_warning(silent, fine_tuned=True)
    assert "100 %" in warning and "lower optim.lr or train from scratch" in warning


def test_a_model_that_speaks_passes():
    assert silent_share(sst_with_output_bias(3.0), *frames()) == 0.0
    assert silence_warning(0.0, fine_tuned=False) is None
