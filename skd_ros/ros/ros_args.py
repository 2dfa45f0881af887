"""`rclpy.init`'s refusals of a command line's ROS arguments, said in one line.

Plain Python; no rclpy import (the errors are recognised by their class name).
"""

from __future__ import annotations

VALID = "-p name:=value, -r from:=to, --params-file FILE, --log-level LEVEL"


def init_refusal(error: Exception) -> str:
    """What was wrong with the arguments after `--ros-args`, without rcl's source location."""
    if type(error).__name__ == "UnknownROSArgsError":
        return f"unknown ROS argument(s) after --ros-args: {error} (known ones: {VALID})"
    return str(error).split(", at ")[0]  # e.g. a --params-file that does not parse
