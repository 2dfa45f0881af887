"""Section 5 (camera side): the node's per-frame work against camera resolution.

Runs the node's own per-frame path in this process, without transport: validate and wrap
the message (`camera_frame`), reduce it to the model input (R, straight from the message
buffer), Sst with the previous frame, peak regions with their track ids and bearings (a
calibrated camera), and the output messages. Only the
reduction should grow with the camera; everything after it works at model resolution.
"""

from __future__ import annotations

import cv2
import numpy as np

from skd_ros.bench.timing import time_call
from skd_ros.geometry import Camera, add_bearings
from skd_ros.inference.engine import SaliencyEngine, SaliencyStream
from skd_ros.inference.peaks import find_regions
from skd_ros.inference.tracking import RegionTracker

CAMERAS = ((640, 480), (1280, 720), (1920, 1080), (3840, 2160))


def measure(model_json, repeats: int, cameras=CAMERAS) -> list[dict]:
    """One row per camera size: ms for reduction, for the rest, and in total (one thread)."""
    cv2.setNumThreads(1)
    stream = SaliencyStream(SaliencyEngine(model_json), max_gap_s=1e9)
    return [_camera_row(stream, width, height, repeats) for width, height in cameras]


def _camera_row(stream: SaliencyStream, width: int, height: int, repeats: int) -> dict:
    from skd_ros.images.messages import camera_frame
    from skd_ros.ros import messages
    from skd_ros.tools.probe import bgr8_message

    image = np.random.default_rng(0).integers(0, 256, (height, width, 3), np.uint8)
    msg = bgr8_message(image, 1)
    frame = camera_frame(msg)
    side = stream.engine.resolution
    model_input = frame.model_input(side)
    tracker, camera = RegionTracker(), _camera(width, height)

    def rest() -> object:
        result = stream.step(model_input, 1, frame.frame_format)
        regions = find_regions(result.saliency, (width, height))
        add_bearings(tracker.update(regions, 1), camera)
        messages.saliency_image(msg.header, result.saliency, "mono8", None)
        return messages.regions_cloud(msg.header, regions)

    reduce_ms = time_call(lambda: camera_frame(msg).model_input(side), repeats).ms
    rest_ms = time_call(rest, repeats).ms
    return {
        "camera": f"{width}x{height}",
        "megapixels": width * height / 1e6,
        "reduce_ms": reduce_ms,
        "rest_ms": rest_ms,
        "total_ms": reduce_ms + rest_ms,
    }


def _camera(width: int, height: int) -> Camera:
    """A calibrated camera (90 degrees across, some barrel distortion) of this size."""
    focal = width / 2
    k = [[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]]
    return Camera.from_calibration(width, height, k, [-0.2, 0.05, 0, 0, 0], "plumb_bob")
