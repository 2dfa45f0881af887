"""A client of a running saliency node: publishes frames, collects its outputs by stamp.

Used by the tests, the demo and `measure`. It runs its own rclpy context and executor
thread, so it can live next to other ROS code in the same process. Call
`skd_ros.ros.environment.apply_local_ros_env` (or set the same variables) before creating
one, so it discovers the node on this machine only and uses the shared-memory transport.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PointStamped
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rcl_interfaces.srv import SetParameters
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image, PointCloud2

from skd_ros.ros.environment import reuse_large_buffers
from skd_ros.ros.messages import byte_array, regions_from_cloud

TRANSITIONS = {
    "configure": Transition.TRANSITION_CONFIGURE,
    "activate": Transition.TRANSITION_ACTIVATE,
    "deactivate": Transition.TRANSITION_DEACTIVATE,
    "cleanup": Transition.TRANSITION_CLEANUP,
}


def stamp_ns(header) -> int:
    return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec


def bgr8_message(image: np.ndarray, stamp: int, frame_id: str = "camera") -> Image:
    """An rclpy bgr8 Image of an (H, W, 3) uint8 frame, stamped `stamp` ns."""
    height, width = image.shape[:2]
    msg = Image(height=height, width=width, encoding="bgr8", step=width * 3)
    set_stamp(msg, stamp)
    msg.header.frame_id = frame_id
    msg.data = byte_array(image)
    return msg


def set_stamp(msg, stamp: int) -> None:
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(int(stamp), 1_000_000_000)


@dataclass
class Output:
    """The node's answer to one frame."""

    saliency: Image
    received_ns: int  # time.time_ns() when the map arrived
    regions: np.ndarray | None = None  # from saliency/peaks, once that arrived


class SaliencyProbe:
    """Publishes on `<namespace>/image_raw`-style topics and records the node's outputs."""

    def __init__(
        self,
        namespace: str = "/cam",
        image_topic: str = "/cam/image_raw",
        node_name: str = "saliency",
        reliable_input: bool = False,
    ) -> None:
        reuse_large_buffers()
        self.context = rclpy.Context()
        rclpy.init(args=[], context=self.context)
        self.node = rclpy.create_node("saliency_probe", context=self.context)
        self.namespace = namespace.rstrip("/")
        self.target = f"{self.namespace}/{node_name}"
        reliability = (
            ReliabilityPolicy.RELIABLE if reliable_input else ReliabilityPolicy.BEST_EFFORT
        )
        qos = QoSProfile(depth=1, reliability=reliability)
        self.image_publisher = self.node.create_publisher(Image, image_topic, qos)
        self.compressed_publisher = self.node.create_publisher(
            CompressedImage, f"{image_topic}/compressed", qos
        )
        self._lock = threading.Condition()
        self.outputs: dict[int, Output] = {}
        self.diagnostics: list[DiagnosticArray] = []
        reliable = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        base = self.namespace
        self.node.create_subscription(Image, f"{base}/saliency", self._on_map, reliable)
        self.node.create_subscription(
            PointCloud2, f"{base}/saliency/peaks", self._on_peaks, reliable
        )
        self.node.create_subscription(
            PointStamped, f"{base}/saliency/peak", self._on_top_peak, reliable
        )
        self.top_peaks: dict[int, PointStamped] = {}
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self._parameters = self.node.create_client(SetParameters, f"{self.target}/set_parameters")
        self._change_state = self.node.create_client(ChangeState, f"{self.target}/change_state")
        self._get_state = self.node.create_client(GetState, f"{self.target}/get_state")
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._spinner = threading.Thread(target=self.executor.spin, daemon=True)
        self._spinner.start()

    # ------------------------------------------------------------ callbacks

    def _on_map(self, msg: Image) -> None:
        now = time.time_ns()
        with self._lock:
            output = self.outputs.get(stamp_ns(msg.header))
            if output is None:
                self.outputs[stamp_ns(msg.header)] = Output(msg, now)
            else:  # the peaks came first
                output.saliency, output.received_ns = msg, now
            self._lock.notify_all()

    def _on_peaks(self, msg: PointCloud2) -> None:
        regions = regions_from_cloud(msg)
        with self._lock:
            key = stamp_ns(msg.header)
            if key not in self.outputs:
                self.outputs[key] = Output(None, 0, regions)
            else:
                self.outputs[key].regions = regions
            self._lock.notify_all()

    def _on_top_peak(self, msg: PointStamped) -> None:
        with self._lock:
            self.top_peaks[stamp_ns(msg.header)] = msg
            self._lock.notify_all()

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        with self._lock:
            self.diagnostics.append(msg)
            self._lock.notify_all()

    # ------------------------------------------------------------ use

    def wait_for_node(self, timeout_s: float = 20.0) -> bool:
        """Until the node subscribes to our images and publishes its map to us."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if (
                self.image_publisher.get_subscription_count() > 0
                and self.node.count_publishers(f"{self.namespace}/saliency") > 0
            ):
                time.sleep(0.2)  # let both sides finish matching
                return True
            time.sleep(0.02)
        return False

    def publish(self, msg) -> None:
        publisher = self.compressed_publisher if hasattr(msg, "format") else self.image_publisher
        publisher.publish(msg)

    def wait_for_output(self, stamp: int, timeout_s: float, peaks: bool = True) -> Output | None:
        """The node's output for the frame stamped `stamp` ns, or None after `timeout_s`."""

        def ready() -> bool:
            output = self.outputs.get(stamp)
            return bool(output and output.saliency and (output.regions is not None or not peaks))

        with self._lock:
            if self._lock.wait_for(ready, timeout_s):
                return self.outputs[stamp]
            return None

    def send(self, msg, timeout_s: float = 5.0) -> Output | None:
        """Publish a frame and wait for its map and peaks."""
        self.publish(msg)
        return self.wait_for_output(stamp_ns(msg.header), timeout_s)

    def diagnostic_values(self, timeout_s: float = 5.0, after: int | None = None) -> dict:
        """Key-values of the node's next /diagnostics status (after `after` messages seen)."""
        name = f"{self.target}: saliency"
        start = len(self.diagnostics) if after is None else after

        def found():
            return next(
                (s for m in self.diagnostics[start:] for s in m.status if s.name == name), None
            )

        with self._lock:
            self._lock.wait_for(lambda: found() is not None, timeout_s)
            status = found()
        if status is None:
            return {}
        return {"message": status.message, **{kv.key: kv.value for kv in status.values}}

    def set_parameters(self, values: dict, timeout_s: float = 5.0) -> list:
        """Set the node's parameters; returns rcl_interfaces SetParametersResult per value."""
        request = SetParameters.Request()
        request.parameters = [Parameter(k, value=v).to_parameter_msg() for k, v in values.items()]
        return self._call(self._parameters, request, timeout_s).results

    def change_state(self, transition: str, timeout_s: float = 10.0) -> bool:
        request = ChangeState.Request()
        request.transition.id = TRANSITIONS[transition]
        return bool(self._call(self._change_state, request, timeout_s).success)

    def state(self, timeout_s: float = 5.0) -> str:
        return self._call(self._get_state, GetState.Request(), timeout_s).current_state.label

    def _call(self, client, request, timeout_s: float):
        if not client.wait_for_service(timeout_sec=timeout_s):
            raise TimeoutError(f"service {client.srv_name} is not available")
        future = client.call_async(request)
        done = threading.Event()
        future.add_done_callback(lambda _: done.set())
        if not done.wait(timeout_s):
            raise TimeoutError(f"no answer from {client.srv_name} within {timeout_s:g} s")
        return future.result()

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=2.0)
        self._spinner.join(timeout=2.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)

    def __enter__(self) -> SaliencyProbe:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
