"""Camera messages -> model input (and BGR frames), checked first.

Works on any object shaped like `sensor_msgs/msg/Image` or `CompressedImage`: rclpy's
messages and rosbags' alike, so the node and bag reading (training, evaluation, the demo)
share it. `cv_bridge` is not used: for ROS 2 it is not installable from PyPI, and PyPI's
`cv-bridge` is a broken ROS 1 port; `rosbags-image` converts the exotic encodings (YUV
4:2:2, Bayer) instead, and NV12/21 are converted here (rosbags-image reads their Y plane only).

Every message is checked before conversion, because the converters trust the header:
rosbags-image returns an empty array for an empty image, and a short `data` or a small
`step` would give garbage or a crash; signed and floating-point encodings (depth,
disparity) are not camera pixels. A compressed frame's header is checked against the limits
of `skd_ros.images.limits` before it is decoded. A malformed message raises
`MalformedImage` whose message names the cause; `MalformedImage.cause` is a short key.

The model needs only a `side` x `side` reduction of the frame, so for the plain layouts
(mono, RGB, BGR, with or without alpha, 8 or 16 bit) the frame is reduced straight from the
message buffer (no copy, no full-resolution colour conversion) and the channels are fixed up
at model resolution; R is linear, so this equals converting first. Other encodings are
converted to BGR at full resolution first.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import cv2
import numpy as np

from skd_ros.images import MalformedImage
from skd_ros.images.headers import JPEG_SOI, PNG_SIGNATURE, check_declared
from skd_ros.preprocess import prepare_frame
from skd_ros.reduction import reduce_resolution

# encoding -> (channels, dtype, channel order) for layouts reduced straight from the buffer
PLAIN = {
    "mono8": (1, np.uint8, "grey"),
    "mono16": (1, np.uint16, "grey"),
    "8UC1": (1, np.uint8, "grey"),
    "16UC1": (1, np.uint16, "grey"),
    "bgr8": (3, np.uint8, "bgr"),
    "rgb8": (3, np.uint8, "rgb"),
    "8UC3": (3, np.uint8, "bgr"),
    "bgr16": (3, np.uint16, "bgr"),
    "rgb16": (3, np.uint16, "rgb"),
    "bgra8": (4, np.uint8, "bgr"),
    "rgba8": (4, np.uint8, "rgb"),
    "8UC4": (4, np.uint8, "bgr"),
    "bgra16": (4, np.uint16, "bgr"),
    "rgba16": (4, np.uint16, "rgb"),
}
NV_CODES = {"nv12": cv2.COLOR_YUV2BGR_NV12, "nv21": cv2.COLOR_YUV2BGR_NV21}
YUV422 = {"yuv422", "uyvy", "yuv422_yuy2", "yuyv"}  # two pixels per 4-byte group


@dataclass
class CameraFrame:
    """A checked camera message, converted lazily: model input and/or a full BGR frame."""

    width: int
    height: int
    encoding: str  # the message's encoding, or 'compressed:<format>'
    _message: object = field(repr=False)
    _bgr: np.ndarray | None = field(default=None, repr=False)

    @property
    def frame_format(self) -> tuple[int, int, str]:
        """What must stay the same for consecutive frames to be paired."""
        return self.width, self.height, self.encoding

    def model_input(self, side: int) -> np.ndarray:
        """(3, side, side) float32 RGB in [0, 1], via the shared reduction R."""
        if self._bgr is None and self.encoding in PLAIN:
            return _plain_model_input(self._message, side)
        return prepare_frame(self.bgr8(), side, bgr=True)

    def bgr8(self) -> np.ndarray:
        """The full frame as (H, W, 3) uint8 BGR (for overlays); computed once."""
        if self._bgr is None:
            self._bgr = _convert_to_bgr8(self._message)
        return self._bgr


def camera_frame(msg) -> CameraFrame:
    """Check an Image or CompressedImage message; raises `MalformedImage` with the cause."""
    if hasattr(msg, "format"):
        image = decode_compressed(msg)
        height, width = image.shape[:2]
        return CameraFrame(width, height, f"compressed:{msg.format}", msg, image)
    check_image(msg)
    return CameraFrame(int(msg.width), int(msg.height), str(msg.encoding), msg)


def check_image(msg) -> None:
    """Raise `MalformedImage` unless size, encoding, step and data length are consistent."""
    if msg.width == 0 or msg.height == 0:
        raise MalformedImage("empty image", f"{msg.width}x{msg.height} pixels")
    channels, itemsize = _pixel_layout(msg.encoding)
    row = msg.width * channels * itemsize
    if msg.encoding in NV_CODES and (msg.width % 2 or msg.height % 2):
        raise MalformedImage(
            "odd size",
            f"{msg.width}x{msg.height} {msg.encoding}: its chroma plane needs an "
            "even width and height",
        )
    if msg.encoding in YUV422 and msg.width % 2:
        raise MalformedImage(
            "odd size", f"{msg.width} px wide {msg.encoding}: pixel pairs share their chroma"
        )
    if msg.step % itemsize:
        raise MalformedImage(
            "step not a whole number of samples",
            f"step {msg.step} B with {itemsize}-byte samples ({msg.encoding})",
        )
    if msg.step < row:
        raise MalformedImage(
            "step too small",
            f"step {msg.step} B < {msg.width} px x {channels * itemsize} B ({msg.encoding})",
        )
    rows = _rows(msg)
    if len(msg.data) < msg.step * rows:
        raise MalformedImage(
            "data too short",
            f"{len(msg.data)} B < step {msg.step} x {rows} rows = {msg.step * rows} B",
        )


def _rows(msg) -> int:
    """Rows of `step` bytes in the buffer: NV12/21 add a half-height chroma plane."""
    if msg.encoding in NV_CODES:
        return msg.height + (msg.height + 1) // 2
    return msg.height


def _pixel_layout(encoding: str) -> tuple[int, int]:
    """(channels, bytes per channel) of an encoding, or MalformedImage('unknown encoding')."""
    if encoding in PLAIN:
        channels, dtype, _ = PLAIN[encoding]
        return channels, np.dtype(dtype).itemsize
    from rosbags.image import ImageFormatError
    from rosbags.image.image import to_cvtype

    try:
        _, _, typestr, channels = to_cvtype(encoding)
    except ImageFormatError:
        raise MalformedImage("unknown encoding", repr(encoding)) from None
    kind = {"f": "floating-point values", "i": "signed integers"}.get(np.dtype(typestr).kind)
    if kind is not None:
        raise MalformedImage(
            "unknown encoding",
            f"{encoding!r} holds {kind} (depth, disparity or other data), not camera "
            "pixels; send an unsigned encoding (mono8/16, bgr8, rgb8, ...)",
        )
    if encoding in NV_CODES:
        return 1, 1
    return channels, np.dtype(typestr).itemsize


def _view(msg, channels: int, dtype) -> np.ndarray:
    """(H, W[, C]) view of the message buffer honouring `step` (no copy unless byte-swapped)."""
    dtype = np.dtype(dtype)
    shape = (msg.height, msg.width, channels) if channels > 1 else (msg.height, msg.width)
    strides = (msg.step, channels * dtype.itemsize, dtype.itemsize)[: len(shape)]
    buffer = np.frombuffer(msg.data, np.uint8)
    image = np.ndarray(shape, dtype, buffer=buffer, strides=strides)
    if dtype.itemsize > 1 and bool(msg.is_bigendian) != (sys.byteorder == "big"):
        image = image.byteswap()
    return image


def _plain_model_input(msg, side: int) -> np.ndarray:
    channels, dtype, order = PLAIN[msg.encoding]
    small = reduce_resolution(_view(msg, channels, dtype), side)
    if small.ndim == 2:
        small = small[:, :, None].repeat(3, axis=2)
    small = small[:, :, :3]
    if order == "bgr":
        small = small[:, :, ::-1]
    scale = np.float32(1.0 / np.iinfo(dtype).max)
    return np.ascontiguousarray(small.transpose(2, 0, 1), dtype=np.float32) * scale


def _convert_to_bgr8(msg) -> np.ndarray:
    if msg.encoding in PLAIN:
        channels, dtype, order = PLAIN[msg.encoding]
        image = _view(msg, channels, dtype)
        if dtype == np.uint16:
            image = (image >> 8).astype(np.uint8)
        if channels == 1:
            return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        code = {
            (3, "bgr"): None,
            (3, "rgb"): cv2.COLOR_RGB2BGR,
            (4, "bgr"): cv2.COLOR_BGRA2BGR,
            (4, "rgb"): cv2.COLOR_RGBA2BGR,
        }[(channels, order)]
        return np.ascontiguousarray(image) if code is None else cv2.cvtColor(image, code)
    return _rosbags_to_bgr8(msg)


def _rosbags_to_bgr8(msg) -> np.ndarray:
    """YUV, NV12/21, Bayer and generic encodings through rosbags-image."""
    from rosbags.image import ImageError, image_to_cvimage

    unpadded = _unpadded(msg)
    try:
        if msg.encoding in NV_CODES:  # rosbags-image reads only the Y plane of these
            planes = unpadded.data.reshape(_rows(msg), msg.width)
            return cv2.cvtColor(planes, NV_CODES[msg.encoding])
        image = image_to_cvimage(unpadded, "bgr8")
    except (ImageError, cv2.error, ValueError, TypeError) as error:
        raise MalformedImage("unconvertible encoding", f"{msg.encoding!r} ({error})") from None
    if image is None or image.size == 0 or image.ndim != 3:
        raise MalformedImage("unconvertible encoding", f"{msg.encoding!r} gave no BGR image")
    return np.ascontiguousarray(image, dtype=np.uint8)


@dataclass
class _Unpadded:
    """The fields rosbags-image reads, with rows packed (it ignores `step`)."""

    height: int
    width: int
    encoding: str
    is_bigendian: int
    step: int
    data: np.ndarray


def _unpadded(msg) -> _Unpadded:
    channels, itemsize = _pixel_layout(msg.encoding)
    row = msg.width * channels * itemsize
    rows = _rows(msg)
    data = np.frombuffer(msg.data, np.uint8)[: msg.step * rows]
    if msg.step != row:
        data = np.ascontiguousarray(data.reshape(rows, msg.step)[:, :row]).ravel()
    return _Unpadded(msg.height, msg.width, msg.encoding, msg.is_bigendian, row, data)


def decode_compressed(msg) -> np.ndarray:
    """A CompressedImage's pixels as (H, W, 3) uint8 BGR; `MalformedImage` when corrupt,
    unsupported or over the limits (checked on the header, before decoding)."""
    data = bytes(msg.data) if not isinstance(msg.data, bytes | bytearray) else msg.data
    if len(data) == 0:
        raise MalformedImage("empty compressed data", f"format {msg.format!r}")
    claimed = str(msg.format).lower()
    if "compresseddepth" in claimed:
        raise MalformedImage(
            "unsupported compressed format",
            f"format {msg.format!r} is a depth image (compressed_depth_image_transport); "
            "subscribe this node to a colour or grey camera",
        )
    if not (data.startswith(JPEG_SOI) or data.startswith(PNG_SIGNATURE)):
        if "jpeg" in claimed or "jpg" in claimed or "png" in claimed:
            raise MalformedImage(
                "corrupt compressed data",
                f"format {msg.format!r}, but the data has neither a JPEG nor a PNG signature",
            )
        raise MalformedImage(
            "unsupported compressed format",
            f"format {msg.format!r}: this node decodes JPEG and PNG (image_transport 'compressed')",
        )
    check_declared(data)
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as error:  # OpenCV's own limits (`limit_opencv_decoding`)
        raise MalformedImage("corrupt compressed data", f"OpenCV refused it ({error})") from None
    if image is None or image.size == 0:
        raise MalformedImage("corrupt compressed data", f"format {msg.format!r} does not decode")
    return as_bgr8(image)


def as_bgr8(image: np.ndarray) -> np.ndarray:
    """Grey, BGRA, 16-bit or float ([0, 1]) images -> (H, W, 3) uint8 BGR."""
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = np.clip(image.astype(np.float32) * 255.0, 0, 255).astype(np.uint8)
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image
