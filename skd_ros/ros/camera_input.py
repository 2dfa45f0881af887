"""The camera subscription, in a small node of its own, taken by a dedicated thread.

rclpy's executor rebuilds its wait set from every entity of its nodes on each wake-up, in
Python, and wraps each callback in a task. Per camera frame, the saliency node's own
executor (about twenty entities: lifecycle and parameter services, timers, event handlers)
costs the most, an executor that spins a node holding only the subscription less, and a
loop that waits on just that subscription and takes each message least (the measurements:
docs/tools.md, "Numbers"). The last is what this module does:

- the subscription lives in `<node>_camera_input`, a node without parameter services or
  rosout (Nav2's lifecycle nodes use the same pattern for their `<node>_rclcpp_node`);
- one thread waits on it and on its QoS event handlers (message lost, incompatible QoS)
  with a wait set made once, takes each message and calls the callback directly; the
  services and timers stay on the saliency node, whose executor wakes only for them;
- small subscriptions that arrive with every frame (`also`: the camera's camera_info) are
  served by the same thread: in the saliency node's executor each message would cost a
  wake-up of about twenty entities.

The wait set and the take come from rclpy's C extension (`_rclpy.WaitSet`,
`Subscription.handle.take_message`), the same calls rclpy's executors make; the event
handlers are driven through rclpy's public `Waitable` protocol.

A message the wait set reports but the take yields nothing of (its serialized data cannot
be read as the subscribed type: truncated, or another type) goes to `on_unreadable`, so the
owner can count it as malformed instead of never hearing of it.

The owner resolves the topic name (so remappings apply as they always did) and its QoS
(including the `qos_overrides.<topic>.subscription.*` parameters, declared on the owner by
`skd_ros.ros.qos_overrides`);
the helper ignores global command-line arguments, so `__node:=` and `__ns:=` remappings do
not rename it into a clash.
"""

from __future__ import annotations

import contextlib
import threading
import time

import rclpy
from rclpy.exceptions import InvalidHandle
from rclpy.guard_condition import GuardCondition
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile

HELPER_SUFFIX = "_camera_input"
# `close` wakes the loop at once; the timeout only bounds a wait that nothing wakes
# (e.g. the context shut down under it). Idle wake-ups cost CPU: keep them rare.
WAIT_NS = 1_000_000_000
# how long `close` (so deactivate, cleanup, shutdown) waits for a callback still running: a
# frame's conversion is bounded (`skd_ros.images.limits`), but can take seconds at 64 MP
CLOSE_WAIT_S = 1.0
RCLError = _rclpy.RCLError


class CameraInput:
    """A subscription to `topic` whose callback runs in a dedicated thread and node."""

    def __init__(
        self,
        owner: Node,
        topic: str,
        msg_type,
        qos: QoSProfile,
        callback,
        event_callbacks,
        on_unreadable=None,
        also: tuple = (),
    ) -> None:
        """`on_unreadable()`: called for a camera message that cannot be deserialized;
        `also`: (msg_type, topic, qos, callback) of further subscriptions for this thread."""
        self.node = rclpy.create_node(
            owner.get_name() + HELPER_SUFFIX,
            namespace=owner.get_namespace(),
            context=owner.context,
            use_global_arguments=False,
            start_parameter_services=False,
            enable_rosout=False,
            # no executor spins this node: it must not offer a service nobody answers
            parameter_overrides=[Parameter("start_type_description_service", value=False)],
        )
        try:
            self.subscription = self.node.create_subscription(
                msg_type, topic, callback, qos, event_callbacks=event_callbacks
            )
            self._also = [self.node.create_subscription(t, n, c, q) for t, n, q, c in also]
        except Exception:
            self.node.destroy_node()
            raise
        self._events = list(self.subscription.event_handlers)
        self._on_unreadable = on_unreadable
        self._logger = self.node.get_logger()
        self._stop = threading.Event()
        self._wake = GuardCondition(None, None, context=self.node.context)
        self._thread = threading.Thread(target=self._run, name="camera-input", daemon=True)
        self._thread.start()

    @property
    def qos_profile(self) -> QoSProfile:
        return self.subscription.qos_profile

    def _running(self) -> bool:
        return not self._stop.is_set() and self.node.context.ok()

    def _run(self) -> None:
        context = self.node.context
        try:
            with context.handle:
                subscriptions = 1 + len(self._also)
                wait_set = _rclpy.WaitSet(
                    subscriptions, 1, 0, 0, 0, len(self._events), context.handle
                )
                while self._running():
                    self._serve(wait_set)
        except (RCLError, InvalidHandle) as error:  # the context went away: shutting down
            if self._running():
                self._logger.error(f"camera input stopped: {error}")

    def _serve(self, wait_set) -> None:
        """One wait and what it brought; an error is logged and the loop goes on."""
        try:
            self._wait_and_take(wait_set)
        except (RCLError, InvalidHandle):
            if not self._running():
                raise
            self._logger.error(
                "camera input: taking a message failed; retrying", throttle_duration_sec=5.0
            )
            time.sleep(0.01)
        except Exception as error:  # a callback's own bug must not stop the camera input
            self._logger.error(
                f"camera input: {type(error).__name__}: {error}", throttle_duration_sec=5.0
            )

    def _wait_and_take(self, wait_set) -> None:
        subscriptions = [self.subscription, *self._also]
        wait_set.clear_entities()
        with contextlib.ExitStack() as in_use:  # nothing is destroyed while we wait on it
            for subscription in subscriptions:
                in_use.enter_context(subscription.handle)
                wait_set.add_subscription(subscription.handle)
            in_use.enter_context(self._wake.handle)
            wait_set.add_guard_condition(self._wake.handle)
            for handler in self._events:
                in_use.enter_context(handler)
                handler.add_to_wait_set(wait_set)
            wait_set.wait(WAIT_NS)
            for handler in self._events:
                if handler.is_ready(wait_set) and (data := handler.take_data()) is not None:
                    self._call(handler.callback, data)
            ready = wait_set.get_ready_entities("subscription")
            taken = [
                (s, s.handle.take_message(s.msg_type, s.raw))
                for s in subscriptions
                if s.handle.pointer in ready
            ]
        for subscription, message in taken:
            if message is not None:
                subscription.callback(message[0])
            elif subscription is self.subscription and self._on_unreadable is not None:
                self._on_unreadable()  # ready, yet nothing could be deserialized

    def _call(self, callback, data) -> None:
        try:
            callback(data)
        except Exception as error:
            self._logger.error(
                f"camera input event: {type(error).__name__}: {error}", throttle_duration_sec=5.0
            )

    def close(self) -> None:
        """Stop receiving: no callback starts after this returns. One still running after
        `CLOSE_WAIT_S` (a slow frame) is not waited for: it finishes on its own, and the
        thread ends after it (it holds none of what is destroyed here)."""
        self._stop.set()
        with contextlib.suppress(RCLError, InvalidHandle):  # the context may be gone
            self._wake.trigger()
        self._thread.join(CLOSE_WAIT_S)  # woken now, unless a callback is still running
        if self._thread.is_alive():
            self._logger.warning(
                f"camera input: a frame was still being converted after {CLOSE_WAIT_S} s; "
                "not waiting for it"
            )
        self._wake.destroy()
        for subscription in (self.subscription, *self._also):
            self.node.destroy_subscription(subscription)
        self.node.destroy_node()
