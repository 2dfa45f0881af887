"""The node's `/diagnostics` status (diagnostic_msgs/DiagnosticArray) from its counters.

Level: OK while frames flow; WARN when frames were rejected or dropped since the last report,
or when no frame arrived for a while; ERROR when frames failed in processing (a node or model
problem, not the camera's); the message says which. Values carry the rates,
latency percentiles, counts, and the rejection and reset causes.
"""

from __future__ import annotations

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

from skd_ros.ros.hints import drop_cause
from skd_ros.ros.stats import Snapshot

PROCESSING_ERROR = "processing error"  # the rejection cause of a frame the node failed on
# rejection causes of messages that never became a frame: one arrived but could not be
# deserialized (truncated); one was reported lost on the shared-memory profile (empty)
UNREADABLE = "unreadable message"
UNDELIVERED = "undelivered message"


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
