"""The saliency node's output publishers: created with the node's QoS, fed once per frame.

Each output is built only when something subscribes to it (`ros2 bag record` counts), so
an unread overlay or marker array costs no CPU.
"""

from __future__ import annotations

import functools

from geometry_msgs.msg import PointStamped
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from visualization_msgs.msg import MarkerArray

from skd_ros.geometry import Camera
from skd_ros.inference.draw import overlay_with_regions
from skd_ros.ros import messages, params
from skd_ros.ros.qos_overrides import explained, overriding_options

try:
    from rclpy.event_handler import PublisherEventCallbacks
except ImportError:  # ROS 2 Humble
    from rclpy.qos_event import PublisherEventCallbacks

# reliable, volatile: a subscriber that joins late gets the next map, never a stale one (the
# middleware's default durability, Fast DDS's transient local, replayed the last map to it)
OUTPUT_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=10,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)
# key, message type, topic, whether `qos_overrides.*` may change its QoS
OUTPUTS = (
    ("saliency", Image, "saliency", True),
    ("peaks", PointCloud2, "saliency/peaks", True),
    ("peak", PointStamped, "saliency/peak", True),
    ("markers", MarkerArray, "saliency/markers", False),
    ("overlay", Image, "saliency/overlay", False),
    ("camera_info", CameraInfo, "saliency/camera_info", False),
)


def without_event_handlers() -> dict:
    """Publisher options without rclpy's default QoS-event handlers: each is an entity the
    executor polls on every wake-up (two per publisher), and a subscriber asking for
    incompatible QoS is already warned on its own side."""
    return {"event_callbacks": PublisherEventCallbacks(use_default_callbacks=False)}


def create_outputs(node, into: dict[str, object]) -> None:
    """Create the node's lifecycle publishers into `into`, one by one (so what was created
    before a `QosOverrideError` is there to be freed); detections only where vision_msgs is."""
    quiet = without_event_handlers()
    overrides = {"qos_overriding_options": overriding_options()}
    outputs = OUTPUTS
    if messages.Detection2DArray is not None:
        outputs += (("detections", messages.Detection2DArray, "saliency/detections", True),)
    else:
        node.get_logger().info(messages.DETECTIONS_MISSING)
    for key, msg_type, topic, overridable in outputs:
        extra = overrides if overridable else {}
        with explained(node.resolve_topic_name(topic), "publisher"):
            into[key] = node.create_lifecycle_publisher(
                msg_type, topic, OUTPUT_QOS, **quiet, **extra
            )


def publish_outputs(
    outputs: dict, header, frame, saliency, regions, settings: params.Settings, camera=None
) -> None:
    """Build and publish each output that has a subscriber (`ros2 bag record` counts)."""
    size = (frame.width, frame.height)
    out_size = size if settings.output_resolution == "input" else None
    if listened(outputs["saliency"]):
        outputs["saliency"].publish(
            messages.saliency_image(header, saliency, settings.output_encoding, out_size)
        )
    if camera is not None and listened(outputs["camera_info"]):
        map_size = out_size or (saliency.shape[1], saliency.shape[0])
        outputs["camera_info"].publish(
            messages.camera_info(header, scaled_camera(camera, *map_size))
        )
    if listened(outputs["peaks"]):
        outputs["peaks"].publish(messages.regions_cloud(header, regions))
    if "detections" in outputs and listened(outputs["detections"]):
        outputs["detections"].publish(messages.detections(header, regions))
    if len(regions) and listened(outputs["peak"]):
        outputs["peak"].publish(messages.top_peak(header, regions))
    if settings.markers and listened(outputs["markers"]):
        outputs["markers"].publish(
            messages.region_markers(
                header,
                regions,
                size,
                settings.markers_depth_m,
                settings.markers_metres_per_pixel,
                camera,
            )
        )
    if settings.overlay and listened(outputs["overlay"]):
        picture = overlay_with_regions(frame.bgr8(), saliency, regions, settings.overlay_alpha)
        outputs["overlay"].publish(messages.bgr_image(header, picture))


@functools.lru_cache(maxsize=4)
def scaled_camera(camera: Camera, width: int, height: int) -> Camera:
    """The camera of the saliency map: computed once per camera and map size."""
    return camera.scaled(width, height)


def listened(publisher) -> bool:
    """Whether an output has a subscriber: the others are not even built (no CPU spent)."""
    return publisher.get_subscription_count() > 0
