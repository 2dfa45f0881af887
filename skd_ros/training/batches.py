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

FIELDS = ("previous", "current", "target", "teacher")


class PairBatches(Dataset):
    """Index a cache by a list of frame indices and get one batch of tensors.

    `targets` may be None for unlabelled data; `teacher` is the map the soft loss uses.
    """

    def __init__(
        self,
        frames: np.ndarray,
        previous: np.ndarray,
        targets: np.ndarray | None,
        teacher: np.ndarray | None = None,
    ) -> None:
        self.frames, self.previous, self.targets, self.teacher = frames, previous, targets, teacher

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        idx = np.asarray(indices)
        batch = {
            "current": _frames(self.frames, idx),
            "previous": _frames(self.frames, self.previous[idx]),
        }
        if self.targets is not None:
            batch["target"] = _maps(self.targets, idx)
        if self.teacher is not None:
            batch["teacher"] = _maps(self.teacher, idx)
        return batch


def _frames(frames: np.ndarray, idx: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(frames[idx])).float().div_(255.0)


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
