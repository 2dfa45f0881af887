"""The node's per-frame work in one process, paced like a camera: what idle gaps cost this host.

`measure` reports the node's CPU per frame at each input rate. On this kind of machine (a
shared, virtualised host) the same work costs more when it follows an idle gap: while a
core waits for the next frame, other tenants run on it and evict its caches, TLB entries and
branch history, so the next frame starts cold. The size of that penalty depends on the host
and on what else runs on it at the moment, not on the node.

This module measures it on the node's own per-frame path, without ROS transport or threads:
deserialize the camera message (the middleware's take), check it and reduce it with R, run
Sst with the previous frame, find the peak regions, and build the output messages. Run back
to back (hot caches) and paced at a camera rate (an idle gap before every frame), in the
same run as the node, it shows how much of the node's cost at a low rate is the host's
idle-gap penalty rather than the node's work.
"""

from __future__ import annotations

import time

from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import Image

from skd_ros.cli_args import add_size_option, positive_float, positive_int
from skd_ros.images.messages import camera_frame
from skd_ros.inference.engine import SaliencyEngine, SaliencyStream
from skd_ros.inference.peaks import find_regions
from skd_ros.logs import setup_logging
from skd_ros.markdown import table
from skd_ros.ros import messages
from skd_ros.ros.environment import settle_runtime


class PacedReference:
    """The node's per-frame path for one camera message, timed in this thread."""

    def __init__(self, message: Image, model: str | None = None, threads: int = 1) -> None:
        self._serialized = serialize_message(message)
        self._stream = SaliencyStream(SaliencyEngine(model, threads=threads), max_gap_s=1e9)
        self._frame()  # warm-up: first-call allocations are not what we measure
        settle_runtime()  # the node's own runtime settings

    def _frame(self) -> None:
        msg = deserialize_message(self._serialized, Image)
        frame = camera_frame(msg)
        model_input = frame.model_input(self._stream.engine.resolution)
        result = self._stream.step(model_input, 1, frame.frame_format)
        regions = find_regions(result.saliency, (frame.width, frame.height))
        messages.saliency_image(msg.header, result.saliency, "mono8", None)
        messages.regions_cloud(msg.header, regions)
        if len(regions):
            messages.top_peak(msg.header, regions)

    def cpu_ms_per_frame(self, frames: int, rate_hz: float | None = None) -> float:
        """Mean thread CPU ms per frame over `frames` frames, one every 1/`rate_hz` s
        (sleeping in between), or back to back when `rate_hz` is None."""
        period = 1.0 / rate_hz if rate_hz else 0.0
        total_ns = 0
        start = time.perf_counter()
        for index in range(frames):
            due = start + index * period
            if (delay := due - time.perf_counter()) > 0:
                time.sleep(delay)
            cpu_start = time.thread_time_ns()
            self._frame()
            total_ns += time.thread_time_ns() - cpu_start
        return total_ns / 1e6 / max(frames, 1)


def main(argv: list[str] | None = None) -> int:
    """Print the per-frame cost of the node's path against the idle gap before each frame."""
    setup_logging()
    import argparse

    from skd_ros.tools.frames import synthetic_frame
    from skd_ros.tools.probe import bgr8_message

    parser = argparse.ArgumentParser(prog="paced_reference", description=main.__doc__)
    parser.add_argument("--rates", type=positive_float, nargs="+", default=[500, 200, 100, 50, 30])
    parser.add_argument("--frames", type=positive_int, default=150, help="per rate (default 150)")
    add_size_option(parser, (1280, 720))
    parser.add_argument("--model", help="exported model .json (default: packaged)")
    args = parser.parse_args(argv)
    reference = PacedReference(bgr8_message(synthetic_frame(*args.size), 0), args.model)
    rows = [["back to back", 0, f"{reference.cpu_ms_per_frame(args.frames):.2f}"]]
    for rate in args.rates:
        cost = reference.cpu_ms_per_frame(args.frames, rate)
        rows.append([f"{rate:g}", f"about {1e3 / rate - cost:.1f} ms", f"{cost:.2f}"])
    header = ["frames per second", "idle gap before each frame", "CPU ms/frame"]
    print(table(header, rows, "rrr"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
