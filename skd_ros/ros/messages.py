"""Builders (and a reader) for the node's output messages. Needs the ROS message packages.

* `saliency_image`: the map as `sensor_msgs/Image` (mono8 or 32FC1) with the input header.
* `regions_cloud` / `regions_from_cloud`: salient regions as `sensor_msgs/PointCloud2`, one
  "point" per region with float32 fields x_min, y_min, x_max, y_max, u, v, score, mass,
  uint32 id, float32 bearing_x, bearing_y, bearing_z.
* `detections`: the same regions as `vision_msgs/Detection2DArray` (where vision_msgs is
  installed: `DETECTIONS_MISSING` is None), the ROS 2 detection consumers' message.
* `camera_from_info` / `camera_info`: `sensor_msgs/CameraInfo` to and from
  `skd_ros.geometry.Camera` (the map's own camera_info is a scaled one).
* `top_peak`: the best region's centroid as `geometry_msgs/PointStamped` (x = u, y = v in
  input pixels, z = peak score), the ROS 1 saliency nodes' message, for simple followers.
* `region_markers`: the boxes as `visualization_msgs/MarkerArray` on a picture plane in front
  of the camera, for RViz (placed by the intrinsics when the camera is known).
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
from sensor_msgs.msg import CameraInfo, Image, PointCloud2, PointField
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from skd_ros.geometry import Camera
from skd_ros.inference.peaks import BEARING_FIELDS, REGION_DTYPE, REGION_FIELDS

try:  # in every ROS distribution, but not on PyPI
    from vision_msgs.msg import (
        Detection2D,
        Detection2DArray,
        ObjectHypothesis,
        ObjectHypothesisWithPose,
    )

    DETECTIONS_MISSING = None
except ImportError as error:
    Detection2DArray = None
    DETECTIONS_MISSING = (
        f"vision_msgs is not installed ({error}): saliency/detections is not published "
        "(apt install ros-$ROS_DISTRO-vision-msgs; saliency/peaks carries the same regions)"
    )

BIG_ENDIAN = sys.byteorder == "big"
POINT_TYPES = {"<f4": PointField.FLOAT32, "<u4": PointField.UINT32}
REGION_POINT_FIELDS = [
    PointField(
        name=name,
        offset=REGION_DTYPE.fields[name][1],
        datatype=POINT_TYPES[REGION_DTYPE.fields[name][0].str],
        count=1,
    )
    for name in REGION_FIELDS
]
MARKER_NAMESPACE = "saliency"
DETECTION_CLASS = "salient"  # ObjectHypothesis.class_id of every detection


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
    """Regions (REGION_DTYPE, best first) as a 1-row PointCloud2 of 4-byte fields; is_dense
    is false when bearings are unknown (NaN)."""
    if regions.dtype != REGION_DTYPE:
        raise ValueError(f"expected a REGION_DTYPE array, got {regions.dtype}")
    known = not any(np.isnan(regions[name]).any() for name in BEARING_FIELDS)
    msg = PointCloud2(
        header=header,
        height=1,
        width=len(regions),
        fields=REGION_POINT_FIELDS,
        is_bigendian=False,
        point_step=REGION_DTYPE.itemsize,
        row_step=REGION_DTYPE.itemsize * len(regions),
        is_dense=known,
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
    layout = [(f.name, f.offset, f.datatype) for f in msg.fields]
    expected = [(f.name, f.offset, f.datatype) for f in REGION_POINT_FIELDS]
    if layout != expected:
        raise ValueError(f"not a saliency regions cloud: fields (name, offset, type) {layout}")
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
    camera: Camera | None = None,
) -> MarkerArray:
    """Boxes as LINE_STRIP markers (and score texts) on a picture plane in the camera frame.

    The plane is `depth_m` in front of the camera along +z of the image's frame_id (the ROS
    optical-frame convention: x right, y down). With the `camera`'s intrinsics each corner lies
    on its own ray (distortion removed), so the boxes cover what they cover in the image;
    without them the plane is centred on the optical axis, one image pixel being
    `metres_per_pixel`. A DELETEALL marker first clears the previous frame's boxes.
    """
    width, height = image_size
    clear = Marker(header=header, ns=MARKER_NAMESPACE, action=Marker.DELETEALL)
    markers = [clear]
    if not len(regions):
        return MarkerArray(markers=markers)
    x0, y0, x1, y1 = (regions[f].astype(np.float64) for f in ("x_min", "y_min", "x_max", "y_max"))
    outline = ((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0))
    corners = np.stack([np.stack(corner, axis=1) for corner in outline], axis=1)  # (n, 5, 2)
    if camera is not None:
        plane = camera.plane_points(corners.reshape(-1, 2), depth_m).reshape(-1, 5, 3)
        line_width = 2.0 * depth_m * camera.pixel_angle() * max(1.0, width / 640)
    else:
        centred = (corners - (width / 2, height / 2)) * metres_per_pixel
        plane = np.concatenate([centred, np.full((*corners.shape[:2], 1), depth_m)], axis=2)
        line_width = 2.0 * metres_per_pixel * max(1.0, width / 640)
    for rank, (region, points) in enumerate(zip(regions, plane, strict=True)):
        markers += _box_markers(header, rank, region, points, line_width, depth_m)
    return MarkerArray(markers=markers)


def _box_markers(header, rank: int, region, corners, line_width: float, depth_m: float):
    """A region's closed outline (LINE_STRIP through its (5, 3) corners) and a text with its
    id (when tracked) and score."""
    points = [Point(x=float(x), y=float(y), z=float(z)) for x, y, z in corners]
    score, track = float(region["score"]), int(region["id"])
    label = f"#{track} {score:.2f}" if track else f"{score:.2f}"
    color = ColorRGBA(r=1.0, g=1.0 - score, b=0.0, a=1.0)
    box = Marker(header=header, ns=MARKER_NAMESPACE, id=2 * rank, type=Marker.LINE_STRIP)
    box.action, box.points, box.color = Marker.ADD, points, color
    box.pose.orientation.w = 1.0
    box.scale.x = line_width
    box.lifetime = Duration(sec=1)
    text = Marker(header=header, ns=MARKER_NAMESPACE, id=2 * rank + 1)
    text.type, text.action, text.text = Marker.TEXT_VIEW_FACING, Marker.ADD, label
    text.pose.position = Point(x=points[0].x, y=points[0].y - 0.02 * depth_m, z=points[0].z)
    text.pose.orientation.w = 1.0
    text.scale.z, text.color, text.lifetime = 0.03 * depth_m, color, Duration(sec=1)
    return [box, text]


def detections(header, regions: np.ndarray):
    """Regions as a vision_msgs/Detection2DArray: per region its box (centre and size in input
    pixels), one hypothesis (class "salient", the region's peak score) and its track id."""
    result = Detection2DArray(header=header)
    for region in regions:
        detection = Detection2D(header=header, id=str(int(region["id"])))
        bbox = detection.bbox
        centre = getattr(bbox.center, "position", bbox.center)  # vision_msgs < 4: Pose2D
        x_min, y_min = float(region["x_min"]), float(region["y_min"])
        x_max, y_max = float(region["x_max"]), float(region["y_max"])
        centre.x, centre.y = (x_min + x_max) / 2, (y_min + y_max) / 2
        bbox.size_x, bbox.size_y = x_max - x_min, y_max - y_min
        hypothesis = ObjectHypothesis(class_id=DETECTION_CLASS, score=float(region["score"]))
        detection.results = [ObjectHypothesisWithPose(hypothesis=hypothesis)]
        result.detections.append(detection)
    return result


def camera_from_info(msg) -> Camera:
    """The camera of the images a CameraInfo describes (binning and ROI folded into K);
    raises `skd_ros.geometry.CalibrationError` naming what makes it unusable."""
    roi = msg.roi
    return Camera.from_calibration(
        int(msg.width),
        int(msg.height),
        np.asarray(msg.k, np.float64),
        np.asarray(msg.d, np.float64),
        str(msg.distortion_model),
        np.asarray(msg.r, np.float64),
        np.asarray(msg.p, np.float64),
        (int(msg.binning_x), int(msg.binning_y)),
        (int(roi.x_offset), int(roi.y_offset), int(roi.width), int(roi.height)),
    )


def camera_info(header, camera: Camera) -> CameraInfo:
    """`camera` as a CameraInfo with `header` (binning and ROI none: folded into K and P)."""
    return CameraInfo(
        header=header,
        width=camera.width,
        height=camera.height,
        distortion_model=camera.model,
        d=[float(v) for v in camera.d],
        k=[float(v) for v in camera.k.reshape(-1)],
        r=[float(v) for v in camera.r.reshape(-1)],
        p=[float(v) for v in camera.p.reshape(-1)],
    )
