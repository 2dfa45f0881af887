"""The node's camera input (its own node and receiving thread), driven by a real publisher."""

import threading
import time

import numpy as np
import pytest

pytestmark = pytest.mark.ros  # also run on ROS 2 Jazzy (setup.cfg)

rclpy = pytest.importorskip("rclpy")
camera_input = pytest.importorskip("skd_ros.ros.camera_input")
probe_module = pytest.importorskip("skd_ros.tools.probe")
Image = pytest.importorskip("sensor_msgs.msg").Image


@pytest.mark.integration  # waits for DDS discovery and a delivery: over a second
def test_closing_does_not_wait_for_a_slow_frame(fresh_domain, local_ros_environment, wait_until):
    # deactivate closes the camera input; a frame still being decoded (a costly JPEG) must
    # not hold the lifecycle transition for as long as its decode takes
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    try:
        from rclpy.event_handler import SubscriptionEventCallbacks
    except ImportError:  # ROS 2 Humble
        from rclpy.qos_event import SubscriptionEventCallbacks

    entered, release = threading.Event(), threading.Event()

    def slow_conversion(msg) -> None:
        entered.set()
        release.wait(30.0)

    with local_ros_environment(fresh_domain), probe_module.SaliencyProbe() as publisher:
        context = rclpy.Context()
        rclpy.init(args=[], context=context)
        owner = rclpy.create_node("slow_owner", context=context)
        qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
        receiver = camera_input.CameraInput(
            owner, "/cam/image_raw", Image, qos, slow_conversion, SubscriptionEventCallbacks()
        )
        try:
            frame = probe_module.bgr8_message(np.zeros((8, 8, 3), np.uint8), 1)

            def delivered() -> bool:
                publisher.publish(frame)
                return entered.wait(0.1)

            assert wait_until(delivered, 20.0), "the camera input never received a frame"
            start = time.monotonic()
            receiver.close()
            waited = time.monotonic() - start
            assert waited < camera_input.CLOSE_WAIT_S + 3.0, f"close waited {waited:.1f} s"
        finally:
            release.set()
            owner.destroy_node()
            rclpy.try_shutdown(context=context)
