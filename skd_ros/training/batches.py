"""Mini-batches of cached, reduced frame pairs for the training stages.

The epoch's order is a pure function of (seed, epoch), so a resumed run sees exactly the
batches an uninterrupted one would, and every process of a torchrun job takes its own equal
slice of each global batch.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from skd_ros.inference.compensation import align, check_compensation, estimate
from skd_ros.preprocess import unit_scale

FIELDS = ("previous", "current", "target", "teacher")


class PairBatches(Dataset):
    """Index a cache by a list of frame indices and get one batch of tensors.

    `targets` may be None for unlabelled data; `teacher` is the map the soft loss uses.
    `compensation` builds the pair as the node does (`CachedPairs`).
    """

    def __init__(
        self,
        frames: np.ndarray,
        previous: np.ndarray,
        targets: np.ndarray | None,
        teacher: np.ndarray | None = None,
        compensation: str = "none",
    ) -> None:
        self.frames, self.previous, self.targets, self.teacher = frames, previous, targets, teacher
        self.pairs = CachedPairs(frames, previous, compensation)

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        idx = np.asarray(indices)
        previous, current = self.pairs(idx)
        batch = {"current": torch.from_numpy(current), "previous": torch.from_numpy(previous)}
        if self.targets is not None:
            batch["target"] = _maps(self.targets, idx)
        if self.teacher is not None:
            batch["teacher"] = _maps(self.teacher, idx)
        return batch


class CachedPairs:
    """The model's (previous, current) float32 inputs of cached rows, built as the node builds
    them: `unit_scale`, then `compensation` of the previous input (`compensate`'s two halves;
    each row's camera motion is estimated once and kept)."""

    def __init__(self, frames: np.ndarray, previous: np.ndarray, compensation: str) -> None:
        self.frames, self.previous = frames, previous
        self.compensation = check_compensation(compensation)
        self._motion: dict[int, np.ndarray | None] = {}

    def __call__(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(previous, current), each (len(idx), 3, h, w) float32 in [0, 1]."""
        current = unit_scale(self.frames[idx])
        previous = unit_scale(self.frames[self.previous[idx]])
        if self.compensation == "none":
            return previous, current
        for k, row in enumerate(idx.tolist()):
            if row not in self._motion:
                self._motion[row] = estimate(previous[k], current[k])
            previous[k] = align(previous[k], current[k], self._motion[row])
        return previous, current


def _maps(maps: np.ndarray, idx: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(maps[idx], dtype=np.float32)).unsqueeze(1)


class EpochBatches(Sampler):
    """Yields this process's share of each global batch of a seeded epoch permutation."""

    def __init__(
        self, size: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1
    ) -> None:
        if batch_size % world_size:
            raise ValueError(
                f"batch size {batch_size} does not split evenly over {world_size} processes; "
                "choose a multiple of the process count"
            )
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.rank, self.world_size, self.epoch = rank, world_size, 0

    def set_epoch(self, epoch: int) -> None:
        """Select the permutation of `epoch` (call before iterating)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-self.size // self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        order = np.random.default_rng([self.seed, self.epoch]).permutation(self.size)
        for start in range(0, self.size, self.batch_size):
            batch = order[start : start + self.batch_size]
            share = len(batch) // self.world_size  # a short last batch loses < world_size frames
            if share:
                yield batch[self.rank * share : (self.rank + 1) * share].tolist()


def loader(dataset: PairBatches, sampler: EpochBatches, workers: int) -> DataLoader:
    """A DataLoader whose items are whole batches (the sampler yields index lists)."""
    return DataLoader(
        dataset,
        sampler=sampler,
        batch_size=None,
        num_workers=workers,
        persistent_workers=workers > 0,
    )
