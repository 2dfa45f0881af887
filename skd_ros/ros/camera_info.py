"""The camera's `camera_info`, matched to the frames it describes.

The node subscribes `<image's namespace>/camera_info`, image_transport's sibling topic of the
image (`/cam/image_raw` -> `/cam/camera_info`, whichever transport the image arrives by).
A frame is matched to the camera_info with the same stamp, as image_transport's
CameraSubscriber does, when one arrived among the last `KEPT` ones; otherwise to the latest
one received (a calibration rarely changes, and a camera_info published once, or at its own
rate, still serves). A camera_info that gives no usable geometry (uncalibrated K, unknown
distortion model) or whose image size is not the frame's is refused: `for_frame` returns the
reason, which the node logs throttled, and the frame is processed as without camera_info.

The subscription is served by the camera input's thread (`subscription`: the arguments for
`CameraInput(also=...)`), not by the node's executor; each message is converted there once
(`skd_ros.ros.messages.camera_from_info`), and one equal to the previous reuses its conversion.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo

from skd_ros.geometry import CalibrationError, Camera
from skd_ros.ros.messages import camera_from_info

MAX_COEFFICIENTS = 14  # OpenCV's largest distortion model
KEPT = 30  # about one second of a 30 Hz camera: enough for a frame waiting in the mailbox
# best effort accepts reliable and best-effort publishers alike
QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=5,
    reliability=ReliabilityPolicy.BEST_EFFORT,
    durability=DurabilityPolicy.VOLATILE,
)
UNUSABLE = "camera_info unusable"
SIZE_MISMATCH = "camera_info size mismatch"


def camera_info_topic(image_topic: str) -> str:
    """image_transport's camera_info topic of a (resolved) image topic."""
    namespace = image_topic.rsplit("/", 1)[0]
    return f"{namespace}/camera_info"


class CameraInfoInput:
    """The recent cameras of an image topic's `camera_info`, by stamp."""

    def __init__(self, image_topic: str) -> None:
        self.topic = camera_info_topic(image_topic)
        self._lock = threading.Lock()
        self._by_stamp: OrderedDict[int, Camera | CalibrationError] = OrderedDict()
        self._latest: Camera | CalibrationError | None = None
        self._last_key: tuple | None = None

    @property
    def subscription(self) -> tuple:
        """(msg_type, topic, qos, callback) of the camera_info subscription."""
        return (CameraInfo, self.topic, QOS, self._on_info)

    def _on_info(self, msg) -> None:
        if len(msg.d) > MAX_COEFFICIENTS:  # refused before copying it: bounded work
            camera = CalibrationError(f"D has {len(msg.d)} coefficients (14 at most)")
        elif (key := _content(msg)) == self._last_key and self._latest is not None:
            camera = self._latest
        else:
            try:
                camera = camera_from_info(msg)
            except (CalibrationError, ValueError) as error:  # ValueError: a K or P not 3x3/3x4
                camera = CalibrationError(str(error))
            self._last_key = key
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        with self._lock:
            self._by_stamp[stamp] = camera
            self._by_stamp.move_to_end(stamp)
            while len(self._by_stamp) > KEPT:
                self._by_stamp.popitem(last=False)
            self._latest = camera

    def for_frame(self, stamp_ns: int, size: tuple[int, int]) -> tuple[Camera | None, tuple]:
        """The camera of a frame of `size` (W, H) stamped `stamp_ns`, or None; and, when a
        camera_info was refused, (cause, text) for the log (else ())."""
        with self._lock:
            camera = self._by_stamp.get(stamp_ns, self._latest)
        if camera is None:
            return None, ()
        if isinstance(camera, CalibrationError):
            return None, (UNUSABLE, f"camera_info on {self.topic} is unusable: {camera}; {IGNORED}")
        if camera.size != tuple(size):
            return None, (
                SIZE_MISMATCH,
                f"camera_info on {self.topic} describes {camera.width}x{camera.height} images "
                f"but the frame is {size[0]}x{size[1]}: refused, {IGNORED} (publish the "
                "camera_info of this image stream, e.g. through image_proc's resize)",
            )
        return camera, ()


IGNORED = "the frame gets no bearings, no saliency/camera_info and markers by metres_per_pixel"


def _content(msg) -> tuple:
    roi = msg.roi
    return (
        msg.width,
        msg.height,
        msg.distortion_model,
        tuple(msg.d),
        tuple(msg.k),
        tuple(msg.r),
        tuple(msg.p),
        msg.binning_x,
        msg.binning_y,
        (roi.x_offset, roi.y_offset, roi.width, roi.height),
    )
