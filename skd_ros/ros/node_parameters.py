"""Declaring and reading the saliency node's parameters on its rclpy node.

`params` says what each parameter is and checks values, without rclpy; this module puts them
on a node: declares them (a bad start-up value stops start-up naming the parameter), carries
a value given under a deprecated name over to its new one, and finds start-up values for
names the node never declares (typos).
"""

from __future__ import annotations

from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException
from rclpy.parameter import Parameter

from skd_ros.ros import params


def declare_parameters(node) -> None:
    """Declare every parameter; a bad start-up value raises `params.StartupError`."""
    for spec in params.SPECS:
        try:
            node.declare_parameter(spec.name, spec.default, params.descriptor(spec))
        except (InvalidParameterTypeException, InvalidParameterValueException) as error:
            raise params.StartupError(spec, error) from None


def start_up_values(node) -> dict:
    """The node's start-up values (-p, params file) by name, declared or not."""
    return getattr(node, "_parameter_overrides", {})  # rclpy keeps them only privately


def adopt_renamed_parameters(node) -> None:
    """A start-up value under a deprecated name (input_type) is used for its new name
    (image_transport), with a warning; a value given under the new name wins."""
    given = start_up_values(node)
    for old, new in params.RENAMED.items():
        value = node.get_parameter(old).value
        if value == params.BY_NAME[old].default:
            continue
        if new in given and given[new].value != value:
            node.get_logger().warning(
                f"parameter {old} is deprecated: use {new}; {old}:={value} is ignored, "
                f"{new}:={given[new].value} is given too"
            )
            continue
        node.get_logger().warning(params.renamed_warning(old, value))
        node.set_parameters([Parameter(new, value=value)])


def with_renamed_parameters(node, changes: list[Parameter]) -> list[Parameter]:
    """At run time, a value set under a deprecated name is set under its new one too."""
    names = {change.name for change in changes}
    extra = []
    for change in changes:
        new = params.RENAMED.get(change.name)
        if new and change.value and new not in names:
            node.get_logger().warning(params.renamed_warning(change.name, change.value))
            extra.append(Parameter(new, value=change.value))
    return changes + extra


def unknown_overrides(node, qos: bool) -> list[str]:
    """Start-up values (-p, params file) for names never declared: typos, else silent.
    `qos_overrides.*` (`qos`) are declared with the publishers and the subscription, so
    they can be checked only once the node is active."""
    given = start_up_values(node)
    image = node.resolve_topic_name("image")  # raw or compressed: image_transport may change
    inputs = tuple(f"qos_overrides.{t}.subscription." for t in (image, f"{image}/compressed"))
    return sorted(
        name
        for name in given
        if not node.has_parameter(name)
        and name.startswith("qos_overrides.") == qos
        and not name.startswith(inputs)
    )


def parameter_values(node) -> dict[str, params.Value]:
    """The current value of every parameter of `params.SPECS`, by name."""
    return {spec.name: node.get_parameter(spec.name).value for spec in params.SPECS}
