"""Run an exported Sst on (previous, current) frame pairs: ONNX Runtime, or torch optionally.

The ONNX Runtime path imports neither torch nor `skd_ros.export` (which needs torch), so the
node runs on a robot that only has `onnxruntime`. `backend="torch"` rebuilds the network from
the safetensors weights (torch and safetensors needed) and can run on CUDA.

`SaliencyStream` adds the frame-to-frame state: it keeps the previous reduced frame and pairs
each new frame with it through a `FramePairer` (see `skd_ros.inference.pairing`).
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np

from skd_ros.inference.compensation import compensate, compensate_batch
from skd_ros.inference.model_files import (
    FIX_HINT,
    ModelDescription,
    ModelFileError,
    read_description,
)
from skd_ros.inference.pairing import FramePairer

BACKENDS = ("onnxruntime", "torch")
DEVICES = ("cpu", "cuda")
WARM_UP_LIMIT_S = 30.0  # the demo model's first run takes milliseconds, a 512x512 one < 1 s


class BackendError(RuntimeError):
    """The requested backend or device cannot run here; the message says why and what to do."""


class SaliencyEngine:
    """An exported Sst, ready to map (previous, current) model inputs to a saliency map.

    Inputs are (3, side, side) float32 RGB in [0, 1] as made by
    `skd_ros.preprocess.prepare_frame`; the output is a (side, side) float32 map in [0, 1].
    A model exported with a compensation (`description.compensation`) gets the previous
    input aligned to the current one first (`skd_ros.inference.compensation`), as in training.
    """

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        backend: str = "onnxruntime",
        device: str = "cpu",
        threads: int = 1,
        warm_up_limit_s: float = WARM_UP_LIMIT_S,
    ) -> None:
        if backend not in BACKENDS:
            raise BackendError(f"backend={backend!r}: choose one of {BACKENDS}")
        if device not in DEVICES:
            raise BackendError(f"device={device!r}: choose one of {DEVICES}")
        if not isinstance(threads, int) or threads < 1:
            raise BackendError(f"threads={threads!r}: must be an integer >= 1")
        self.description: ModelDescription = read_description(model)
        self.backend, self.device, self.threads = backend, device, threads
        self.resolution = self.description.resolution
        self.compensation = self.description.compensation
        if backend == "onnxruntime":
            self._runner: _OnnxRunner | _TorchRunner = _OnnxRunner(
                self.description, device, threads
            )
        else:
            self._runner = _TorchRunner(self.description, device, threads)
        self._warm_up(warm_up_limit_s)

    def predict(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
        """Saliency map (side, side) float32 of `current`, given the frame before it."""
        previous, current = self._batch(previous), self._batch(current)
        if self.compensation != "none":
            previous = compensate(previous[0], current[0], self.compensation)[None]
        return self._runner(previous, current)[0, 0]

    def predict_batch(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
        """Maps (N, side, side) for N pairs (N, 3, side, side): evaluation and benchmarks."""
        side = self.resolution
        for frames in (previous, current):
            if frames.ndim != 4 or frames.shape[1:] != (3, side, side):
                raise ValueError(f"expected (N, 3, {side}, {side}) inputs, got {frames.shape}")
        previous, current = (np.ascontiguousarray(x, dtype=np.float32) for x in (previous, current))
        previous = compensate_batch(previous, current, self.compensation)
        return self._runner(previous, current)[:, 0]

    def _batch(self, frame: np.ndarray) -> np.ndarray:
        side = self.resolution
        if frame.shape != (3, side, side) or frame.dtype != np.float32:
            raise ValueError(
                f"expected a (3, {side}, {side}) float32 model input, got {frame.shape} "
                f"{frame.dtype}; use skd_ros.preprocess.prepare_frame(image, {side})"
            )
        return frame[None]

    def _warm_up(self, limit_s: float) -> None:
        """Run once at load: a broken file fails here, not on the first camera frame, and a
        model that runs longer than `limit_s` is stopped (ONNX Runtime) and refused."""
        zeros = np.zeros((1, 3, self.resolution, self.resolution), np.float32)
        try:
            self._runner.run_within(zeros, zeros, limit_s)
        except TimeoutError:
            raise ModelFileError(
                f"{self.description.path}: one run of the model took longer than {limit_s:g} s "
                f"at load on {self.backend}/{self.device}, so it is not used; an Sst runs in "
                "milliseconds: re-export it with `train export`"
            ) from None
        except Exception as error:  # onnxruntime's own errors derive from Exception only
            raise ModelFileError(
                f"{self.description.path}: the model does not run on {self.backend}/"
                f"{self.device} ({error}); re-export it with `train export`"
            ) from error

    def __repr__(self) -> str:
        return (
            f"SaliencyEngine({self.description.path.name}, {self.resolution}x{self.resolution},"
            f" {self.backend}/{self.device}, threads={self.threads})"
        )


class _OnnxRunner:
    def __init__(self, description: ModelDescription, device: str, threads: int) -> None:
        import onnxruntime as ort

        providers = ["CPUExecutionProvider"]
        if device == "cuda":
            available = ort.get_available_providers()
            if "CUDAExecutionProvider" not in available:
                raise BackendError(
                    f"device='cuda' but this onnxruntime ({ort.__version__}) has no CUDA "
                    f"provider (available: {available}); install onnxruntime-gpu, or use "
                    "device: cpu, or backend: torch with a CUDA build of torch"
                )
            providers.insert(0, "CUDAExecutionProvider")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle worker threads sleep instead of spinning: a deactivated node must not burn CPU.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        path = description.file("onnx")
        try:
            self._session = ort.InferenceSession(str(path), options, providers=providers)
        except Exception as error:  # onnxruntime raises its own exception types
            raise ModelFileError(
                f"{path} is not a loadable ONNX model ({error}); re-export it with `train export`"
            ) from error
        self._names = description.input_names
        self._output = [description.output_name]

    def __call__(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
        feeds = {self._names[0]: previous, self._names[1]: current}
        return self._session.run(self._output, feeds)[0]

    def run_within(self, previous: np.ndarray, current: np.ndarray, limit_s: float) -> None:
        """One run, terminated (TimeoutError) if it takes longer than `limit_s`."""
        import onnxruntime as ort

        options = ort.RunOptions()
        expired = threading.Event()

        def stop() -> None:
            expired.set()
            options.terminate = True

        timer = threading.Timer(limit_s, stop)
        timer.start()
        feeds = {self._names[0]: previous, self._names[1]: current}
        try:
            self._session.run(self._output, feeds, options)
        except Exception:
            if expired.is_set():
                raise TimeoutError from None
            raise
        finally:
            timer.cancel()
        if expired.is_set():
            raise TimeoutError


class _TorchRunner:
    def __init__(self, description: ModelDescription, device: str, threads: int) -> None:
        try:
            import torch
            from safetensors.torch import load_file

            from skd_ros.models import ModelConfig, Sst
        except ImportError as error:
            raise BackendError(
                f"backend='torch' needs torch and safetensors ({error}); install them "
                "(pip install torch==2.13.0 safetensors) or use backend: onnxruntime"
            ) from error
        if device == "cuda" and not torch.cuda.is_available():
            raise BackendError(
                f"device='cuda' but torch {torch.__version__} sees no CUDA device "
                f"(CUDA build: {torch.version.cuda or 'no, CPU-only'}); use device: cpu"
            )
        torch.set_num_threads(threads)
        try:  # the shape is within skd_ros.model_limits already (read_description)
            shape = ModelConfig.from_dict(description.metadata["model"])
        except (TypeError, ValueError) as error:
            raise ModelFileError(f"{description.path}: {error}; {FIX_HINT}") from None
        model = Sst(shape)
        model.load_state_dict(load_file(str(description.file("weights"))))
        self._torch, self._device = torch, torch.device(device)
        self._model = model.eval().to(self._device)
        self._graphed = None
        if device == "cuda":
            self._graphed = _graphed_or_none(self._model, description.resolution, self._device)

    def run_within(self, previous: np.ndarray, current: np.ndarray, limit_s: float) -> None:
        """One run; TimeoutError after it if it took longer than `limit_s` (torch cannot
        stop a forward pass, but our network's size is bounded before it is built)."""
        started = time.monotonic()
        self(previous, current)
        if time.monotonic() - started > limit_s:
            raise TimeoutError

    def __call__(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
        if self._graphed is not None and previous.shape[0] == 1:
            return self._graphed(previous, current)
        torch = self._torch
        with torch.inference_mode():
            pair = (torch.from_numpy(x).to(self._device) for x in (previous, current))
            return self._model(*pair).cpu().numpy()


def capture_graph(model, inputs) -> tuple:
    """(graph, output): one no-grad forward pass of `model` on the CUDA tensors `inputs`,
    captured as a CUDA graph; `graph.replay()` reruns it on whatever `inputs` then hold."""
    import torch

    device = inputs[0].device
    stream = torch.cuda.Stream(device)
    stream.wait_stream(torch.cuda.current_stream(device))
    with torch.no_grad(), torch.cuda.stream(stream):
        for _ in range(3):  # cuDNN settles its algorithms before the capture
            model(*inputs)
    torch.cuda.current_stream(device).wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    # thread_local: CUDA work of other threads (another engine) does not break the capture
    with torch.no_grad(), torch.cuda.graph(graph, capture_error_mode="thread_local"):
        output = model(*inputs)
    return graph, output


def _graphed_or_none(model, side: int, device) -> _GraphedForward | None:
    """The captured graph, or None (eager) where this GPU or driver cannot capture one."""
    try:
        return _GraphedForward(model, side, device)
    except RuntimeError as error:
        warnings.warn(f"CUDA graph capture failed ({error}); Sst runs eagerly", stacklevel=3)
        return None


class _GraphedForward:
    """Sst's batch-1 forward pass captured once as a CUDA graph.

    A camera frame is a batch of one, where an eager pass is bound by launching its dozens of
    small kernels; replaying the graph launches them all at once (several times faster for the
    network alone: docs/performance.md, `python -m skd_ros.bench.gpu`). The graph reads and
    writes fixed buffers: each call copies the frames in and the map out, under a lock (the
    buffers are shared between callers).
    """

    def __init__(self, model, side: int, device) -> None:
        import torch

        self._torch = torch
        self._inputs = [torch.zeros((1, 3, side, side), device=device) for _ in range(2)]
        self._graph, self._output = capture_graph(model, self._inputs)
        self._lock = threading.Lock()

    def __call__(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
        torch = self._torch
        with self._lock:
            for buffer, frame in zip(self._inputs, (previous, current), strict=True):
                buffer.copy_(torch.from_numpy(frame))
            self._graph.replay()
            return self._output.cpu().numpy()


@dataclass(frozen=True)
class StreamResult:
    """One frame's saliency map and, if the frame chain restarted there, why."""

    saliency: np.ndarray  # (side, side) float32 in [0, 1]
    reset: str | None
    detail: str = ""


class SaliencyStream:
    """An engine plus the previous frame: feed frames in order, get each frame's map."""

    def __init__(self, engine: SaliencyEngine, max_gap_s: float = 1.0) -> None:
        self.engine = engine
        self.pairer = FramePairer(max_gap_s)

    def step(self, model_input: np.ndarray, stamp_ns: int, frame_format: Hashable) -> StreamResult:
        """Map of the frame `model_input` (3, side, side) stamped `stamp_ns`.

        `frame_format` is anything that changes when the camera's width, height or encoding
        changes, e.g. (width, height, encoding); a change restarts the chain.
        """
        pair = self.pairer.pair(model_input, stamp_ns, frame_format)
        saliency = self.engine.predict(pair.previous, pair.current)
        return StreamResult(saliency, pair.reset, pair.detail)

    def reset(self) -> None:
        """Forget the previous frame (the next frame pairs with itself)."""
        self.pairer.reset()
