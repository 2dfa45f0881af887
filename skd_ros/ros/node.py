"""The saliency node: camera frames in, saliency map and salient regions out.

A managed (lifecycle) node. `configure` loads the exported model, `activate` subscribes to
the camera and starts the inference worker, `deactivate` unsubscribes and stops the worker
(no CPU used while a mission manager has perception off), `cleanup` frees the model. With
`autostart: true` (the default) it configures and activates itself, so a plain `ros2 run`
works; a missing or broken model then stops start-up with a message naming the file.

Threads: the camera subscription has its own small node and receiving thread
(`skd_ros.ros.camera_input`, `<name>_camera_input`); its callback checks the frame and
reduces it with R (while the pixels are in cache) and puts the result in a one-frame
mailbox (`LatestSlot`); the same thread takes the camera's camera_info
(`skd_ros.ros.camera_info`). A worker thread takes the newest frame, runs Sst with the
previous frame, finds the peaks, gives them track ids (`skd_ros.inference.tracking`) and,
with a camera_info, bearings (`skd_ros.geometry`), and publishes. Frames replaced in the
mailbox are counted as dropped. The main executor serves the lifecycle and parameter services
and the timers.
The inference core is `skd_ros.inference` (no rclpy there).
Beside this module: `node_parameters` puts the parameters on the node, `outputs` creates
and feeds its publishers, `hints` words what it logs about transport, QoS and the model.

Run: `ros2 run skd_ros saliency_node --ros-args -r image:=/camera/image_raw` or
`python -m skd_ros.ros.node --ros-args ...`; topics, parameters and messages: docs/node.md.
"""

from __future__ import annotations

import functools
import sys
import threading
import time
import traceback
from typing import NamedTuple

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.clock import Clock, ClockType
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.executors import ExternalShutdownException
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CompressedImage, Image

from skd_ros.geometry import Camera, add_bearings
from skd_ros.images.messages import CameraFrame, MalformedImage, camera_frame
from skd_ros.inference.engine import SaliencyEngine, SaliencyStream
from skd_ros.inference.pairing import FIRST_FRAME
from skd_ros.inference.peaks import find_regions
from skd_ros.inference.tracking import RegionTracker
from skd_ros.logs import setup_logging
from skd_ros.ros import hints, params
from skd_ros.ros.camera_info import CameraInfoInput
from skd_ros.ros.camera_input import CameraInput
from skd_ros.ros.diagnostics import PROCESSING_ERROR, UNDELIVERED, UNREADABLE, diagnostic_array
from skd_ros.ros.environment import (
    fastdds_generation,
    profile_variable_warning,
    release_runtime,
    reuse_large_buffers,
    settle_runtime,
    shared_memory_warning,
    shm_profile_in_use,
)
from skd_ros.ros.latest import LatestSlot
from skd_ros.ros.lifecycle_services import serve_lifecycle
from skd_ros.ros.node_parameters import (
    adopt_renamed_parameters,
    declare_parameters,
    parameter_values,
    unknown_overrides,
    with_renamed_parameters,
)
from skd_ros.ros.outputs import create_outputs, publish_outputs, without_event_handlers
from skd_ros.ros.qos_overrides import QosOverrideError, overridden_qos
from skd_ros.ros.ros_args import init_refusal
from skd_ros.ros.signals import ignore_further_interrupts
from skd_ros.ros.stats import NodeStats, Snapshot, Throttle

try:
    from rclpy.event_handler import SubscriptionEventCallbacks
except ImportError:  # ROS 2 Humble
    from rclpy.qos_event import SubscriptionEventCallbacks

NODE_NAME = "saliency"
STEADY_CLOCK = Clock(clock_type=ClockType.STEADY_TIME)
# sensor-data QoS with depth 1: a late frame is replaced, never queued
INPUT_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.BEST_EFFORT,
    durability=DurabilityPolicy.VOLATILE,
)
LOST_IN_TRANSPORT = "lost in transport"


class ReceivedFrame(NamedTuple):
    """A checked camera frame and its model input, waiting for the worker."""

    msg: object
    frame: CameraFrame
    model_input: np.ndarray  # (3, side, side) float32
    received_ns: int
    receive_cpu_ns: int  # CPU spent checking and reducing it in the receiving thread


def _transition(callback):
    """Log an unexpected exception in a transition (rclpy would swallow it) and fail it."""

    @functools.wraps(callback)
    def wrapper(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            return callback(self, state)
        except Exception:
            self.get_logger().error(
                f"{callback.__name__} failed unexpectedly:\n{traceback.format_exc()}"
            )
            return TransitionCallbackReturn.ERROR

    return wrapper


class SaliencyNode(LifecycleNode):
    """Lifecycle node: `saliency` (+ camera_info), `saliency/peaks`, `saliency/detections`,
    `saliency/peak`, markers, overlay, status."""

    def __init__(self, **kwargs) -> None:
        super().__init__(NODE_NAME, enable_communication_interface=False, **kwargs)
        serve_lifecycle(self)  # rcl's lifecycle services dropped requests beyond ten
        self.stats = NodeStats()
        self._slot: LatestSlot[ReceivedFrame] = LatestSlot()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._stream: SaliencyStream | None = None
        self._outputs: dict[str, object] = {}
        self._subscription = None
        self._camera_infos: CameraInfoInput | None = None
        self._tracker = RegionTracker()
        self._input_topic = ""
        self._node_timers: list = []
        self._diagnostics_pub = None
        self._activated_ns = time.monotonic_ns()
        self._hint_timer = None
        self._hinted = False
        self._previous_snapshot: Snapshot | None = None
        self.state = "unconfigured"
        # checked before declaring: start-up values (-p, params file) get the same checks
        self._declared = False
        # rclpy >= 3.7 (Iron) has pre- and post-set callbacks; Humble's has only the check
        self._post_set = hasattr(self, "add_post_set_parameters_callback")
        self.add_on_set_parameters_callback(self._check_parameters)
        declare_parameters(self)
        self._declared = True
        adopt_renamed_parameters(self)
        if self._post_set:
            self.add_pre_set_parameters_callback(functools.partial(with_renamed_parameters, self))
            self.add_post_set_parameters_callback(self._apply_parameters)
        self.settings = params.Settings.from_values(parameter_values(self))
        self._throttle = Throttle(self.settings.warn_throttle_s)
        if unknown := unknown_overrides(self, qos=False):
            self.get_logger().warning(hints.unknown_parameters_warning(unknown))
        self._qos_overrides_checked = False

    # ---------------------------------------------------------------- parameters

    def _check_parameters(self, changes: list[Parameter]) -> SetParametersResult:
        reasons = [r for p in changes if (r := params.check(p.name, p.value)) is not None]
        for reason in reasons if self._declared else ():  # at start-up: StartupError says it
            self.get_logger().warning(f"parameter refused: {reason}")
        if not reasons and self._declared and not self._post_set:
            new = {p.name: p.value for p in changes if p.name in params.BY_NAME}
            self._apply_parameters(changes, {**parameter_values(self), **new})
        return SetParametersResult(successful=not reasons, reason="; ".join(reasons))

    def _apply_parameters(
        self, changes: list[Parameter], values: dict[str, params.Value] | None = None
    ) -> None:
        """Take accepted changes into the settings; `values` are the new ones where rclpy
        (Humble) calls back before it sets them."""
        self.settings = params.Settings.from_values(values or parameter_values(self))
        self._throttle.period_s = self.settings.warn_throttle_s
        if self._stream is not None:
            self._stream.pairer.max_gap_s = self.settings.max_gap_s
        later = [p.name for p in changes if p.name in params.BY_NAME]
        later = [n for n in later if params.BY_NAME[n].applies != "runtime"]
        if later:
            self.get_logger().info(
                "set "
                + ", ".join(f"{n} (applies at the next {params.BY_NAME[n].applies})" for n in later)
            )

    @property
    def autostart(self) -> bool:
        return bool(self.get_parameter("autostart").value)

    # ---------------------------------------------------------------- lifecycle

    @_transition
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        values = parameter_values(self)
        try:
            engine = SaliencyEngine(
                values["model"] or None,
                backend=str(values["backend"]),
                device=str(values["device"]),
                threads=int(values["threads"]),
            )
        except Exception as error:  # model file and backend errors carry their own advice
            self.get_logger().error(hints.model_error(error))
            return TransitionCallbackReturn.FAILURE
        try:
            self._create_publishers()
        except QosOverrideError as error:
            self.get_logger().error(str(error))
            self._release()
            return TransitionCallbackReturn.FAILURE
        self._stream = SaliencyStream(engine, self.settings.max_gap_s)
        self.get_logger().info(f"loaded {engine} from {engine.description.path}")
        generation = fastdds_generation()
        if shm_profile_in_use(generation=generation) and (shortage := shared_memory_warning()):
            self.get_logger().warning(shortage)
        if (unused := profile_variable_warning(generation=generation)) is not None:
            self.get_logger().warning(unused)
        period = float(values["diagnostics.period_s"])
        # wall-clock timers: with use_sim_time, /clock stops when a bag ends (or before it
        # starts), and the node's status must not stop with it
        timer = self.create_timer(period, self._publish_diagnostics, clock=STEADY_CLOCK)
        self._node_timers.append(timer)
        self.state = "inactive"
        settle_runtime()
        return super().on_configure(state)

    def _create_publishers(self) -> None:
        create_outputs(self, self._outputs)
        self._diagnostics_pub = self.create_publisher(
            DiagnosticArray, "/diagnostics", 10, **without_event_handlers()
        )

    @_transition
    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        compressed = self.get_parameter("image_transport").value == "compressed"
        topic = self.resolve_topic_name("image") + ("/compressed" if compressed else "")
        try:
            qos = overridden_qos(self, topic, INPUT_QOS)
        except QosOverrideError as error:
            self.get_logger().error(str(error))
            return TransitionCallbackReturn.FAILURE
        result = super().on_activate(state)
        self._stream.reset()
        self._slot.clear()
        self._camera_infos = CameraInfoInput(self.resolve_topic_name("image"))
        self._subscribe(topic, CompressedImage if compressed else Image, qos)
        self._stop.clear()
        self._worker = threading.Thread(target=self._work, name="saliency-worker", daemon=True)
        self._worker.start()
        hint_after = float(self.get_parameter("qos_hint_after_s").value)
        self._hinted = False
        self._activated_ns = time.monotonic_ns()
        self._hint_timer = self.create_timer(hint_after, self._check_silence, clock=STEADY_CLOCK)
        self.state = "active"
        output = self._outputs["saliency"].topic_name
        self.get_logger().info(f"active: {self._input_topic} -> {output}")
        if not self._qos_overrides_checked and (unknown := unknown_overrides(self, qos=True)):
            self.get_logger().warning(hints.unmatched_qos_overrides_warning(unknown))
        self._qos_overrides_checked = True
        return result

    def _subscribe(self, topic: str, msg_type, qos: QoSProfile) -> None:
        events = SubscriptionEventCallbacks(
            message_lost=self._on_messages_lost,
            incompatible_qos=self._on_incompatible_qos,
        )
        self._input_topic = topic
        self._subscription = CameraInput(
            self,
            topic,
            msg_type,
            qos,
            self._on_image,
            events,
            on_unreadable=self._on_unreadable,
            also=(self._camera_infos.subscription,),
        )

    @_transition
    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_processing()
        self.state = "inactive"
        self.get_logger().info("inactive: unsubscribed, perception off (activate resumes it)")
        return super().on_deactivate(state)

    @_transition
    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        self.state = "unconfigured"
        self.get_logger().info("unconfigured: model and publishers freed (configure reloads)")
        return super().on_cleanup(state)

    @_transition
    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_processing()
        self._release()
        self.state = "finalized"
        self.get_logger().info("finalized: everything freed; the process stays until stopped")
        return super().on_shutdown(state)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """A transition failed unexpectedly: free everything, go back to unconfigured (from
        where `configure` starts afresh, without duplicating publishers or timers)."""
        try:
            self._stop_processing()
            self._release()
        except Exception:
            self.get_logger().error(f"cleaning up after an error failed:\n{traceback.format_exc()}")
            self.state = "finalized"
            return TransitionCallbackReturn.FAILURE
        self.state = "unconfigured"
        self.get_logger().error("a transition failed; the node is unconfigured (see above)")
        return TransitionCallbackReturn.SUCCESS

    def _stop_processing(self) -> None:
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None
        self._camera_infos = None  # unsubscribed with the camera input
        if self._hint_timer is not None:
            self.destroy_timer(self._hint_timer)
            self._hint_timer = None
        self._stop.set()
        self._slot.interrupt()
        if self._worker is not None:
            self._worker.join(timeout=10.0)
            self._worker = None
        self._slot.clear()

    def _release(self) -> None:
        for timer in self._node_timers:
            self.destroy_timer(timer)
        self._node_timers = []
        for publisher in self._outputs.values():
            self.destroy_lifecycle_publisher(publisher)
        self._outputs = {}
        if self._diagnostics_pub is not None:
            self.destroy_publisher(self._diagnostics_pub)
            self._diagnostics_pub = None
        self._stream = None
        release_runtime()

    def start(self) -> bool:
        """Configure and activate (autostart); False, with the reason logged, on failure."""
        if self.trigger_configure() != TransitionCallbackReturn.SUCCESS:
            self.get_logger().fatal("start-up stopped: the node could not be configured")
            return False
        if self.trigger_activate() != TransitionCallbackReturn.SUCCESS:
            self.get_logger().fatal("start-up stopped: the node could not be activated")
            return False
        return True

    def close(self) -> None:
        """Stop the worker and release everything (on exit, whatever the state)."""
        self._stop_processing()
        self._release()

    def destroy_node(self) -> None:
        """Stop the camera input and the worker first: they run outside the executor."""
        self.close()
        super().destroy_node()

    # ---------------------------------------------------------------- frames

    def _on_image(self, msg) -> None:
        """Check and reduce the frame in the receiving thread, while its pixels are still in
        this core's cache (the worker would read them cold); hand the worker the result."""
        received_ns, cpu_start = time.monotonic_ns(), time.thread_time_ns()
        stream = self._stream
        try:
            with self.stats.busy("receiving thread", f"checking and reducing {_described(msg)}"):
                frame = camera_frame(msg)
                model_input = frame.model_input(stream.engine.resolution)
        except MalformedImage as error:
            cause, why = error.cause, str(error)
        except Exception as error:  # never let a frame stop the receiving thread
            cause, why = PROCESSING_ERROR, _named(error)
        else:
            cpu_ns = time.thread_time_ns() - cpu_start
            item = ReceivedFrame(msg, frame, model_input, received_ns, cpu_ns)
            self.stats.frame_received(received_ns, replaced_older=self._slot.put(item))
            return
        self.stats.frame_received(received_ns, replaced_older=False)
        self._skip(cause, f"skipped a frame on {self._input_topic}: {why}")

    def _on_messages_lost(self, info) -> None:
        """Frames the middleware reports lost before they reached this node: counted, and
        said (throttled), since no callback of ours ever sees them. On the shared-memory
        profile large frames pass, so what is lost there was malformed (e.g. empty)."""
        count, shared_memory = info.total_count_change, shm_profile_in_use()
        said = hints.messages_lost_warning(
            self._input_topic, count, info.total_count, shared_memory
        )
        if shared_memory:
            self.stats.frame_rejected(UNDELIVERED, count)
            self._warn(UNDELIVERED, said)
            return
        self.stats.messages_lost(count)
        self._warn(LOST_IN_TRANSPORT, said)

    def _on_unreadable(self) -> None:
        """A message arrived that the middleware could not deserialize: malformed."""
        self.stats.frame_received(time.monotonic_ns(), replaced_older=False)
        self._skip(
            UNREADABLE,
            f"skipped a message on {self._input_topic}: it arrived, but its serialized data "
            "cannot be read as the subscribed type (truncated or of another type)",
        )

    def _work(self) -> None:
        while not self._stop.is_set():
            item = self._slot.take(timeout=1.0)  # `interrupt` wakes it to stop
            if item is None:
                continue
            try:
                with self.stats.busy("worker", f"{_described(item.msg)} (Sst, peaks, outputs)"):
                    self._process(item)
            except Exception as error:  # keep running; counted, and logged throttled
                if not self.context.ok():  # Ctrl-C shut the context down under this frame
                    return
                self._skip(
                    PROCESSING_ERROR, f"a frame from {self._input_topic} failed: {_named(error)}"
                )

    def _process(self, item: ReceivedFrame) -> None:
        cpu_start = time.thread_time_ns()
        settings, stream = self.settings, self._stream
        msg, frame, model_input = item.msg, item.frame, item.model_input
        stamp = msg.header.stamp
        result = stream.step(
            model_input, stamp.sec * 1_000_000_000 + stamp.nanosec, frame.frame_format
        )
        if result.reset is not None:
            self.stats.chain_reset(result.reset)
            if result.reset != FIRST_FRAME:
                self._info(result.reset, f"frame pair restarted: {result.reset} ({result.detail})")
        size = (frame.width, frame.height)
        regions = find_regions(
            result.saliency,
            size,
            threshold=settings.threshold,
            max_regions=settings.max_regions,
            nms_iou=settings.nms_iou,
            relative=settings.relative_threshold,
        )
        camera = self._track_and_locate(regions, stamp, size, result.reset is not None, settings)
        publish_outputs(
            self._outputs, msg.header, frame, result.saliency, regions, settings, camera
        )
        cpu_ns = item.receive_cpu_ns + time.thread_time_ns() - cpu_start
        self.stats.frame_published(item.received_ns, time.monotonic_ns(), cpu_ns)

    def _track_and_locate(self, regions, stamp, size, restarted: bool, settings) -> Camera | None:
        """Give the regions their track ids (the tracks restart with the frame pair) and,
        when the frame's camera_info is known, their bearings; returns that camera."""
        tracker = self._tracker
        if restarted:
            tracker.reset()
        tracker.max_age_s = settings.tracking_max_age_s
        tracker.max_shift = settings.tracking_max_shift
        stamp_ns = stamp.sec * 1_000_000_000 + stamp.nanosec
        tracker.update(regions, stamp_ns)
        camera, refused, infos = None, (), self._camera_infos  # deactivate may clear it
        if infos is not None:
            camera, refused = infos.for_frame(stamp_ns, size)
        if refused:
            self._warn(*refused)
        if camera is not None:
            add_bearings(regions, camera)
        return camera

    # ---------------------------------------------------------------- health

    def _skip(self, cause: str, text: str) -> None:
        """Count a frame that was not processed, by cause, and say why (throttled)."""
        self.stats.frame_rejected(cause)
        self._warn(cause, text)

    def _warn(self, cause: str, text: str) -> None:
        log, suppressed = self._throttle.should_log(cause)
        if log:
            more = f" ({suppressed} more since the last warning)" if suppressed else ""
            self.get_logger().warning(text + more)

    def _info(self, cause: str, text: str) -> None:
        log, suppressed = self._throttle.should_log(cause)
        if log:
            more = f" ({suppressed} more since)" if suppressed else ""
            self.get_logger().info(text + more)

    def _publish_diagnostics(self) -> None:
        if self._diagnostics_pub is None:
            return
        snapshot = self.stats.snapshot()
        extra = {"input topic": self._input_topic}
        if self._stream is not None:
            engine = self._stream.engine
            extra["model"] = str(engine.description.path)
            extra["backend"] = f"{engine.backend}/{engine.device}, {engine.threads} thread(s)"
        name = f"{self.get_fully_qualified_name()}: saliency"
        stamp = self.get_clock().now().to_msg()
        self._diagnostics_pub.publish(
            diagnostic_array(stamp, name, snapshot, self._previous_snapshot, self.state, extra)
        )
        self._previous_snapshot = snapshot

    def _check_silence(self) -> None:
        """Log a QoS / transport hint once when publishers exist but no frame arrives."""
        after_s = float(self.get_parameter("qos_hint_after_s").value)
        last = self.stats.last_arrival_ns() or self._activated_ns
        if (time.monotonic_ns() - last) / 1e9 < after_s:
            self._hinted = False
            return
        publishers = self.get_publishers_info_by_topic(self._input_topic)
        if self._hinted or not publishers:
            return
        self._hinted = True
        ours = self._subscription.qos_profile if self._subscription else INPUT_QOS
        busy = self.stats.longest_busy()
        self.get_logger().warning(
            hints.no_frames_warning(self._input_topic, after_s, publishers, ours, busy)
        )

    def _on_incompatible_qos(self, info) -> None:
        policy = getattr(info.last_policy_kind, "name", info.last_policy_kind)
        self.get_logger().error(hints.incompatible_qos_error(self._input_topic, policy))


def _named(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"


def _described(msg) -> str:
    """'a 1280x720 bgr8 frame' / 'a 81234 B jpeg frame', for the busy marks."""
    if hasattr(msg, "format"):
        return f"a {len(msg.data)} B {msg.format or 'compressed'} frame"
    return f"a {msg.width}x{msg.height} {msg.encoding} frame"


def main(argv: list[str] | None = None) -> int:
    """Entry point of `saliency_node` / `python -m skd_ros.ros.node`."""
    setup_logging()
    args = sys.argv if argv is None else argv
    ours = args[1 : args.index("--ros-args")] if "--ros-args" in args else args[1:]
    if "-h" in ours or "--help" in ours:
        print(params.usage())
        return 0
    reuse_large_buffers()  # before any frame buffer is allocated; see its docstring
    try:
        rclpy.init(args=args)
    except RuntimeError as error:  # rcl's: unknown ROS arguments, a bad --params-file
        rclpy.logging.get_logger(NODE_NAME).fatal(f"start-up stopped: {init_refusal(error)}")
        return 1
    node = None
    code = 0
    try:
        node = SaliencyNode()
        if node.autostart and not node.start():
            code = 1
        else:
            rclpy.spin(node)
    except (  # ours, and rclpy's own (use_sim_time, declared before any of ours)
        params.StartupError,
        InvalidParameterTypeException,
        InvalidParameterValueException,
    ) as error:
        rclpy.logging.get_logger(NODE_NAME).fatal(f"start-up stopped: {error}")
        code = 1
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        ignore_further_interrupts()  # Ctrl-C in a terminal and `ros2 launch` each send one
        if node is not None:
            node.close()
            node.destroy_node()
        rclpy.try_shutdown()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
