"""The node with the camera's camera_info, track ids and vision_msgs detections.

A real node process, and in this process a real rclpy publisher of the image and of its
camera_info (image_transport's sibling topic) and subscribers of the node's outputs. The tests
run in file order on one node: first without camera_info (as before it existed), then with it.
"""

import threading

import cv2
import numpy as np
import pytest

from skd_ros.data.synthetic import ClipSpec, generate_clip

rclpy = pytest.importorskip("rclpy")
probe_module = pytest.importorskip("skd_ros.tools.probe")
sensor_msgs = pytest.importorskip("sensor_msgs.msg")
visualization_msgs = pytest.importorskip("visualization_msgs.msg")
SaliencyProbe, bgr8_message, set_stamp, stamp_ns = (
    probe_module.SaliencyProbe,
    probe_module.bgr8_message,
    probe_module.set_stamp,
    probe_module.stamp_ns,
)

SECOND = 1_000_000_000
WIDTH, HEIGHT = 640, 360
K = [520.0, 0.0, 318.0, 0.0, 515.0, 183.0, 0.0, 0.0, 1.0]
D = [-0.21, 0.06, 0.0008, -0.0011, -0.008]
DEPTH_M = 3.0


@pytest.fixture(scope="module")
def clip(target_clip):
    return list(generate_clip(ClipSpec(*target_clip, 16, WIDTH, HEIGHT)))


@pytest.fixture(scope="module")
def node_extra_args():
    """The shared `node` (conftest.py) draws markers at DEPTH_M and warns without a pause."""
    extra = ["-p", "markers.enabled:=true", "-p", f"markers.depth_m:={DEPTH_M}"]
    return (*extra, "-p", "warn_throttle_s:=0.0")


class Outputs:
    """The node's camera_info, markers and detections, by stamp, and a camera_info publisher."""

    def __init__(self, probe) -> None:
        self.lock = threading.Condition()
        self.by_topic: dict[str, dict[int, object]] = {}
        node, reliable = probe.node, rclpy.qos.QoSProfile(depth=50)
        self.info_publisher = node.create_publisher(sensor_msgs.CameraInfo, "/cam/camera_info", 10)
        topics = {
            "/cam/saliency/camera_info": sensor_msgs.CameraInfo,
            "/cam/saliency/markers": visualization_msgs.MarkerArray,
        }
        try:
            from vision_msgs.msg import Detection2DArray

            topics["/cam/saliency/detections"] = Detection2DArray
        except ImportError:
            pass
        for topic, msg_type in topics.items():
            self.by_topic[topic] = {}
            node.create_subscription(msg_type, topic, self._keeper(topic), reliable)
        self.node = node

    def connected(self) -> bool:
        """Whether the node publishes every topic kept here and subscribes our camera_info."""
        return (
            all(self.node.count_publishers(t) for t in self.by_topic)
            and self.info_publisher.get_subscription_count() > 0
        )

    def _keeper(self, topic: str):
        def keep(msg) -> None:
            with self.lock:
                header = msg.markers[0].header if hasattr(msg, "markers") else msg.header
                self.by_topic[topic][stamp_ns(header)] = msg
                self.lock.notify_all()

        return keep

    def wait(self, topic: str, stamp: int, timeout_s: float = 5.0):
        with self.lock:
            self.lock.wait_for(lambda: stamp in self.by_topic[topic], timeout_s)
            return self.by_topic[topic].get(stamp)

    def publish_info(self, stamp: int, width: int = WIDTH, height: int = HEIGHT, k=K) -> None:
        msg = sensor_msgs.CameraInfo(width=width, height=height, distortion_model="plumb_bob")
        msg.header.frame_id = "drone_camera"
        set_stamp(msg, stamp)
        msg.k, msg.d = list(k), list(D)
        msg.p = [*k[:3], 0.0, *k[3:6], 0.0, *k[6:], 0.0]
        self.info_publisher.publish(msg)


@pytest.fixture(scope="module")
def probe(node, domain, local_ros_environment):
    with local_ros_environment(domain), SaliencyProbe() as client:
        assert client.wait_for_node(20.0), node.output()
        yield client


@pytest.fixture(scope="module")
def outputs(probe, wait_until):
    outputs = Outputs(probe)
    assert wait_until(outputs.connected, 10.0), (
        "the node does not publish or subscribe the camera topics"
    )
    return outputs


def _send(probe, frame, stamp: int):
    output = probe.send(bgr8_message(frame.image, stamp, frame_id="drone_camera"))
    assert output is not None, f"no map for frame {frame.index}"
    return output.regions


def _on_target(regions, truth) -> int | None:
    """Index of the region whose box holds the ground truth's peak, if any."""
    y, x = np.unravel_index(np.argmax(truth), truth.shape)
    for index, region in enumerate(regions):
        if region["x_min"] <= x < region["x_max"] and region["y_min"] <= y < region["y_max"]:
            return index
    return None


def _undistorted(points) -> np.ndarray:
    """OpenCV's own undistortion of continuous image points (pixel centres at +0.5)."""
    pixels = np.asarray(points, np.float64).reshape(-1, 1, 2) - 0.5
    k = np.array(K).reshape(3, 3)
    return cv2.undistortPoints(pixels, k, np.array(D)).reshape(-1, 2)


def test_without_camera_info_the_target_keeps_its_id_and_has_no_bearing(probe, outputs, clip):
    ids = []
    for index, frame in enumerate(clip[:8]):
        stamp = (10 + index) * SECOND // 30
        regions = _send(probe, frame, stamp)
        assert np.isnan(regions["bearing_z"]).all()
        target = _on_target(regions, frame.saliency)
        if target is not None:
            ids.append(int(regions[target]["id"]))
        markers = outputs.wait("/cam/saliency/markers", stamp)
        assert markers is not None
        if len(regions):  # the picture plane of markers.metres_per_pixel, centred on the axis
            corner = markers.markers[1].points[0]
            expected_x = (float(regions[0]["x_min"]) - WIDTH / 2) * 0.001
            assert corner.x == pytest.approx(expected_x) and corner.z == pytest.approx(DEPTH_M)
    assert len(ids) >= 6 and len(set(ids)) == 1 and ids[0] >= 1, ids  # one target, one id
    assert outputs.by_topic["/cam/saliency/camera_info"] == {}  # no camera_info, none out


def test_with_camera_info_regions_get_bearings_and_the_map_its_camera_info(probe, outputs, clip):
    for index, frame in enumerate(clip[8:12]):
        stamp = (30 + index) * SECOND // 30
        outputs.publish_info(stamp)
        regions = _send(probe, frame, stamp)
        assert len(regions), "the clip's frames have a target"
        info = outputs.wait("/cam/saliency/camera_info", stamp)
        assert info is not None, "no saliency/camera_info for a frame with camera_info"
        assert (info.width, info.height, info.header.frame_id) == (64, 64, "drone_camera")
        sx, sy = 64 / WIDTH, 64 / HEIGHT
        assert info.k[0] == pytest.approx(K[0] * sx) and info.k[4] == pytest.approx(K[4] * sy)
        assert info.k[2] == pytest.approx((K[2] + 0.5) * sx - 0.5)
        assert list(info.d) == pytest.approx(D) and info.distortion_model == "plumb_bob"
        rays = np.stack([regions[f] for f in ("bearing_x", "bearing_y", "bearing_z")], axis=1)
        np.testing.assert_allclose(np.linalg.norm(rays, axis=1), 1.0, rtol=1e-5)
        centroids = np.stack([regions["u"], regions["v"]], axis=1)
        np.testing.assert_allclose(rays[:, :2] / rays[:, 2:], _undistorted(centroids), atol=1e-5)
        markers = outputs.wait("/cam/saliency/markers", stamp)
        corner = markers.markers[1].points[0]  # the best box's (x_min, y_min), on its own ray
        expected = _undistorted([[regions[0]["x_min"], regions[0]["y_min"]]])[0] * DEPTH_M
        assert (corner.x, corner.y, corner.z) == pytest.approx((*expected, DEPTH_M), abs=1e-5)


def test_a_camera_info_of_another_size_is_refused_naming_both_sizes(node, probe, outputs, clip):
    stamp = 40 * SECOND // 30
    outputs.publish_info(stamp, 1280, 720)
    regions = _send(probe, clip[12], stamp)
    assert np.isnan(regions["bearing_x"]).all()
    assert node.wait_for_output("describes 1280x720 images but the frame is 640x360", 5.0)
    assert outputs.wait("/cam/saliency/camera_info", stamp, timeout_s=0.5) is None
    stamp = 41 * SECOND // 30
    outputs.publish_info(stamp, k=[0.0] * 9)  # a driver without a calibration file
    assert np.isnan(_send(probe, clip[13], stamp)["bearing_x"]).all()
    assert node.wait_for_output("not calibrated", 5.0), node.output()
    assert node.alive()


def test_detections_carry_each_region_with_its_id(probe, outputs, clip):
    pytest.importorskip(
        "vision_msgs.msg",
        reason="vision_msgs is in every ROS distribution but not on PyPI: without a ROS "
        "installation the node publishes no saliency/detections",
    )
    for index, frame in enumerate(clip[14:16]):
        stamp = (50 + index) * SECOND // 30
        regions = _send(probe, frame, stamp)
        array = outputs.wait("/cam/saliency/detections", stamp)
        assert array is not None, "no saliency/detections"
        assert array.header.frame_id == "drone_camera" and len(array.detections) == len(regions)
        for detection, region in zip(array.detections, regions, strict=True):
            assert detection.id == str(int(region["id"])) and int(region["id"]) >= 1
            centre = detection.bbox.center.position
            assert centre.x == pytest.approx((region["x_min"] + region["x_max"]) / 2)
            assert centre.y == pytest.approx((region["y_min"] + region["y_max"]) / 2)
            assert detection.bbox.size_x == pytest.approx(region["x_max"] - region["x_min"])
            assert detection.results[0].hypothesis.score == pytest.approx(region["score"])
