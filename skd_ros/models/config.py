"""Configuration of the SKD networks: input resolution, widths and first kernels."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from skd_ros.inference.compensation import check_compensation
from skd_ros.model_limits import check_shape

PAPER_RESOLUTIONS = (32, 64, 128, 256)

# The paper's ground-level variants change only the first two kernels (section IV-B).
KERNEL_VARIANTS = {
    "aerial": (3, 3),
    "modify-a": (5, 5),
    "modify-b": (7, 5),
}


@dataclass(frozen=True)
class ModelConfig:
    """Shape of every SKD network: students and Sst share it so weights can move between them.

    `stream_widths` are the output channels of the convolutions at layers 1, 2, 4, 6, 7, 8;
    `head_widths` those of layers 9, 10, 11, 12 (layer 13 always has one output channel).
    `compensation` is how the temporal pair is built: "homography" aligns the previous
    input to the current one (`skd_ros.inference.compensation`), "none" pairs them as read.
    `motion_input` gives the temporal stream the pair's absolute difference as three more
    channels (`skd_ros.models.layers.temporal_input`): motion handed to it rather than left
    to be found, so what it learns from synthetic clips is motion, not their look.
    """

    resolution: int = 64
    first_kernels: tuple[int, int] = (3, 3)
    stream_widths: tuple[int, ...] = (16, 16, 32, 64, 64, 128)
    head_widths: tuple[int, ...] = (32, 32, 16, 8)
    compensation: str = "none"
    motion_input: bool = False

    def __post_init__(self) -> None:
        """Refuse a shape that is malformed or too large before any layer is built."""
        check_shape(self.resolution, self.first_kernels, self.stream_widths, self.head_widths)
        check_compensation(self.compensation)
        if not isinstance(self.motion_input, bool):
            raise ValueError(f"motion_input={self.motion_input!r}: must be true or false")

    @classmethod
    def variant(
        cls,
        name: str,
        resolution: int = 64,
        compensation: str = "none",
        motion_input: bool = False,
    ) -> ModelConfig:
        """Config for a named kernel variant: 'aerial' (paper default), 'modify-a', 'modify-b'."""
        if name not in KERNEL_VARIANTS:
            raise ValueError(f"unknown variant {name!r}; choose one of {sorted(KERNEL_VARIANTS)}")
        return cls(
            resolution,
            KERNEL_VARIANTS[name],
            compensation=compensation,
            motion_input=motion_input,
        )

    @property
    def temporal_channels(self) -> int:
        """Input channels of the temporal stream: the pair, and its difference if asked."""
        return 9 if self.motion_input else 6

    @property
    def feature_channels(self) -> int:
        """Channels of one stream's output (layer 8), the features Fs or Ft."""
        return self.stream_widths[-1]

    def to_dict(self) -> dict:
        """Plain-JSON form, stored next to exported weights."""
        data = asdict(self)
        data["first_kernels"] = list(self.first_kernels)
        data["stream_widths"] = list(self.stream_widths)
        data["head_widths"] = list(self.head_widths)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        """Inverse of `to_dict`; unknown keys are an error so a typo is not silently ignored."""
        known = {
            "resolution",
            "first_kernels",
            "stream_widths",
            "head_widths",
            "compensation",
            "motion_input",
        }
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown model config keys {sorted(unknown)}; known: {sorted(known)}")
        kwargs: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in data.items()
        }
        return cls(**kwargs)
