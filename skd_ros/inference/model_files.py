"""Read an exported model's description and files without importing torch.

`skd_ros.export` writes `<name>.onnx`, `<name>.safetensors` and `<name>.json`; it imports
torch because it also exports. The node must start on machines without torch, so this module
re-implements the reading side with the same checks (format, version, sha256) and error
messages that say which file is wrong and how to get a good one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from skd_ros.inference.compensation import COMPENSATIONS
from skd_ros.package_files import find_package_file, package_file_candidates, sha256_of

FORMAT = "skd_ros.sst"
FORMAT_VERSION = 1
DEFAULT_MODEL = "sst_demo_int8.json"  # INT8: 1.8x faster, NSS within 1 % (README)
FIX_HINT = (
    "use the packaged default (leave `model` empty), re-export it with "
    "`train export`, or train one with `train run --config config/demo_weights.yaml`"
)


class ModelFileError(RuntimeError):
    """An exported model cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class ModelDescription:
    """What the node needs from an exported model's JSON."""

    path: Path  # the .json file
    resolution: int  # side of the square model input and output
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
            "`train run --config config/demo_weights.yaml` and pass its .json as `model`"
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


def read_description(model: str | os.PathLike | None) -> ModelDescription:
    """Load and validate an exported model's JSON (empty `model`: the packaged default)."""
    path = resolve_model_path(model)
    if not path.is_file():
        given = "" if model in (None, "") or Path(model).expanduser() == path else model
        looked = f" (the description that goes with the given {given})" if given else ""
        raise ModelFileError(f"model description {path} does not exist{looked}; {FIX_HINT}")
    try:
        metadata = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path} is not a readable JSON file ({exc}); {FIX_HINT}") from exc
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ModelFileError(
            f"{path} is not an skd_ros model description (format != {FORMAT!r}); {FIX_HINT}"
        )
    version = metadata.get("format_version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise ModelFileError(f"{path}: format_version {version!r} is not a version; {FIX_HINT}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has format version {version!r}, newer than this skd_ros understands "
            f"({FORMAT_VERSION}); upgrade skd_ros or {FIX_HINT}"
        )
    try:
        resolution = int(metadata["model"]["resolution"])
        names = tuple(metadata["input"]["names"])
        output = str(metadata["input"]["output"]["name"])
    except KeyError as exc:
        raise ModelFileError(f"{path} lacks the field {exc}; {FIX_HINT}") from exc
    except (TypeError, ValueError) as exc:
        raise ModelFileError(
            f"{path} has a malformed model or input field ({exc}); {FIX_HINT}"
        ) from exc
    _check_files_field(path, metadata.get("files"))
    if len(names) != 2 or resolution < 1:
        raise ModelFileError(f"{path}: expected two inputs and a positive resolution; {FIX_HINT}")
    compensation = metadata["model"].get("compensation", "none")  # older models: none
    if compensation not in COMPENSATIONS:
        raise ModelFileError(
            f"{path}: model.compensation {compensation!r} is not one of {COMPENSATIONS}; {FIX_HINT}"
        )
    pair = (str(names[0]), str(names[1]))
    return ModelDescription(path, resolution, pair, output, metadata, compensation)


def _check_files_field(path: Path, files: object) -> None:
    """`files` names the ONNX and weights files beside the JSON, each with its sha256."""
    if not isinstance(files, dict):
        raise ModelFileError(f"{path} lacks the field 'files'; {FIX_HINT}")
    checksums = files.get("sha256")
    for kind in ("onnx", "weights"):
        name = files.get(kind)
        if not isinstance(name, str) or not name or Path(name).name != name:
            raise ModelFileError(
                f"{path}: files.{kind} must name a file in the same folder, got {name!r}; "
                f"{FIX_HINT}"
            )
        if not isinstance(checksums, dict) or not isinstance(checksums.get(name), str):
            raise ModelFileError(
                f"{path} records no sha256 for {name}, so it cannot be verified; {FIX_HINT}"
            )


def checked_file(json_path: Path, metadata: dict, kind: str) -> Path:
    """Path of the 'onnx' or 'weights' file of a description, verified against its sha256."""
    if kind not in ("onnx", "weights"):
        raise ValueError(f"kind={kind!r}: choose 'onnx' or 'weights'")
    path = Path(json_path).parent / metadata["files"][kind]
    if not path.is_file():
        raise ModelFileError(f"{json_path} refers to {path}, which does not exist; {FIX_HINT}")
    expected = metadata["files"]["sha256"][path.name]
    if sha256_of(path) != expected:
        raise ModelFileError(
            f"{path} does not match the sha256 recorded in {json_path}: the file is corrupt, "
            f"truncated or was replaced; {FIX_HINT}"
        )
    return path
