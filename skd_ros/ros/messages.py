"""Builders (and a reader) for the node's output messages. Needs the ROS message packages.

* `saliency_image`: the map as `sensor_msgs/Image` (mono8 or 32FC1) with the input header.
* `regions_cloud` / `regions_from_cloud`: salient regions as `sensor_msgs/PointCloud2`, one
  "point" per region with float32 fields x_min, y_min, x_max, y_max, u, v, score, mass.
* `top_peak`: the best region's centroid as `geometry_msgs/PointStamped` (x = u, y = v in
  input pixels, z = peak score), the ROS 1 saliency nodes' message, for simple followers.
* `region_markers`: the boxes as `visualization_msgs/MarkerArray` on a picture plane in front
  of the camera, for RViz.
* `bgr_image`: any BGR frame (the overlay) as `sensor_msgs/Image`.

Large payloads are handed to rclpy as `array.array('B')`, which it takes without checking
every byte (a bytes object would be checked element by element).
"""

from __future__ import annotations

import array
import sys

import cv2
import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point, PointStamped
from sensor_msgs.msg import Image, PointCloud2, PointField
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from skd_ros.inference.peaks import REGION_DTYPE, REGION_FIELDS

BIG_ENDIAN = sys.byteorder == "big"
REGION_POINT_FIELDS = [
    PointField(name=name, offset=4 * index, datatype=PointField.FLOAT32, count=1)
    for index, name in enumerate(REGION_FIELDS)
]
MARKER_NAMESPACE = "saliency"


def byte_array(data: np.ndarray | bytes) -> array.array:
    """A uint8 array.array copy of a buffer (one memcpy), the type rclpy takes as is."""
    result = array.array("B")
    if isinstance(data, np.ndarray):
        data = np.ascontiguousarray(data).reshape(-1).view(np.uint8).data
    result.frombytes(data)
    return result


def saliency_image(
    header, saliency: np.ndarray, encoding: str = "mono8", size: tuple[int, int] | None = None
) -> Image:
    """The (h, w) float map in [0, 1] as an Image, resized to `size` (W, H) if given."""
    if size is not None and (size[0], size[1]) != (saliency.shape[1], saliency.shape[0]):
        saliency = cv2.resize(saliency, size, interpolation=cv2.INTER_LINEAR)
    if encoding == "mono8":
        pixels = np.clip(saliency * 255.0 + 0.5, 0, 255).astype(np.uint8)
    elif encoding == "32FC1":
        pixels = np.clip(saliency, 0.0, 1.0).astype(np.float32, copy=False)
    else:
        raise ValueError(f"encoding={encoding!r}: choose mono8 or 32FC1")
    return _image(header, pixels, encoding)


def bgr_image(header, frame: np.ndarray) -> Image:
    """An (H, W, 3) uint8 BGR frame as a bgr8 Image."""
    return _image(header, frame, "bgr8")


def _image(header, pixels: np.ndarray, encoding: str) -> Image:
    height, width = pixels.shape[:2]
    msg = Image(
        header=header,
        height=height,
        width=width,
        encoding=encoding,
        is_bigendian=int(BIG_ENDIAN and pixels.itemsize > 1),
        step=width * pixels.itemsize * (pixels.shape[2] if pixels.ndim == 3 else 1),
    )
    msg.data = byte_array(pixels)
    return msg


def regions_cloud(header, regions: np.ndarray) -> PointCloud2:
    """Regions (REGION_DTYPE, best first) as a 1-row PointCloud2 of float32 fields."""
    if regions.dtype != REGION_DTYPE:
        raise ValueError(f"expected a REGION_DTYPE array, got {regions.dtype}")
    msg = PointCloud2(
        header=header,
        height=1,
        width=len(regions),
        fields=REGION_POINT_FIELDS,
        is_bigendian=False,
        point_step=REGION_DTYPE.itemsize,
        row_step=REGION_DTYPE.itemsize * len(regions),
        is_dense=True,
    )
    msg.data = byte_array(regions.tobytes())
    return msg


def top_peak(header, regions: np.ndarray) -> PointStamped:
    """The best region (regions[0]) as a point: x, y its centroid in input pixels, z its score."""
    best = regions[0]
    point = Point(x=float(best["u"]), y=float(best["v"]), z=float(best["score"]))
    return PointStamped(header=header, point=point)


def regions_from_cloud(msg) -> np.ndarray:
    """Inverse of `regions_cloud` (works on rclpy and rosbags messages); checks the layout."""
    names = [f.name for f in msg.fields]
    offsets = [f.offset for f in msg.fields]
    if names != list(REGION_FIELDS) or offsets != [4 * i for i in range(len(REGION_FIELDS))]:
        raise ValueError(f"not a saliency regions cloud: fields {names} at offsets {offsets}")
    if msg.point_step != REGION_DTYPE.itemsize or msg.is_bigendian:
        raise ValueError(f"unexpected point_step {msg.point_step} or big-endian data")
    count = msg.width * msg.height
    return np.frombuffer(bytes(msg.data), REGION_DTYPE, count=count).copy()


def region_markers(
    header,
    regions: np.ndarray,
    image_size: tuple[int, int],
    depth_m: float = 1.0,
    metres_per_pixel: float = 0.001,
) -> MarkerArray:
    """Boxes as LINE_STRIP markers (and score texts) on a picture plane in the camera frame.

    The plane is `depth_m` in front of the camera along +z of the image's frame_id (the ROS
    optical-frame convention: x right, y down), centred on the optical axis, one image pixel
    being `metres_per_pixel`. A DELETEALL marker first clears the previous frame's boxes.
    """
    width, height = image_size
    clear = Marker(header=header, ns=MARKER_NAMESPACE, action=Marker.DELETEALL)
    markers = [clear]
    for rank, region in enumerate(regions):
        corners = [
            (region["x_min"], region["y_min"]),
            (region["x_max"], region["y_min"]),
            (region["x_max"], region["y_max"]),
            (region["x_min"], region["y_max"]),
            (region["x_min"], region["y_min"]),
        ]
        points = [
            Point(
                x=(float(u) - width / 2) * metres_per_pixel,
                y=(float(v) - height / 2) * metres_per_pixel,
                z=depth_m,
            )
            for u, v in corners
        ]
        score = float(region["score"])
        color = ColorRGBA(r=1.0, g=1.0 - score, b=0.0, a=1.0)
        box = Marker(header=header, ns=MARKER_NAMESPACE, id=2 * rank, type=Marker.LINE_STRIP)
        box.action, box.points, box.color = Marker.ADD, points, color
        box.pose.orientation.w = 1.0
        box.scale.x = 2.0 * metres_per_pixel * max(1.0, width / 640)
        box.lifetime = Duration(sec=1)
        text = Marker(header=header, ns=MARKER_NAMESPACE, id=2 * rank + 1)
        text.type, text.action, text.text = Marker.TEXT_VIEW_FACING, Marker.ADD, f"{score:.2f}"
        text.pose.position = Point(x=points[0].x, y=points[0].y - 0.02 * depth_m, z=depth_m)
        text.pose.orientation.w = 1.0
        text.scale.z, text.color, text.lifetime = 0.03 * depth_m, color, Duration(sec=1)
        markers += [box, text]
    return MarkerArray(markers=markers)
