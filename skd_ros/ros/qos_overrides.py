"""The `qos_overrides.<topic>.<publisher|subscription>.*` parameters: applied as rclpy applies
them, and a value rclpy cannot use reported in one line that names the parameter and the fix.

rclpy raises an exception from deep inside `create_publisher` or its parameter code for a
bad override (`reliability:=bogus`, `depth:=abc`); the node turns it into a failed transition
with this message instead of a traceback.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator

from rcl_interfaces.msg import SetParametersResult
from rclpy.exceptions import InvalidParameterTypeException
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.qos_overriding_options import (
    InvalidQosOverridesError,
    QoSOverridingOptions,
    _declare_qos_parameters,
)
from rclpy.subscription import Subscription


def _names(policy) -> str:
    """The values this ROS distribution accepts for `policy` (UNKNOWN is not a setting)."""
    return ", ".join(m.name.lower() for m in policy if m.name != "UNKNOWN")


# the policies rclpy's default overriding options declare
ACCEPTED = (
    f"reliability: {_names(ReliabilityPolicy)}; history: {_names(HistoryPolicy)}; "
    "depth: an integer >= 0"
)


class QosOverrideError(ValueError):
    """A `qos_overrides.*` parameter that rclpy cannot apply; the message says which and why."""


@contextlib.contextmanager
def explained(topic: str, entity: str) -> Iterator[None]:
    """Turn rclpy's error for a bad override of `topic`'s `entity` into a QosOverrideError."""
    try:
        yield
    except (InvalidParameterTypeException, InvalidQosOverridesError) as error:
        raise QosOverrideError(_message(topic, entity, error)) from None
    except RuntimeError as error:  # rclpy's "Unexpected QoS override for policy ..."
        if "QoS override" not in str(error):
            raise
        raise QosOverrideError(_message(topic, entity, error)) from None


def overriding_options() -> QoSOverridingOptions:
    """rclpy's default overridable policies (history, depth, reliability), checked here for
    what rclpy passes through to the middleware unchecked (a negative depth, 'unknown')."""
    return QoSOverridingOptions.with_default_policies(callback=_check)


def overridden_qos(owner: Node, topic: str, default: QoSProfile) -> QoSProfile:
    """`default` with the owner's `qos_overrides.<topic>.subscription.*` parameters applied
    (declared on the owner, read-only, as rclpy does for its own subscriptions)."""
    qos = copy.copy(default)
    with explained(topic, "subscription"):
        _declare_qos_parameters(Subscription, owner, topic, qos, overriding_options())
    return qos


def _check(qos: QoSProfile) -> SetParametersResult:
    """What rclpy lets through and the middleware then refuses with a traceback."""
    reason = ""
    if qos.depth < 0:
        reason = f"depth {qos.depth} is negative"
    elif qos.reliability == ReliabilityPolicy.UNKNOWN:
        reason = "reliability 'unknown' is not a setting"
    elif qos.history == HistoryPolicy.UNKNOWN:
        reason = "history 'unknown' is not a setting"
    return SetParametersResult(successful=not reason, reason=reason)


def _message(topic: str, entity: str, error: Exception) -> str:
    return (
        f"qos_overrides.{topic}.{entity}.*: {error}. Accepted: {ACCEPTED}. These parameters "
        "are read-only: correct the -p argument or the params file, then restart the node"
    )
