"""What the saliency node tells its user when frames do not flow: each text and its logic.

No frames although publishers exist (a stalled node, incompatible QoS, or frames lost in
transport), frames the middleware lost or could not deliver, frames dropped because newer
ones came first, a model that does not load, and start-up parameters or QoS overrides that
match nothing. Every text names the likely cause and the fix (docs/ sections in quotes),
so the log alone is enough to act on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from skd_ros.ros.environment import PROFILE_VARIABLES, fastdds_generation, shm_profile_in_use
from skd_ros.ros.stats import Snapshot

if TYPE_CHECKING:  # rclpy only where a QoS is judged: `diagnostics` needs none of it
    from rclpy.qos import QoSProfile

STALL_AFTER_S = 1.0  # one item taking this long explains a silence better than QoS does
SHM_SEGMENT = "32 MB"  # the packaged profile's segment_size
# below this share of the input period spent processing, drops come from bursts, not speed
BUSY_SHARE = 0.7

TRANSPORT_LOSS_HINT = (
    "large images over Fast DDS's default transports lose fragments (use the shared-memory "
    "profile, docs/node.md 'Transport'), and an image larger than the profile's segment_size "
    f"({SHM_SEGMENT}) cannot pass through it (raise segment_size)"
)
# what the middleware reports lost on the shared-memory profile, where large images pass
UNDELIVERED_HINT = (
    "on this node's shared-memory profile that is a message the middleware could not "
    "deliver: an empty or malformed serialized message, or an image larger than its "
    f"{SHM_SEGMENT} segment_size (raise segment_size, docs/node.md 'Transport')"
)


def stall_hint(busy: tuple[str, float, str] | None) -> str | None:
    """Why no frame arrives when the node's own numbers say it: a thread of the node has
    been on one frame for long (`NodeStats.longest_busy`); None when none has."""
    if busy is None or busy[1] < STALL_AFTER_S:
        return None
    role, seconds, what = busy
    return (
        f"This node is busy, not starved: its {role} has spent {seconds:.1f} s on {what} "
        "(frames wait behind it), so QoS and transport are not the cause; look at that "
        "frame's size and the node's CPU (docs/tools.md, 'Numbers')"
    )


def silence_hint(shared_memory: bool) -> str:
    """What a silence with compatible QoS can mean on the node's transport."""
    if shared_memory:
        return (
            "so either the camera has not sent a frame yet, or what it sends never reaches a "
            "subscriber: on this node's shared-memory profile large images pass (up to its "
            f"{SHM_SEGMENT} segment_size), but an empty serialized message is dropped before "
            "any callback; check what the camera publishes"
        )
    variable = PROFILE_VARIABLES.get(
        fastdds_generation(), f"{PROFILE_VARIABLES[3]} ({PROFILE_VARIABLES[2]} on Humble, Jazzy)"
    )
    return (
        "so either the camera has not sent a frame yet, or its frames are being lost in "
        "transport (large images over Fast DDS's default transports); for the latter, start "
        f"the camera and this node with {variable}=<share/skd_ros/config/fastdds_shm.xml> "
        "(docs/node.md, 'Transport')"
    )


def qos_compatibility(publishers, ours: QoSProfile, topic: str) -> str:
    """Whether the publishers' QoS can reach our subscription, and what to do about it."""
    from rclpy.qos import DurabilityPolicy, ReliabilityPolicy

    problems = []
    for info in publishers:
        offered = info.qos_profile
        if (
            ours.reliability == ReliabilityPolicy.RELIABLE
            and offered.reliability == ReliabilityPolicy.BEST_EFFORT
        ):
            problems.append(f"{info.node_name} is BEST_EFFORT but we require RELIABLE")
        if (
            ours.durability == DurabilityPolicy.TRANSIENT_LOCAL
            and offered.durability == DurabilityPolicy.VOLATILE
        ):
            problems.append(f"{info.node_name} is VOLATILE but we require TRANSIENT_LOCAL")
    if problems:
        return (
            "QoS INCOMPATIBLE: " + "; ".join(problems) + ". Override ours with --ros-args -p "
            f"qos_overrides.{topic}.subscription.reliability:=best_effort (or change the camera's)"
        )
    return f"QoS is compatible, {silence_hint(shm_profile_in_use(generation=fastdds_generation()))}"


def no_frames_warning(
    topic: str,
    after_s: float,
    publishers,
    ours: QoSProfile,
    busy: tuple[str, float, str] | None,
) -> str:
    """The "no frame for a while" warning: a stalled node first (then QoS is not the cause),
    else what each publisher offers against what this node asks for, and what that means."""
    silence = f"no frame on {topic} for {after_s:g} s although it has "
    if stalled := stall_hint(busy):
        return f"{silence}{len(publishers)} publisher(s). {stalled}"
    offered = ", ".join(
        f"{p.node_namespace.rstrip('/')}/{p.node_name} ({p.qos_profile.reliability.name}, "
        f"{p.qos_profile.durability.name})"
        for p in publishers
    )
    return (
        f"{silence}{len(publishers)} publisher(s): {offered}. This node subscribes with "
        f"{ours.reliability.name}/{ours.durability.name}, depth {ours.depth}. "
        f"{qos_compatibility(publishers, ours, topic)}"
    )


def incompatible_qos_error(topic: str, policy: str) -> str:
    """A publisher on the input asks for QoS our subscription cannot match, and the fix."""
    return (
        f"a publisher on {topic} offers QoS incompatible with this "
        f"subscription (policy {policy}): no frames will arrive from it. Override ours, e.g. "
        f"--ros-args -p qos_overrides.{topic}.subscription.reliability:="
        "best_effort, or change the camera's"
    )


def messages_lost_warning(topic: str, count: int, total: int, shared_memory: bool) -> str:
    """Messages the middleware reports lost before any callback: on the shared-memory
    profile undeliverable ones (malformed, or over the segment), else lost in transport."""
    said = f"{count} message(s) from {topic} never reached this node"
    said += f" ({total} in all)"
    if shared_memory:
        return f"{said}: {UNDELIVERED_HINT}"
    return f"{said}, lost in transport: {TRANSPORT_LOSS_HINT}"


def drop_cause(snapshot: Snapshot) -> str:
    """Why frames were replaced before the worker got to them, as the numbers say: the work
    per frame against the input period (a steady camera at 30 Hz leaves 33 ms a frame)."""
    work_ms = max(snapshot.cpu_ms.get("p50", 0.0), 0.0)
    if snapshot.input_hz <= 0 or work_ms <= 0:
        return "a newer frame arrived before the last was processed"
    period_ms = 1000.0 / snapshot.input_hz
    if work_ms < BUSY_SHARE * period_ms:
        return (
            f"frames arrive in bursts: processing takes {work_ms:.1f} ms of the "
            f"{period_ms:.1f} ms input period, so frames arriving closer together than that "
            "replace each other (a driver or transport batching frames, replay faster than "
            "recorded); only the newest of a burst is processed"
        )
    return (
        f"inference slower than input: {work_ms:.1f} ms per frame against a "
        f"{period_ms:.1f} ms input period (lower the camera rate, or set `threads`)"
    )


def model_error(error: Exception) -> str:
    """The model did not load; the error (model files, backends) carries its own advice."""
    return f"cannot load the model: {error}"


def unknown_parameters_warning(names: list[str]) -> str:
    """Start-up values for parameters this node does not have: most likely typos."""
    return (
        f"ignored start-up parameter(s) this node does not have: {', '.join(names)} "
        "(misspelled? `ros2 run skd_ros saliency_node --help` lists every parameter)"
    )


def unmatched_qos_overrides_warning(names: list[str]) -> str:
    """`qos_overrides.*` values that match none of this node's topics and policies."""
    return (
        f"ignored QoS override(s) that match no topic and policy of this node: "
        f"{', '.join(names)} (overridable: reliability, history, depth of the input "
        "and of saliency, saliency/peaks, saliency/detections, saliency/peak; docs/node.md, "
        "'QoS')"
    )
