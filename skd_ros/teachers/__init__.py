"""Teachers: the large models whose maps the students learn from (docs/method.md).

`build_teacher(spec, **options)` picks one by name or path:

| spec | teacher | kind |
|---|---|---|
| `spectral-residual` | OpenCV spectral residual static saliency | spatial |
| `fine-grained` | OpenCV fine-grained static saliency | spatial |
| `flow` | ego-motion-compensated DIS optical flow | temporal |
| `deep-spatial`, `deep-temporal` | built-in deep nets, `weights=<file.json>` | as named |
| `<file>.json` | a saved built-in deep teacher | from the file |
| `<file>.pt`, `.ts` | a TorchScript model (`kind=`, `size=` options) | spatial by default |
| `<file>.onnx` | an ONNX model (kind from its channel count) | from the model |
| `<folder>/` | precomputed maps `<folder>/<video>/<frame>.png` (`kind=`) | spatial by default |

Options can also ride on the spec, for config files and the command line:
`model.onnx?size=384x224`, `maps/?kind=temporal`, `flow?width=960`.
"""

from __future__ import annotations

from pathlib import Path

from skd_ros.teachers.base import DEEP_NAMES, Teacher, fuse, identity, min_max
from skd_ros.teachers.classical import CLASSICAL_NAMES, classical_teacher

BUILTIN_NAMES = (*CLASSICAL_NAMES, *DEEP_NAMES)

__all__ = [
    "BUILTIN_NAMES",
    "Teacher",
    "build_teacher",
    "fuse",
    "identity",
    "min_max",
    "parse_spec",
]


def _value(text: str):
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def parse_spec(spec: str) -> tuple[str, dict]:
    """'model.onnx?size=384x224&threads=2' -> ('model.onnx', {'size': '384x224', 'threads': 2})."""
    base, sep, query = str(spec).partition("?")
    options = {}
    if sep:
        for item in filter(None, query.split("&")):
            key, eq, value = item.partition("=")
            if not eq or not key:
                raise ValueError(f"teacher option {item!r} in {spec!r} is not key=value")
            options[key.strip()] = _value(value.strip())
    return base, options


def build_teacher(spec: str | Path, **options) -> Teacher:
    """A teacher by built-in name or by path (see the module docstring for the choices)."""
    base, spec_options = parse_spec(str(spec))
    options = {**spec_options, **options}
    if base in CLASSICAL_NAMES:
        return classical_teacher(base, **options)
    if base in DEEP_NAMES:
        weights = options.pop("weights", None)
        if weights is None:
            raise ValueError(
                f"{base} needs trained weights: pass weights=<file.json> (stage 0 writes "
                f"<run>/teachers/{base}.json; skd_ros.teachers.deep.train_deep_teacher makes one)"
            )
        return _deep(Path(weights), expected=base.removeprefix("deep-"), **options)
    path = Path(base)
    if path.is_dir():
        from skd_ros.teachers.precomputed import PrecomputedTeacher

        return PrecomputedTeacher(path, **options)
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _deep(path, **options)
    from skd_ros.teachers.external import ONNX_SUFFIXES, TORCHSCRIPT_SUFFIXES, external_teacher

    if suffix in ONNX_SUFFIXES + TORCHSCRIPT_SUFFIXES:
        if not path.is_file():
            raise FileNotFoundError(f"teacher model {path} does not exist")
        return external_teacher(path, **options)
    choices = (
        f"choose one of {', '.join(BUILTIN_NAMES)}, or give the path of a .json (built-in deep "
        "teacher), .onnx or .pt/.ts (TorchScript) model, or of a folder of precomputed maps"
    )
    if suffix == ".pt2":
        raise ValueError(
            f"{path}: torch.export .pt2 files are not accepted (torch.export.load may unpickle "
            "arbitrary objects); export the teacher to ONNX (torch.onnx.export) instead"
        )
    if path.exists():
        raise ValueError(
            f"teacher {base!r}: {suffix or 'a file without suffix'} is not a "
            f"model format; {choices}"
        )
    if "/" in base or suffix:
        raise FileNotFoundError(f"teacher {base!r}: {path} does not exist; {choices}")
    raise ValueError(f"unknown teacher {base!r}; {choices}")


def _deep(path: Path, expected: str | None = None, device: str = "cpu"):
    from skd_ros.teachers.deep import load_deep_teacher

    teacher = load_deep_teacher(path, device)
    if expected is not None and teacher.kind != expected:
        raise ValueError(f"{path} holds a {teacher.kind} teacher, not a {expected} one")
    return teacher
