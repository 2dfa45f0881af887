"""Read an exported model's description and files without importing torch.

`skd_ros.export` writes `<name>.onnx`, `<name>.safetensors` and `<name>.json`; it imports
torch because it also exports. The node must start on machines without torch, so this module
re-implements the reading side with the same checks (format, version, sha256) and error
messages that say which file is wrong and how to get a good one.

A model folder is trusted no further than an Sst export can be (docs/reliability.md,
"Limits on model files and configs"): its files are regular files of bounded size in the
folder of the (link-resolved) JSON, the JSON's shape fields are integers within
`skd_ros.model_limits`, and the ONNX graph is checked by `skd_ros.inference.onnx_graph`
before anything loads it.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from skd_ros.inference.compensation import COMPENSATIONS
from skd_ros.model_limits import check_resolution, check_shape
from skd_ros.package_files import demo_config, find_package_file, package_file_candidates
from skd_ros.quoting import shown

FORMAT = "skd_ros.sst"
FORMAT_VERSION = 1
DEFAULT_MODEL = "sst_demo_int8.json"  # INT8: faster, NSS within 1 % (docs/performance.md)
MAX_BYTES = {"description": 1 << 20, "onnx": 64 << 20, "weights": 64 << 20}
TYPICAL_SIZE = {"description": "a few KB", "onnx": "about 1 MB", "weights": "about 1 MB"}
PSEUDO_FILESYSTEMS = ("/proc", "/sys", "/dev")  # files there never end, or are devices
FIX_HINT = (
    "use the packaged default (leave `model` empty), re-export it with "
    f"`train export`, or train one with `train run --config {demo_config()}`"
)


class ModelFileError(RuntimeError):
    """An exported model cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class ModelDescription:
    """What the node needs from an exported model's JSON."""

    path: Path  # the .json file
    resolution: int  # side of the square model input and output
    input_size: tuple[int, int]  # (width, height) of the model input and output
    input_names: tuple[str, str]  # ("previous", "current")
    output_name: str
    metadata: dict
    compensation: str = "none"  # how the pair is built (skd_ros.inference.compensation)

    def file(self, kind: str) -> Path:
        """The 'onnx' or 'weights' file next to the JSON, checked against its sha256."""
        return checked_file(self.path, self.metadata, kind)


def default_model_path() -> Path:
    """The packaged demo model: the source tree's resource/models, else share/skd_ros/models."""
    where = ("resource/models", "models", DEFAULT_MODEL)
    path = find_package_file(*where)
    if path is None:
        looked = ", ".join(map(str, package_file_candidates(*where)))
        raise ModelFileError(
            f"no packaged model found (looked for {looked}); train one with "
            f"`train run --config {demo_config()}` and pass its .json as `model`"
        )
    return path


def resolve_model_path(model: str | os.PathLike | None) -> Path:
    """`model` as a path to a .json description; empty or None means the packaged default."""
    if model is None or str(model) == "":
        return default_model_path()
    path = Path(model).expanduser()
    if path.is_dir():
        raise ModelFileError(
            f"model {path} is a directory; pass the exported model's .json file "
            f"(e.g. {path / 'sst.json'}); {FIX_HINT}"
        )
    return path if path.suffix == ".json" else path.with_suffix(".json")


def model_input_size(metadata: dict) -> tuple[int, int]:
    """(width, height) of a model's input (and output) from its description's `model` section.

    The one place that reads it: the input is square today (`model.resolution`, an integer
    in [16, 512]); ValueError says what is wrong.
    """
    model = metadata.get("model")
    if not isinstance(model, dict) or "resolution" not in model:
        raise ValueError("it lacks the field model.resolution")
    side = check_resolution(model["resolution"])
    return side, side


def read_description(model: str | os.PathLike | None) -> ModelDescription:
    """Load and validate an exported model's JSON (empty `model`: the packaged default)."""
    path = resolve_model_path(model)
    if not path.is_file():
        given = "" if model in (None, "") or Path(model).expanduser() == path else model
        looked = f" (the description that goes with the given {given})" if given else ""
        raise ModelFileError(f"model description {path} does not exist{looked}; {FIX_HINT}")
    data = read_model_file(path, "description")
    try:
        metadata = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: nesting
        raise ModelFileError(
            f"{path} is not a readable JSON file ({shown(str(exc), 120)}); {FIX_HINT}"
        ) from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ModelFileError(
            f"{path} is not an skd_ros model description (format != {FORMAT!r}); {FIX_HINT}"
        )
    version = metadata.get("format_version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise ModelFileError(
            f"{path}: format_version {shown(version)} is not a version; {FIX_HINT}"
        )
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has format version {version}, newer than this skd_ros understands "
            f"({FORMAT_VERSION}); upgrade skd_ros or {FIX_HINT}"
        )
    input_size = _checked_shape(path, metadata)
    names, output = _checked_names(path, metadata)
    _check_files_field(path, metadata.get("files"))
    compensation = _checked_compensation(path, metadata)
    return ModelDescription(path, input_size[0], input_size, names, output, metadata, compensation)


def _checked_compensation(path: Path, metadata: dict) -> str:
    """How the pair is aligned before the model sees it (`none` for older models)."""
    compensation = metadata["model"].get("compensation", "none")
    if compensation not in COMPENSATIONS:
        raise ModelFileError(
            f"{path}: model.compensation {shown(compensation)} is not one of {COMPENSATIONS}; "
            f"{FIX_HINT}"
        )
    return compensation


def _checked_shape(path: Path, metadata: dict) -> tuple[int, int]:
    """The input size, after checking the whole `model` section against the limits."""
    try:
        input_size = model_input_size(metadata)
        model = metadata["model"]
        fields = ("first_kernels", "stream_widths", "head_widths")
        check_shape(model["resolution"], *(model.get(name) for name in fields))
    except ValueError as error:
        raise ModelFileError(f"{path}: model {error}; {FIX_HINT}") from None
    return input_size


def _checked_names(path: Path, metadata: dict) -> tuple[tuple[str, str], str]:
    """The input names and the output name of the `input` section."""
    section = metadata.get("input")
    names = section.get("names") if isinstance(section, dict) else None
    output = section.get("output") if isinstance(section, dict) else None
    output = output.get("name") if isinstance(output, dict) else None
    if "input" not in metadata:
        raise ModelFileError(f"{path} lacks the field 'input'; {FIX_HINT}")
    if (
        not isinstance(names, list)
        or len(names) != 2
        or not all(isinstance(n, str) and n for n in (*names, output))
    ):
        raise ModelFileError(
            f"{path}: input.names must be two names and input.output.name one, got "
            f"{shown(names)} and {shown(output)}; {FIX_HINT}"
        )
    return (names[0], names[1]), str(output)


def _check_files_field(path: Path, files: object) -> None:
    """`files` names the ONNX and weights files beside the JSON, each with its sha256."""
    if not isinstance(files, dict):
        raise ModelFileError(f"{path} lacks the field 'files'; {FIX_HINT}")
    checksums = files.get("sha256")
    for kind in ("onnx", "weights"):
        name = files.get(kind)
        if not isinstance(name, str) or not name or Path(name).name != name or name == "..":
            raise ModelFileError(
                f"{path}: files.{kind} must name a file in the same folder, got {shown(name)}; "
                f"{FIX_HINT}"
            )
        if not isinstance(checksums, dict) or not isinstance(checksums.get(name), str):
            raise ModelFileError(
                f"{path} records no sha256 for {name}, so it cannot be verified; {FIX_HINT}"
            )


def read_model_file(path: Path, kind: str) -> bytes:
    """The bytes of a model file of `kind` ('description', 'onnx', 'weights'), read only if it
    is a regular file outside /proc, /sys and /dev, and at most MAX_BYTES[kind] long."""
    limit = MAX_BYTES[kind]
    real = Path(os.path.realpath(path))
    if any(real.is_relative_to(root) for root in PSEUDO_FILESYSTEMS):
        raise ModelFileError(f"{path} is {real}, not a model file; {FIX_HINT}")
    try:  # O_NONBLOCK: opening a FIFO must not wait for a writer
        with os.fdopen(os.open(real, os.O_RDONLY | os.O_NONBLOCK), "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise ModelFileError(f"{path} is not a regular file; {FIX_HINT}")
            data = handle.read(limit + 1) if info.st_size <= limit else b""
    except OSError as error:
        raise ModelFileError(f"{path} cannot be read ({error}); {FIX_HINT}") from None
    if info.st_size > limit or len(data) > limit:
        raise ModelFileError(
            f"{path} is larger than {limit >> 20} MiB, the most a model's {kind} file may be "
            f"(an Sst export's is {TYPICAL_SIZE[kind]}); {FIX_HINT}"
        )
    return data


def model_folder_file(json_path: Path, name: str) -> Path:
    """`name` in the folder of the (link-resolved) JSON `json_path`; a link there may point
    within that folder only."""
    folder = Path(os.path.realpath(json_path)).parent
    path = folder / name
    if Path(os.path.realpath(path)).parent != folder:
        raise ModelFileError(
            f"{json_path} refers to {path}, which is a link out of the model's folder "
            f"{folder}; put the file itself there; {FIX_HINT}"
        )
    return path


def checked_file(json_path: Path, metadata: dict, kind: str) -> Path:
    """Path of the 'onnx' or 'weights' file of a description, verified against its sha256
    (an ONNX file also against what an Sst export can be: `skd_ros.inference.onnx_graph`)."""
    if kind not in ("onnx", "weights"):
        raise ValueError(f"kind={kind!r}: choose 'onnx' or 'weights'")
    path = model_folder_file(json_path, metadata["files"][kind])
    if not path.is_file():
        raise ModelFileError(f"{json_path} refers to {path}, which does not exist; {FIX_HINT}")
    data = read_model_file(path, kind)
    expected = metadata["files"]["sha256"][path.name]
    if hashlib.sha256(data).hexdigest() != expected:
        raise ModelFileError(
            f"{path} does not match the sha256 recorded in {json_path}: the file is corrupt, "
            f"truncated or was replaced; {FIX_HINT}"
        )
    if kind == "onnx":
        check_onnx_file(path, data, metadata)
    return path


def check_onnx_file(path: Path, data: bytes, metadata: dict) -> None:
    """Refuse the ONNX file `path` (bytes `data`) unless it is an Sst export of the size
    and with the names its description `metadata` gives (ModelFileError names the file)."""
    from skd_ros.inference.onnx_graph import check_sst_graph

    names = tuple(metadata["input"]["names"])
    output = metadata["input"]["output"]["name"]
    try:
        check_sst_graph(data, model_input_size(metadata), names, output)
    except ValueError as error:
        raise ModelFileError(
            f"{path} is not an Sst model: {error}; re-export it with `train export`"
        ) from None
