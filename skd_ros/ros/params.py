"""The saliency node's parameters: names, defaults, ranges, descriptions, checks.

This table is the single definition; `config/saliency.yaml` repeats every default with a
comment (a test keeps the two equal), and the node declares each parameter up front with a
`ParameterDescriptor` built from it. `check(name, value)` is what the node's
set-parameters callback runs: a bad value is refused with the reason.

`applies` says when a change takes effect: "runtime" at once (thresholds, outputs),
"activate" at the next activation, "configure" at the next configuration (the model and its
backend), "startup" only at start-up (read-only).
"""

from __future__ import annotations

from dataclasses import dataclass

from skd_ros.markdown import table
from skd_ros.quoting import shown

Value = bool | int | float | str


@dataclass(frozen=True)
class Spec:
    """One parameter."""

    name: str
    default: Value
    description: str
    limits: tuple[float, float] | None = None  # inclusive range for int and float
    choices: tuple[str, ...] | None = None
    applies: str = "runtime"
    renamed_to: str | None = None  # a deprecated old name: its value is used for this one

    @property
    def read_only(self) -> bool:
        return self.applies == "startup"


SPECS: tuple[Spec, ...] = (
    Spec(
        "autostart",
        True,
        "configure and activate at start-up, so a plain `ros2 run` works; false leaves the "
        "node unconfigured for a lifecycle manager",
        applies="startup",
    ),
    Spec(
        "model",
        "",
        "exported model description (.json next to its .onnx and .safetensors); empty: "
        "the packaged default share/skd_ros/models/sst_demo_int8.json",
        applies="configure",
    ),
    Spec(
        "backend",
        "onnxruntime",
        "inference runtime: onnxruntime (no torch needed) or torch",
        choices=("onnxruntime", "torch"),
        applies="configure",
    ),
    Spec("device", "cpu", "cpu or cuda", choices=("cpu", "cuda"), applies="configure"),
    Spec("threads", 1, "inference threads", limits=(1, 64), applies="configure"),
    Spec(
        "image_transport",
        "raw",
        "raw: sensor_msgs/Image on `image`; compressed: sensor_msgs/CompressedImage (JPEG or "
        "PNG) on `<image>/compressed` (image_transport's transport names)",
        choices=("raw", "compressed"),
        applies="activate",
    ),
    Spec(
        "input_type",
        "",
        "deprecated, removed in the next release: the old name of image_transport (a value "
        "given here is used for image_transport, with a warning)",
        choices=("", "raw", "compressed"),
        applies="activate",
        renamed_to="image_transport",
    ),
    Spec(
        "max_gap_s",
        1.0,
        "a longer gap between consecutive stamps restarts the frame pair (the first frame "
        "after it pairs with itself)",
        limits=(0.001, 3600.0),
    ),
    Spec(
        "output.encoding",
        "mono8",
        "saliency map encoding: mono8 (0-255) or 32FC1 (0.0-1.0)",
        choices=("mono8", "32FC1"),
    ),
    Spec(
        "output.resolution",
        "model",
        "saliency map size: model (e.g. 64x64, cheapest) or input (the camera's size)",
        choices=("model", "input"),
    ),
    Spec(
        "peaks.threshold",
        0.2,
        "map value a pixel needs to belong to a salient region",
        limits=(0.0, 1.0),
    ),
    Spec(
        "peaks.relative_threshold",
        0.5,
        "a region pixel also needs this fraction of the map's maximum (adapts to weak maps, "
        "separates nearby targets); 0 disables",
        limits=(0.0, 1.0),
    ),
    Spec("peaks.max_regions", 10, "at most this many regions, best first", limits=(1, 100)),
    Spec(
        "peaks.nms_iou",
        0.3,
        "a region whose box overlaps a better one by more than this IoU is dropped",
        limits=(0.0, 1.0),
    ),
    Spec(
        "tracking.max_age_s",
        0.5,
        "a region's id survives this long (stamp time) without the region, so a target missed "
        "for a frame or two keeps its id",
        limits=(0.0, 3600.0),
    ),
    Spec(
        "tracking.max_shift",
        1.0,
        "a region farther than this many box sizes from a track's predicted box, and not "
        "overlapping it, is not that track's target (it gets a new id)",
        limits=(0.0, 100.0),
    ),
    Spec("markers.enabled", False, "publish saliency/markers (MarkerArray) for RViz"),
    Spec(
        "markers.depth_m",
        1.0,
        "distance of the marker picture plane in front of the camera, metres",
        limits=(0.01, 1000.0),
    ),
    Spec(
        "markers.metres_per_pixel",
        0.001,
        "size of one image pixel on the marker picture plane, metres (without camera_info: "
        "with it, the markers are placed by the camera's intrinsics)",
        limits=(1e-6, 1.0),
    ),
    Spec("overlay.enabled", False, "publish saliency/overlay: the frame with map and boxes"),
    Spec("overlay.alpha", 0.45, "weight of the heat map in the overlay", limits=(0.0, 1.0)),
    Spec(
        "diagnostics.period_s",
        1.0,
        "period of the /diagnostics status",
        limits=(0.1, 60.0),
        applies="configure",
    ),
    Spec(
        "qos_hint_after_s",
        5.0,
        "warn (with a QoS / transport hint) when no frame arrived for this long while the "
        "topic has publishers",
        limits=(0.5, 600.0),
        applies="activate",
    ),
    Spec(
        "warn_throttle_s",
        10.0,
        "repeat a warning of one cause (e.g. a malformed frame) at most this often",
        limits=(0.0, 3600.0),
    ),
)
BY_NAME = {spec.name: spec for spec in SPECS}
RENAMED = {spec.name: spec.renamed_to for spec in SPECS if spec.renamed_to}


def renamed_warning(old: str, value: Value) -> str:
    """The deprecation warning for a value given under a parameter's old name."""
    new = RENAMED[old]
    return (
        f"parameter {old} is deprecated and will be removed in the next release: use {new} "
        f"(ROS's image_transport name); {old}:={value} is applied as {new}:={value}"
    )


class StartupError(ValueError):
    """A start-up parameter value (`-p`, params file) that the node refuses."""

    def __init__(self, spec: Spec, error: Exception) -> None:
        text = str(error).removesuffix(f": {spec.name}")  # rclpy appends the name
        text = text.split("Reason: ", 1)[-1]  # our own check's reason, when it refused
        hint = ""
        if isinstance(spec.default, float) and "expecting type" in text:
            hint = "; ROS 2 parameters are typed: write floats with a decimal point, e.g. 1.0"
        super().__init__(f"parameter {spec.name}: {text} (default {spec.default!r}{hint})")


def check(name: str, value: object) -> str | None:
    """Why `value` is refused for parameter `name`, or None if it is acceptable."""
    spec = BY_NAME.get(name)
    if spec is None:
        return None  # not ours (use_sim_time, qos_overrides.*): rclpy checks those
    kind = type(spec.default)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if type(value) is not kind:
        hint = " (write floats with a decimal point, e.g. 1.0)" if kind is float else ""
        return f"{name} must be a {kind.__name__}, got {type(value).__name__} {shown(value)}{hint}"
    if spec.choices is not None and value not in spec.choices:
        return f"{name}={shown(value)} is not one of {list(spec.choices)}"
    if spec.limits is not None and not spec.limits[0] <= value <= spec.limits[1]:
        low, high = spec.limits
        return f"{name}={shown(value)} is outside [{low:g}, {high:g}]"
    return None


def descriptor(spec: Spec):
    """The rcl_interfaces ParameterDescriptor (with range) that declares `spec`."""
    from rcl_interfaces.msg import (
        FloatingPointRange,
        IntegerRange,
        ParameterDescriptor,
        ParameterType,
    )

    types = {
        bool: ParameterType.PARAMETER_BOOL,
        int: ParameterType.PARAMETER_INTEGER,
        float: ParameterType.PARAMETER_DOUBLE,
        str: ParameterType.PARAMETER_STRING,
    }
    constraints = {"runtime": "changes apply at once"}.get(
        spec.applies, f"changes apply at the next {spec.applies}"
    )
    if spec.choices:
        constraints = f"one of {list(spec.choices)}; {constraints}"
    result = ParameterDescriptor(
        name=spec.name,
        type=types[type(spec.default)],
        description=spec.description,
        additional_constraints=constraints,
        read_only=spec.read_only,
    )
    if spec.limits is not None and isinstance(spec.default, float):
        low, high = spec.limits
        result.floating_point_range = [FloatingPointRange(from_value=low, to_value=high, step=0.0)]
    elif spec.limits is not None:
        low, high = (int(v) for v in spec.limits)
        result.integer_range = [IntegerRange(from_value=low, to_value=high, step=1)]
    return result


@dataclass(frozen=True)
class Settings:
    """The values the worker reads for every frame (replaced whole on a change)."""

    output_encoding: str
    output_resolution: str
    threshold: float
    relative_threshold: float
    max_regions: int
    nms_iou: float
    tracking_max_age_s: float
    tracking_max_shift: float
    markers: bool
    markers_depth_m: float
    markers_metres_per_pixel: float
    overlay: bool
    overlay_alpha: float
    warn_throttle_s: float
    max_gap_s: float

    @classmethod
    def from_values(cls, values: dict[str, Value]) -> Settings:
        return cls(
            output_encoding=str(values["output.encoding"]),
            output_resolution=str(values["output.resolution"]),
            threshold=float(values["peaks.threshold"]),
            relative_threshold=float(values["peaks.relative_threshold"]),
            max_regions=int(values["peaks.max_regions"]),
            nms_iou=float(values["peaks.nms_iou"]),
            tracking_max_age_s=float(values["tracking.max_age_s"]),
            tracking_max_shift=float(values["tracking.max_shift"]),
            markers=bool(values["markers.enabled"]),
            markers_depth_m=float(values["markers.depth_m"]),
            markers_metres_per_pixel=float(values["markers.metres_per_pixel"]),
            overlay=bool(values["overlay.enabled"]),
            overlay_alpha=float(values["overlay.alpha"]),
            warn_throttle_s=float(values["warn_throttle_s"]),
            max_gap_s=float(values["max_gap_s"]),
        )


def usage() -> str:
    """`saliency_node --help`: how to run it and every parameter with its default."""
    lines = [
        "usage: ros2 run skd_ros saliency_node --ros-args [-r image:=<camera topic>] "
        "[-p <parameter>:=<value> ...] [--params-file <yaml>]",
        "",
        "Subscribes `image` (sensor_msgs/Image, or <image>/compressed with "
        "image_transport:=compressed) and its sibling `camera_info` and publishes `saliency`,",
        "`saliency/camera_info`, `saliency/peaks`, `saliency/detections` (with vision_msgs), "
        "`saliency/peak`,",
        "`saliency/markers`, `saliency/overlay` and /diagnostics (docs/node.md).",
        "",
        "parameters (default; when a change applies):",
    ]
    for spec in SPECS:
        applies = "at once" if spec.applies == "runtime" else f"next {spec.applies}"
        lines.append(f"  {spec.name} ({spec.default!r}; {applies}): {spec.description}")
    return "\n".join(lines)


def markdown_table() -> str:
    """Every parameter as the Markdown table of docs/node.md, which is generated from it."""
    rows = []
    for spec in SPECS:
        default = "`" + _yaml_value(spec.default) + "`"
        allowed = ""
        if spec.choices is not None:
            allowed = ", ".join(f"`{choice}`" if choice else '`""`' for choice in spec.choices)
        elif spec.limits is not None:
            allowed = f"{spec.limits[0]:g} to {spec.limits[1]:g}"
        elif isinstance(spec.default, bool):
            allowed = "`true`, `false`"
        applies = "at once" if spec.applies == "runtime" else f"next {spec.applies}"
        if spec.applies == "startup":
            applies = "start-up only"
        rows.append([f"`{spec.name}`", default, allowed, applies, spec.description])
    return table(["parameter", "default", "allowed", "applies", "what"], rows, "lllll")


def _yaml_value(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f'"{value}"' if value == "" else str(value)
