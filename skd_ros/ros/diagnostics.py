"""The node's `/diagnostics` status (diagnostic_msgs/DiagnosticArray) from its counters.

Level: OK while frames flow; WARN when frames were rejected or dropped since the last report,
or when no frame arrived for a while; ERROR when frames failed in processing (a node or model
problem, not the camera's); the message says which. Values carry the rates,
latency percentiles, counts, and the rejection and reset causes.
"""

from __future__ import annotations

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

from skd_ros.ros.environment import PROFILE_VARIABLES, fastdds_generation
from skd_ros.ros.stats import Snapshot

PROCESSING_ERROR = "processing error"  # the rejection cause of a frame the node failed on
# rejection causes of messages that never became a frame: one arrived but could not be
# deserialized (truncated); one was reported lost on the shared-memory profile (empty)
UNREADABLE = "unreadable message"
UNDELIVERED = "undelivered message"
STALL_AFTER_S = 1.0  # one item taking this long explains a silence better than QoS does
SHM_SEGMENT = "32 MB"  # the packaged profile's segment_size


def stall_hint(busy: tuple[str, float, str] | None) -> str | None:
    """Why no frame arrives when the node's own numbers say it: a thread of the node has
    been on one frame for long (`NodeStats.longest_busy`); None when none has."""
    if busy is None or busy[1] < STALL_AFTER_S:
        return None
    role, seconds, what = busy
    return (
        f"This node is busy, not starved: its {role} has spent {seconds:.1f} s on {what} "
        "(frames wait behind it), so QoS and transport are not the cause; look at that "
        "frame's size and the node's CPU (README, 'Numbers')"
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
        "(README, 'Transport')"
    )


TRANSPORT_LOSS_HINT = (
    "large images over Fast DDS's default transports lose fragments (use the shared-memory "
    "profile, README 'Transport'), and an image larger than the profile's segment_size "
    f"({SHM_SEGMENT}) cannot pass through it (raise segment_size)"
)
# what the middleware reports lost on the shared-memory profile, where large images pass
UNDELIVERED_HINT = (
    "on this node's shared-memory profile that is a message the middleware could not "
    "deliver: an empty or malformed serialized message, or an image larger than its "
    f"{SHM_SEGMENT} segment_size (raise segment_size, README 'Transport')"
)


# below this share of the input period spent processing, drops come from bursts, not speed
BUSY_SHARE = 0.7


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


def status_level(current: Snapshot, previous: Snapshot | None, state: str) -> tuple[bytes, str]:
    """(level, message) for a snapshot, judged against the previous report."""
    if state != "active":
        return DiagnosticStatus.OK, f"{state}: not processing"
    before = previous or Snapshot(0.0, 0.0, {}, {}, 0, 0, 0, 0)
    problems = []
    failed = current.rejected.get(PROCESSING_ERROR, 0) - before.rejected.get(PROCESSING_ERROR, 0)
    rejected = sum(current.rejected.values()) - sum(before.rejected.values()) - failed
    if failed:
        problems.append(f"{failed} frame(s) failed in processing (the log says why)")
    if rejected:
        problems.append(f"{rejected} malformed frame(s) rejected")
    dropped, lost = current.dropped - before.dropped, current.lost - before.lost
    if dropped:
        problems.append(f"{dropped} frame(s) dropped ({drop_cause(current)})")
    if lost:
        problems.append(f"{lost} frame(s) lost in transport")
    if current.received == 0:
        problems.append("no input yet")
    elif current.seconds_since_input is not None and current.seconds_since_input > 2.0:
        problems.append(f"no input for {current.seconds_since_input:.1f} s")
    if problems:
        level = DiagnosticStatus.ERROR if failed else DiagnosticStatus.WARN
        return level, "; ".join(problems)
    return DiagnosticStatus.OK, f"processing at {current.output_hz:.1f} Hz"


def diagnostic_array(
    stamp,
    name: str,
    snapshot: Snapshot,
    previous: Snapshot | None,
    state: str,
    extra: dict[str, str] | None = None,
) -> DiagnosticArray:
    """One DiagnosticStatus named `name` (e.g. 'saliency_node: saliency') in an array."""
    level, message = status_level(snapshot, previous, state)
    values = {
        "state": state,
        "input rate (Hz)": f"{snapshot.input_hz:.2f}",
        "output rate (Hz)": f"{snapshot.output_hz:.2f}",
        **{f"latency {k} (ms)": f"{v:.3f}" for k, v in snapshot.latency_ms.items()},
        **{f"cpu per frame {k} (ms)": f"{v:.3f}" for k, v in snapshot.cpu_ms.items()},
        "frames received": str(snapshot.received),
        "frames published": str(snapshot.published),
        "frames dropped": str(snapshot.dropped),
        "frames lost in transport": str(snapshot.lost),
        "frames rejected": str(sum(snapshot.rejected.values())),
        **{f"rejected: {cause}": str(n) for cause, n in sorted(snapshot.rejected.items())},
        **{f"pair reset: {cause}": str(n) for cause, n in sorted(snapshot.resets.items())},
        **(extra or {}),
    }
    status = DiagnosticStatus(
        level=level,
        name=name,
        message=message,
        hardware_id="",
        values=[KeyValue(key=k, value=v) for k, v in values.items()],
    )
    array = DiagnosticArray()
    array.header.stamp = stamp
    array.status = [status]
    return array
