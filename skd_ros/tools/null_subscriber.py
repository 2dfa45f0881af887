"""An rclpy subscriber that does nothing with the frames: the transport's share of a node's CPU.

`measure_node` runs it beside the saliency node on the same topic, with the same input QoS and
allocator setting, so the table shows what any Python ROS 2 node pays just to receive each
frame (middleware, shared-memory hand-over, deserialization into a Python message) next to
what the saliency node pays in all.

    python -m skd_ros.tools.null_subscriber TOPIC
"""

from __future__ import annotations

import sys

import rclpy
from rclpy.executors import ExternalShutdownException
from sensor_msgs.msg import Image

from skd_ros.ros.environment import reuse_large_buffers
from skd_ros.ros.node import INPUT_QOS


def main(argv: list[str] | None = None) -> int:
    """Subscribe to the Image topic argv[0] and drop every message until interrupted."""
    topic = (sys.argv[1:] if argv is None else argv)[0]
    reuse_large_buffers()
    rclpy.init(args=[])
    node = rclpy.create_node("null_subscriber")
    node.create_subscription(Image, topic, lambda msg: None, INPUT_QOS)
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
