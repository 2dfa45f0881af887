"""The SKD networks: shapes, sizes, configuration and the stage-2 weight transfer."""

import pytest
import torch

from skd_ros.models import (
    PAPER_RESOLUTIONS,
    ModelConfig,
    Sst,
    count_parameters,
    spatial_student,
    spatiotemporal,
    summary,
    temporal_student,
)
from skd_ros.models.summary import count_macs


def perturbed(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Move every weight away from its initial value, as training would."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen))
    return model


def test_sst_has_the_papers_parameter_count():
    params = count_parameters(spatiotemporal())
    assert abs(params - 300_000) <= 0.05 * 300_000, params


def test_summary_lists_all_three_networks():
    rows = {r["model"]: r for r in summary()}
    assert set(rows) == {"Ss", "St", "Sst"}
    assert rows["Sst"]["parameters"] == count_parameters(Sst())
    # The temporal stream sees six channels, so St is a little larger than Ss.
    assert rows["St"]["parameters"] > rows["Ss"]["parameters"]
    assert rows["Sst"]["macs"] > rows["St"]["macs"] > rows["Ss"]["macs"]


@pytest.mark.parametrize("resolution", PAPER_RESOLUTIONS)
def test_outputs_are_maps_at_input_resolution_in_unit_range(resolution):
    config = ModelConfig(resolution=resolution)
    frame = torch.rand(2, 3, resolution, resolution)
    with torch.no_grad():
        outputs = [
            spatial_student(config)(frame),
            temporal_student(config)(torch.cat((frame, frame), 1)),
            spatiotemporal(config)(frame, frame),
        ]
    for out in outputs:
        assert out.shape == (2, 1, resolution, resolution)
        assert out.min() >= 0.0 and out.max() <= 1.0


def test_thirteen_layers_with_pools_at_three_and_five():
    student = spatial_student()
    stream_names = [name for name, _ in student.stream.named_children()]
    head_names = [name for name, _ in student.head.named_children()]
    assert stream_names == [f"layer{i}" for i in range(1, 9)]
    assert head_names == [f"layer{i}" for i in range(9, 14)]
    assert isinstance(student.stream.layer3, torch.nn.MaxPool2d)
    assert isinstance(student.stream.layer5, torch.nn.MaxPool2d)
    assert student.head.layer9[0].kernel_size == (1, 1)
    for name in ("layer12", "layer13"):
        layer = getattr(student.head, name)[0]
        assert isinstance(layer, torch.nn.ConvTranspose2d) and layer.stride == (2, 2)
    relus = [m for m in student.modules() if isinstance(m, torch.nn.ReLU)]
    assert len(relus) == 10  # every convolution but the sigmoid output layer


@pytest.mark.parametrize(("variant", "kernels"), [("modify-a", (5, 5)), ("modify-b", (7, 5))])
def test_ground_level_variants_only_change_the_first_kernels(variant, kernels):
    config = ModelConfig.variant(variant)
    model = spatiotemporal(config)
    for stream in (model.spatial, model.temporal):
        assert stream.layer1[0].kernel_size == (kernels[0],) * 2
        assert stream.layer2[0].kernel_size == (kernels[1],) * 2
        assert stream.layer4[0].kernel_size == (3, 3)
    out = model(torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64))
    assert out.shape == (1, 1, 64, 64)


def test_from_students_copies_layers_one_to_eight():
    ss = perturbed(spatial_student(), seed=1)
    st = perturbed(temporal_student(), seed=2)
    sst = Sst.from_students(ss, st)
    previous, current = torch.rand(4, 3, 64, 64), torch.rand(4, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(sst.spatial(current), ss.stream(current))
        pair = torch.cat((previous, current), 1)
        assert torch.equal(sst.temporal(pair), st.stream(pair))


def test_motion_input_hands_both_temporal_networks_the_pairs_difference():
    config = ModelConfig(resolution=32, motion_input=True)
    st = perturbed(temporal_student(config), seed=3)
    sst = Sst.from_students(perturbed(spatial_student(config), 4), st)
    assert st.stream.layer1[0].in_channels == 9 and sst.temporal.layer1[0].in_channels == 9
    current = torch.rand(2, 3, 32, 32)
    previous = current.clone()
    previous[:, :, 8:16, 8:16] = 1.0 - previous[:, :, 8:16, 8:16]  # something moved there
    pair = torch.cat((previous, current), 1)
    with torch.no_grad():
        assert torch.equal(st(pair), st.forward_pair(previous, current))
        plain = temporal_student(ModelConfig(resolution=32))
        first = "stream.layer1.0.weight"
        plain.load_state_dict(
            {k: v[:, :6] if k == first else v for k, v in st.state_dict().items()}
        )
        # the same weights on the colour channels: only the difference channels differ
        assert not torch.allclose(st(pair), plain(pair))
        still = torch.cat((current, current), 1)
        assert torch.allclose(st(still), plain(still), atol=1e-6)  # no motion: nothing added


def test_from_students_gives_a_fresh_truncated_normal_head_and_leaves_students_alone():
    ss, st = perturbed(spatial_student(), 1), perturbed(temporal_student(), 2)
    before = {k: v.clone() for k, v in ss.state_dict().items()}
    sst = Sst.from_students(ss, st)
    with torch.no_grad():
        for p in sst.parameters():
            p.add_(1.0)
    for key, value in ss.state_dict().items():
        assert torch.equal(value, before[key]), key
    layer9 = sst.head.layer9[0]
    assert layer9.in_channels == 2 * ss.config.feature_channels
    std = (2.0 / layer9.weight[0].numel()) ** 0.5
    weights = layer9.weight.detach() - 1.0
    assert weights.abs().max() <= 2 * std + 1e-6
    assert weights.std() > 0.7 * std  # a normal cut at 2 std keeps 0.88 std


def test_from_students_refuses_students_of_different_shape():
    with pytest.raises(ValueError, match="same model config"):
        Sst.from_students(spatial_student(), temporal_student(ModelConfig(resolution=32)))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"resolution": 30}, "multiple of 4"),
        ({"first_kernels": (4, 3)}, "odd kernel"),
        ({"stream_widths": (16, 32)}, "6 entries"),
        ({"motion_input": "yes"}, "true or false"),
    ],
)
def test_bad_config_is_refused_with_the_reason(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ModelConfig(**kwargs)


def test_config_round_trips_through_json_form():
    config = ModelConfig.variant("modify-b", resolution=32)
    assert ModelConfig.from_dict(config.to_dict()) == config
    moving = ModelConfig.variant("aerial", 32, "homography", motion_input=True)
    assert ModelConfig.from_dict(moving.to_dict()) == moving
    older = {k: v for k, v in config.to_dict().items() if k != "motion_input"}
    assert ModelConfig.from_dict(older) == config  # a model exported before the key
    with pytest.raises(ValueError, match="unknown model config keys"):
        ModelConfig.from_dict({**config.to_dict(), "resolutoin": 64})
    with pytest.raises(ValueError, match="unknown variant"):
        ModelConfig.variant("modify-c")


def test_mac_count_matches_the_layer_arithmetic():
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ConvTranspose2d(4, 2, 4, stride=2, padding=1)
    )
    expected = 8 * 8 * 4 * 3 * 9 + 8 * 8 * 4 * 2 * 16
    assert count_macs(net, torch.zeros(1, 3, 8, 8)) == expected


def test_sst_learns_a_fixed_target():
    torch.manual_seed(0)
    model = spatiotemporal(ModelConfig(resolution=32))
    frames = torch.rand(8, 3, 32, 32)
    target = torch.zeros(8, 1, 32, 32)
    target[:, :, 12:20, 12:20] = 1.0
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(30):
        loss = torch.nn.functional.mse_loss(model(frames, frames), target)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
