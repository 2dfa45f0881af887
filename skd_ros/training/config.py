"""Training configuration: one YAML file (config/train.yaml) plus command-line overrides.

Every key has a default here, so a YAML file only needs the keys it changes. Overrides use
dotted paths, e.g. `--set optim.batch_size=64 --set stage1.epochs=3`; values are parsed as
YAML scalars, so numbers, booleans and lists work as expected.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from skd_ros.quoting import cut, shown
from skd_ros.yaml_files import parse_yaml, read_yaml

if TYPE_CHECKING:  # imported when called: a config loads without torch
    from skd_ros.models.config import ModelConfig

# The built-in deep teachers' default working resolution (skd_ros.teachers.deep_nets).
DEFAULT_DEEP_INPUT_SIZE = (768, 448)
DATA_SOURCES = ("synthetic", "avs1k", "folders", "bag")


@dataclass
class DataConfig:
    """Where training and evaluation frames come from."""

    source: str = "synthetic"  # synthetic | avs1k | folders | bag
    root: str = "outputs/data/synthetic"  # dataset root, frame-folder root or bag path
    train_split: str = "trainSet"
    eval_split: str = "testSet"
    valid_split: str = "validSet"
    bag_topic: str = ""  # empty: the bag's only image topic
    bag_stride: int = 1
    eval_root: str = ""  # folders/bag sources: held-out data for evaluation
    # synthetic source only: generated on first use into `root`
    synthetic_videos: list[int] = field(default_factory=lambda: [16, 4, 8])
    synthetic_frames: int = 40
    synthetic_size: list[int] = field(default_factory=lambda: [640, 360])
    synthetic_seed: int = 1000


@dataclass
class ModelSection:
    """Shape of the students and Sst (skd_ros.models.ModelConfig)."""

    resolution: int = 64
    variant: str = "aerial"  # aerial | modify-a | modify-b
    compensation: str = "none"  # none | homography: previous input aligned to the current
    motion_input: bool = False  # temporal stream also sees |current - previous|
    init: str = ""  # fine-tune: "packaged" or an exported .json to start Sst from ("": none)


@dataclass
class TeacherConfig:
    """Which teachers supervise the students (names, or paths to models / map folders)."""

    spatial: str = "deep-spatial"
    temporal: str = "deep-temporal"
    # unlabelled data (bags): Sst's target is both teachers fused, or one of them alone
    target: str = "fused"  # fused | spatial | temporal
    stage0_epochs: int = 8  # deep teachers: epochs of training on labelled data
    stage0_lr: float = 1e-3
    stage0_batch_size: int = 16
    # deep teachers: (width, height) frames are resized to; multiples of 32
    stage0_input_size: list[int] = field(default_factory=lambda: list(DEFAULT_DEEP_INPUT_SIZE))


@dataclass
class OptimConfig:
    """Optimiser settings shared by both stages (the paper: Adam, lr 1e-3, batch 128)."""

    lr: float = 1e-3
    batch_size: int = 128  # global batch, split across processes under torchrun
    mu: float = 0.5  # weight of the soft (teacher) loss in stage 1
    seed: int = 0
    workers: int = 2  # data-loading worker processes (0: load in the main process)


@dataclass
class StageConfig:
    """Length of one stage."""

    epochs: int = 10


@dataclass
class ReportConfig:
    """What `train report` compares (it chooses runs, never changes one: free on --resume)."""

    # teachers (Tab. IV: each spatial one at every resolution; Tab. V: each alone and fused)
    spatial_teachers: list[str] = field(
        default_factory=lambda: ["deep-spatial", "spectral-residual", "fine-grained"]
    )
    temporal_teachers: list[str] = field(default_factory=lambda: ["deep-temporal", "flow"])
    # Tab. II, ground-level data: DHF1K-style folders to train on and to score on; empty:
    # synthetic ground-level (oblique) clips, `ground_videos` [train, test] of them
    ground_root: str = ""
    ground_eval_root: str = ""
    ground_videos: list[int] = field(default_factory=lambda: [16, 8])


@dataclass
class TrainConfig:
    """Everything `train run` needs."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelSection = field(default_factory=ModelSection)
    teachers: TeacherConfig = field(default_factory=TeacherConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    stage1: StageConfig = field(default_factory=StageConfig)
    stage2: StageConfig = field(default_factory=StageConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    output: str = "outputs/train"
    cache_dir: str = "outputs/cache"
    threads: int = 0  # CPU threads per process: torch's and labelling's (0: defaults)

    def validate(self) -> TrainConfig:
        """Refuse impossible settings with the key, the value and what is allowed."""
        self._validate_model()
        positive_int = "an integer >= 1"
        checks = [
            (self.data.source in DATA_SOURCES, "data.source", f"one of {DATA_SOURCES}"),
            (self.data.bag_stride >= 1, "data.bag_stride", "an integer >= 1"),
            (0.0 <= self.optim.mu <= 1.0, "optim.mu", "a number in [0, 1]"),
            (_finite_positive(self.optim.lr), "optim.lr", "a finite positive number"),
            (self.optim.batch_size >= 1, "optim.batch_size", positive_int),
            (self.optim.workers >= 0, "optim.workers", "an integer >= 0"),
            (self.stage1.epochs >= 0, "stage1.epochs", "an integer >= 0"),
            (self.stage2.epochs >= 0, "stage2.epochs", "an integer >= 0"),
            (self.teachers.stage0_epochs >= 0, "teachers.stage0_epochs", "an integer >= 0"),
            (
                self.teachers.target in TARGETS,
                "teachers.target",
                f"one of {list(TARGETS)}",
            ),
            (
                _finite_positive(self.teachers.stage0_lr),
                "teachers.stage0_lr",
                "a finite positive number",
            ),
            (self.teachers.stage0_batch_size >= 1, "teachers.stage0_batch_size", positive_int),
            (self.threads >= 0, "threads", "an integer >= 0 (0: torch's default)"),
            (
                all(isinstance(n, int) and n >= 0 for n in self.data.synthetic_videos)
                and len(self.data.synthetic_videos) == 3,
                "data.synthetic_videos",
                "[train, valid, test] video counts, integers >= 0",
            ),
            (
                _side_pair(self.data.synthetic_size),
                "data.synthetic_size",
                "[width, height], both integers in [64, 7680]",
            ),
            (_seed_ok(self.optim.seed), "optim.seed", SEED_RANGE),
            (_seed_ok(self.data.synthetic_seed), "data.synthetic_seed", SEED_RANGE),
            (
                _deep_input_size_ok(self.teachers.stage0_input_size),
                "teachers.stage0_input_size",
                "[width, height], both positive multiples of 32",
            ),
            (_names(self.report.spatial_teachers), "report.spatial_teachers", TEACHER_LIST),
            (_names(self.report.temporal_teachers), "report.temporal_teachers", TEACHER_LIST),
            (
                _int_pair(self.report.ground_videos, lambda count: count >= 1),
                "report.ground_videos",
                "[train, test] video counts, integers >= 1",
            ),
            (
                bool(self.report.ground_eval_root) or not self.report.ground_root,
                "report.ground_eval_root",
                "a held-out DHF1K-style folder to score on, since report.ground_root is set",
            ),
        ]
        for ok, key, allowed in checks:
            if not ok:
                raise ValueError(f"{key}={shown(_get(self, key))} is invalid: expected {allowed}")
        if self.data.source == "folders" and not self.data.eval_root:
            raise ValueError(  # checked now: the run scores its model only at the very end
                f"data.source={self.data.source} needs data.eval_root: a separate labelled "
                "folder to evaluate on"
            )
        return self

    def _validate_model(self) -> None:
        """The model section, checked now rather than after hours of stage 0."""
        try:
            self.model_config()
        except ValueError as error:
            raise ValueError(
                f"model (resolution={shown(self.model.resolution)}, "
                f"variant={shown(self.model.variant)}, "
                f"compensation={shown(self.model.compensation)}, "
                f"motion_input={shown(self.model.motion_input)}) is invalid: {error}"
            ) from None
        if self.model.init:
            self._check_init()

    def model_config(self) -> ModelConfig:
        """The networks' shape the `model` section names."""
        from skd_ros.models.config import ModelConfig

        m = self.model
        return ModelConfig.variant(m.variant, m.resolution, m.compensation, m.motion_input)

    def init_model(self) -> Path | None:
        """The exported model `model.init` names (None: train Sst from its students)."""
        if not self.model.init:
            return None
        if self.model.init == "packaged":
            from skd_ros.package_files import find_package_file

            found = find_package_file("resource/models", "models", PACKAGED_INIT)
            if found is None:
                raise ValueError(f"model.init=packaged: {PACKAGED_INIT} is not installed")
            return found
        return Path(self.model.init)

    def _check_init(self) -> None:
        """The model to fine-tune loads (description and weights) and has the run's shape."""
        from skd_ros.export import load_sst

        try:
            has = load_sst(self.init_model()).config
        except Exception as error:
            reason = str(error).split("; ")[0]  # the node's own fix does not apply here
            raise ValueError(
                f"model.init={shown(self.model.init)}: {reason} (give 'packaged' or an "
                "exported model .json from `train export`, next to its .safetensors)"
            ) from None
        wanted = self.model_config()
        if has != wanted:
            differ = [
                f"{key} {getattr(has, key)!r} (run: {getattr(wanted, key)!r})"
                for key in has.to_dict()
                if getattr(has, key) != getattr(wanted, key)
            ]
            raise ValueError(
                f"model.init={shown(self.model.init)} is another shape of model: "
                f"{'; '.join(differ)}; set model.resolution, model.variant, "
                "model.compensation and model.motion_input to the model's"
            )

    def to_dict(self) -> dict:
        """Plain dict, for logs and exported metadata."""
        return dataclasses.asdict(self)


def _finite_positive(value: float) -> bool:
    return math.isfinite(value) and value > 0


SEED_RANGE = "an integer in [0, 2**32)"
PACKAGED_INIT = "sst_demo.json"  # model.init=packaged: the packaged fp32 weights
TEACHER_LIST = "a non-empty list of teacher names or paths"
TARGETS = ("fused", "spatial", "temporal")


def _names(names: Any) -> bool:
    return isinstance(names, list) and bool(names) and all(isinstance(n, str) and n for n in names)


def _seed_ok(seed: Any) -> bool:
    return isinstance(seed, int) and 0 <= seed < 2**32


def _side_pair(size: Any) -> bool:
    from skd_ros.data.layout import MAX_SIDE
    from skd_ros.data.synthetic import MIN_SIDE

    return _int_pair(size, lambda side: MIN_SIDE <= side <= MAX_SIDE)


def _deep_input_size_ok(size: Any) -> bool:
    return _int_pair(size, lambda side: side >= 32 and side % 32 == 0)


def _int_pair(size: Any, side_ok) -> bool:
    """[width, height]: two integers (not booleans), each accepted by `side_ok`."""
    return (
        isinstance(size, (list, tuple))
        and len(size) == 2
        and all(isinstance(s, int) and not isinstance(s, bool) and side_ok(s) for s in size)
    )


def load_config(path: Path | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """Defaults, updated from the YAML file at `path`, then from `key=value` overrides."""
    config = TrainConfig()
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"training config {path} does not exist")
        data = read_yaml(path, "YAML training config") or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a mapping of sections at the top level")
        _update(config, data, str(path))
    for item in overrides or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"override {shown(item)} is not of the form section.key=value")
        key = key.strip()
        if _is_text(config, key):  # a path as typed: YAML would read 0755, 12:30 as numbers
            _set(config, key, value.strip())
            continue
        try:
            parsed = parse_yaml(value)
        except yaml.YAMLError as error:
            raise ValueError(
                f"override {shown(item)}: the value is not valid YAML ({error})"
            ) from None
        _set(config, key, parsed)
    return config.validate()


def _update(target: Any, data: dict, where: str) -> None:
    for key, value in data.items():
        _set(target, str(key), value, where)


def _set(target: Any, dotted: str, value: Any, where: str = "override", section: str = "") -> None:
    """Set `dotted` (relative to `target`, which is the config's `section`) to `value`."""
    full_key = f"{section}{dotted}"  # the key as written from the top, for messages
    *parents, name = dotted.split(".")
    for part in parents:
        target = _field(target, part, full_key, where)
    current = _field(target, name, full_key, where)
    if dataclasses.is_dataclass(current):
        if not isinstance(value, dict):
            raise ValueError(f"{where}: {full_key} is a section; give it a mapping")
        for key, sub in value.items():
            _set(current, str(key), sub, where, f"{full_key}.")
        return
    setattr(target, name, _coerce(current, value, full_key, where))


def _field(target: Any, name: str, dotted: str, where: str) -> Any:
    if not dataclasses.is_dataclass(target):
        section = dotted[: dotted.rindex("." + name)] if "." + name in dotted else dotted
        raise ValueError(
            f"{where}: {cut(section)} is a value, not a section: it has no key {shown(name)}"
        )
    names = {f.name for f in dataclasses.fields(target)}
    if name not in names:
        raise ValueError(f"{where}: unknown key {shown(dotted)}; known here: {sorted(names)}")
    return getattr(target, name)


def _coerce(current: Any, value: Any, dotted: str, where: str) -> Any:
    if isinstance(current, bool) or current is None:
        return value
    if isinstance(value, bool):  # YAML's true/false are ints to Python: not a count
        raise ValueError(
            f"{where}: {dotted}={shown(value)} should be {type(current).__name__} like {current!r}"
        )
    if isinstance(current, float) and isinstance(value, int):
        return float(value)
    if isinstance(current, float) and isinstance(value, str):
        with contextlib.suppress(ValueError):  # YAML 1.1 reads 1e-3 (no dot) as a string
            return float(value)
    if isinstance(current, str) and isinstance(value, (int, float, datetime.date)):
        return str(value)  # a folder named 2024 or 2024-01-01 is still a path
    if isinstance(current, list) and isinstance(value, list):
        return value
    if not isinstance(value, type(current)):
        raise ValueError(
            f"{where}: {dotted}={shown(value)} should be {type(current).__name__} like {current!r}"
        )
    return value


def _is_text(config: TrainConfig, dotted: str) -> bool:
    try:
        return isinstance(_get(config, dotted), str)
    except AttributeError:  # an unknown key: `_set` names it
        return False


def _get(config: TrainConfig, dotted: str) -> Any:
    value: Any = config
    for part in dotted.split("."):
        value = getattr(value, part)
    return value
