"""Lifecycle services that answer every request, however many arrive at once.

rclpy's LifecycleNode serves `~/change_state`, `~/get_state`, ... through the services that
rcl_lifecycle creates, on rcl's default service QoS: KEEP_LAST, depth 10. Requests that
arrive before the executor takes them (a mission manager's burst, or a few while a slow
`configure` holds the executor) replace the oldest beyond ten, whose callers then wait for
ever: 16 of 40 sent at once here. `serve_lifecycle` gives a node made with
`enable_communication_interface=False` the same five services (names, types, rclpy's own
handlers) with KEEP_ALL history: requests wait until served, and reliable delivery slows a
sender down rather than drop one. The transition events rcl published through the
interface left out are published here the same way (start and goal state of each step, on
`~/transition_event`).
"""

from __future__ import annotations

from lifecycle_msgs.msg import State, TransitionEvent
from lifecycle_msgs.srv import ChangeState, GetAvailableStates, GetAvailableTransitions, GetState
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

SERVICE_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_ALL,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)
SERVICES = (
    (ChangeState, "change_state"),
    (GetState, "get_state"),
    (GetAvailableStates, "get_available_states"),
    (GetAvailableTransitions, "get_available_transitions"),
    (GetAvailableTransitions, "get_transition_graph"),
)


def serve_lifecycle(node) -> None:
    """Create the lifecycle services and transition events of `node` (module docstring)."""
    for srv_type, name in SERVICES:
        handler = getattr(node, f"_LifecycleNodeMixin__on_{name}")  # rclpy's, as it serves
        node.create_service(srv_type, f"~/{name}", handler, qos_profile=SERVICE_QOS)
    events = node.create_publisher(TransitionEvent, "~/transition_event", 10)
    node._state_machine = _PublishingStateMachine(node._state_machine, events)


class _PublishingStateMachine:
    """rclpy's state machine, publishing each step of a transition as rcl_lifecycle does."""

    def __init__(self, machine, publisher) -> None:
        self._machine, self._publisher = machine, publisher

    def __getattr__(self, name: str):
        return getattr(self._machine, name)

    def trigger_transition_by_id(self, transition_id: int, publish: bool) -> None:
        start = self._machine.current_state
        self._machine.trigger_transition_by_id(transition_id, False)
        self._published(start, publish)

    def trigger_transition_by_label(self, label: str, publish: bool) -> None:
        start = self._machine.current_state
        self._machine.trigger_transition_by_label(label, False)
        self._published(start, publish)

    def _published(self, start: tuple[int, str], publish: bool) -> None:
        if publish:
            goal = self._machine.current_state
            self._publisher.publish(
                TransitionEvent(
                    start_state=State(id=start[0], label=start[1]),
                    goal_state=State(id=goal[0], label=goal[1]),
                )
            )
