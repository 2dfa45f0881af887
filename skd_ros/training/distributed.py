"""Multi-process training with torch.distributed (DDP), started by `torchrun`.

`torchrun --nproc_per_node N -m skd_ros.training.cli run ...` sets RANK, WORLD_SIZE and
LOCAL_RANK; without them everything runs in one process. The global batch size stays what
the config says and is split evenly across processes, so N processes follow the same
optimisation path as one (up to floating-point summation order).

Waits where one process works alone or longer than the others (stage 0 on the main process,
each process labelling its share of the cache) go through a CPU (gloo) group of their own
with a timeout of WAIT_TIMEOUT instead of the default 30 minutes, which labelling at AVS1K
scale outlasts; a process that dies still ends the job at once (torchrun stops the others).
"""

from __future__ import annotations

import datetime
import os
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist

WAIT_TIMEOUT = datetime.timedelta(days=30)


@dataclass(frozen=True)
class Context:
    """Where this process sits in the job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    local_world_size: int = 1  # processes of this job on this machine
    waits: object = field(default=None, compare=False, repr=False)  # the gloo wait group

    @property
    def is_main(self) -> bool:
        """True for the process that logs, writes checkpoints and exports."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def setup(device: str = "auto") -> Context:
    """Join the torchrun job if there is one (gloo on CPU, NCCL on CUDA); else one process."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() if device == "auto" else device.startswith("cuda")
    if use_cuda:
        if not torch.cuda.is_available():
            raise RuntimeError("device=cuda was asked for but torch sees no CUDA device")
        check_gpu_for_process(local_rank, torch.cuda.device_count())
        torch.cuda.set_device(local_rank)
        target = torch.device("cuda", local_rank)
    else:
        target = torch.device("cpu")
    waits = None
    if world_size > 1:
        if not dist.is_initialized():
            dist.init_process_group("nccl" if use_cuda else "gloo")
        waits = dist.new_group(backend="gloo", timeout=WAIT_TIMEOUT)
    local_world_size = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    return Context(rank, world_size, local_rank, target, local_world_size, waits)


def check_gpu_for_process(local_rank: int, gpus: int) -> None:
    """Refuse, naming the fix, a torchrun with more processes per machine than it has GPUs
    (torch would fail later with 'invalid device ordinal')."""
    if local_rank >= gpus:
        raise ValueError(
            f"process {local_rank} of this machine needs GPU {local_rank}, but torch sees {gpus}"
            f" CUDA device(s): start torchrun with --nproc_per_node {gpus} (one per GPU), or "
            "hide the GPUs (CUDA_VISIBLE_DEVICES=) to train on the CPU with gloo"
        )


def teardown(context: Context) -> None:
    """Leave the process group (no-op for one process)."""
    if context.distributed and dist.is_initialized():
        dist.destroy_process_group()


def wrap(model: torch.nn.Module, context: Context) -> torch.nn.Module:
    """Put `model` on the device and, under torchrun, inside DistributedDataParallel."""
    model = model.to(context.device)
    if not context.distributed:
        return model
    ids = [context.local_rank] if context.device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The plain module inside a DDP wrapper."""
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model


def average(value: float, context: Context) -> float:
    """Mean of a scalar over all processes (for logging losses)."""
    if not context.distributed:
        return value
    tensor = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(tensor)
    return float(tensor.item()) / context.world_size


def barrier(context: Context) -> None:
    """Wait for every process, up to WAIT_TIMEOUT (no-op for one process)."""
    if context.distributed:
        dist.barrier(group=context.waits)


def from_main(value, context: Context):
    """The main process's `value`, in every process (a picklable object; one process: itself)."""
    if not context.distributed:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0, group=context.waits)
    return box[0]


def gather(value, context: Context) -> list:
    """Every process's `value`, in rank order, in every process (one process: [value])."""
    if not context.distributed:
        return [value]
    values = [None] * context.world_size
    dist.all_gather_object(values, value, group=context.waits)
    return values


def check_shared(folder: Path, context: Context, key: str) -> None:
    """Refuse, in every process, a `folder` (config key `key`) in which some process of the
    job cannot see a file the main process writes: machines without a shared filesystem,
    whose work there would be lost or read by no one. Nothing else is written."""
    if not context.distributed:
        return
    from skd_ros.atomic_write import write_text

    token = from_main(uuid.uuid4().hex if context.is_main else None, context)
    probe = Path(folder) / f".shared-{token}"
    if context.is_main:
        write_text(probe, token)
    barrier(context)
    try:
        seen = probe.read_text() == token
    except OSError:
        seen = False
    views = gather((socket.gethostname(), seen), context)
    if context.is_main:
        probe.unlink(missing_ok=True)
    blind = [f"process {rank} on {host}" for rank, (host, ok) in enumerate(views) if not ok]
    if blind:
        raise ValueError(
            f"{key} {folder} is not one folder for every process of this job: "
            f"{', '.join(blind)} cannot see the file process 0 on {views[0][0]} wrote there; "
            f"put {key} on a filesystem every machine mounts at the same path (NFS, a cluster "
            "filesystem). Nothing was computed"
        )
