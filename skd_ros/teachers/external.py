"""A user's own teacher, exported as ONNX (`.onnx`) or TorchScript (`.pt`, `.ts`).

ONNX runs on ONNX Runtime; TorchScript is loaded with `torch.jit.load` (PyTorch now marks
TorchScript deprecated, so prefer ONNX for new exports). `torch.export` `.pt2` files are
not accepted: `torch.export.load` may fall back to unpickling arbitrary objects.

I/O contract of the exported model:

- one input, float32, NCHW, batch 1: `1x3xHxW` (a spatial teacher: the current frame) or
  `1x6xHxW` (a temporal teacher: previous then current frame stacked on channels); RGB,
  scaled to [0, 1];
- H x W is the `size=(width, height)` option, else the model's fixed input shape (ONNX
  models whose H and W are numbers), else the frame's own resolution (fully convolutional
  models); frames are resized to it with area averaging;
- one output: `1x1xhxw`, `1xhxw` or `hxw`, any scale and any resolution. We min-max
  normalise it to [0, 1] per frame (a flat output becomes zeros); the cache reduces it with
  R.

The kind (3 or 6 channels) is the `kind` option; for ONNX models with a fixed channel count
it is read from the model. Neither loader unpickles arbitrary objects (TorchScript archives
hold code and tensors, ONNX is protobuf). ONNX Runtime runs on the CPU with one intra-op
thread by default (the cache runs videos in parallel). The teacher's identity is the model
file's SHA-256, so a changed file invalidates its cached maps.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from skd_ros.teachers.base import check_kind, min_max
from skd_ros.teachers.deep import net_input

TORCHSCRIPT_SUFFIXES = (".pt", ".ts", ".torchscript")
ONNX_SUFFIXES = (".onnx",)


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def _channels(kind: str) -> int:
    return 3 if kind == "spatial" else 6


def _size(size) -> tuple[int, int] | None:
    if size is None:
        return None
    if isinstance(size, str):
        width, _, height = size.lower().partition("x")
        size = (int(width), int(height))
    width, height = (int(v) for v in size)
    if width < 1 or height < 1:
        raise ValueError(f"size={size}: width and height must be positive")
    return width, height


class _ExternalTeacher:
    """What the TorchScript and ONNX teachers share: input packing, output normalising."""

    def __init__(self, path: Path, kind: str, size) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"teacher model {self.path} does not exist")
        self.kind, self.size = check_kind(kind), _size(size)
        self.name = self.path.name
        self.identity = _file_hash(self.path)

    def _input(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
        frames = [current] if self.kind == "spatial" else [previous, current]
        if previous.shape != current.shape:
            frames = [current] * len(frames)
        size = self.size or (current.shape[1], current.shape[0])
        return net_input(frames, size)[None].astype(np.float32) / np.float32(255.0)

    def _output(self, output: np.ndarray) -> np.ndarray:
        output = np.asarray(output, np.float32)
        while output.ndim > 2 and output.shape[0] == 1:
            output = output[0]
        if output.ndim != 2:
            raise ValueError(
                f"{self.path}: expected an output of shape 1x1xhxw, 1xhxw or hxw, "
                f"got {tuple(np.asarray(output).shape)}"
            )
        return min_max(output)


class TorchScriptTeacher(_ExternalTeacher):
    """A TorchScript model run with torch on the CPU (or `device`)."""

    def __init__(self, path: Path, kind: str = "spatial", size=None, device: str = "cpu") -> None:
        import warnings

        import torch

        super().__init__(path, kind, size)
        self.device = torch.device(device)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # documented above
            self.module = torch.jit.load(str(self.path), map_location=self.device).eval()

    def __call__(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            inputs = torch.from_numpy(self._input(previous, current)).to(self.device)
            output = self.module(inputs)
        if isinstance(output, (tuple, list)):
            output = output[0]
        return self._output(output.float().cpu().numpy())


class OnnxTeacher(_ExternalTeacher):
    """An ONNX model run with ONNX Runtime."""

    def __init__(self, path: Path, kind: str | None = None, size=None, threads: int = 1) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        inputs = session.get_inputs()
        if len(inputs) != 1:
            names = [i.name for i in inputs]
            raise ValueError(f"{path}: expected one input (1xCxHxW), the model has {names}")
        shape = inputs[0].shape
        if len(shape) != 4:
            raise ValueError(f"{path}: expected a 4-D input 1xCxHxW, got shape {shape}")
        channels = shape[1] if isinstance(shape[1], int) else None
        if kind is None:
            if channels not in (3, 6):
                raise ValueError(
                    f"{path}: input channels are {shape[1]!r}; give kind='spatial' or 'temporal'"
                )
            kind = "spatial" if channels == 3 else "temporal"
        if channels is not None and channels != _channels(kind):
            raise ValueError(
                f"{path}: a {kind} teacher takes {_channels(kind)} channels, the model {channels}"
            )
        fixed = all(isinstance(v, int) for v in shape[2:])
        if size is None and fixed:
            size = (shape[3], shape[2])
        super().__init__(path, kind, size)
        if fixed and self.size != (shape[3], shape[2]):
            raise ValueError(
                f"{path}: the model's input is fixed at {shape[3]}x{shape[2]}, "
                f"size={self.size[0]}x{self.size[1]} was asked for"
            )
        self.session, self.input_name = session, inputs[0].name

    def __call__(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
        output = self.session.run(None, {self.input_name: self._input(previous, current)})[0]
        return self._output(output)


def external_teacher(path: Path, kind: str | None = None, size=None, **options):
    """ONNX or TorchScript teacher by file suffix (see the module docstring)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in ONNX_SUFFIXES:
        return OnnxTeacher(path, kind, size, **options)
    if suffix in TORCHSCRIPT_SUFFIXES:
        return TorchScriptTeacher(path, kind or "spatial", size, **options)
    raise ValueError(
        f"{path}: unknown model format {suffix!r}; ONNX {ONNX_SUFFIXES} or TorchScript "
        f"{TORCHSCRIPT_SUFFIXES}"
    )
