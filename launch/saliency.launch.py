"""Launch the skd_ros saliency node for one camera.

    ros2 launch skd_ros saliency.launch.py camera_topic:=/camera/image_raw namespace:=front

Arguments: camera_topic, namespace, params_file (default: share/skd_ros/config/saliency.yaml),
model, backend, device and image_transport (empty: as in params_file), node_name, use_sim_time
(input_type, image_transport's old name, is still accepted for one release, with a warning). Several
cameras are several includes of this file with their own namespace and camera_topic (docs/node.md,
"Several cameras"). For large images between processes, export
FASTDDS_DEFAULT_PROFILES_FILE=<share/skd_ros/config/fastdds_shm.xml> (Kilted; on Humble and
Jazzy FASTRTPS_DEFAULT_PROFILES_FILE) for the camera and this launch alike (docs/node.md,
"Transport").
"""

import os

import launch.logging
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription

ARGUMENTS = {
    "camera_topic": ("/camera/image_raw", "camera image topic the node's `image` is remapped to"),
    "namespace": ("", "namespace of the node and its outputs (one per camera)"),
    "params_file": (
        PathJoinSubstitution([FindPackageShare("skd_ros"), "config", "saliency.yaml"]),
        "node parameters (YAML)",
    ),
    "model": ("", "exported model .json; empty: the params file's (default: packaged demo)"),
    "backend": ("", "onnxruntime or torch; empty: the params file's (default: onnxruntime)"),
    "device": ("", "cpu or cuda; empty: the params file's (default: cpu)"),
    "image_transport": (
        "",
        "raw or compressed (<camera_topic>/compressed); empty: the params file's",
    ),
    "input_type": ("", "deprecated, removed in the next release: the old name of image_transport"),
    "node_name": ("saliency", "node name"),
    "use_sim_time": ("false", "use /clock (true when replaying a bag with --clock)"),
}


TRUE, FALSE = ("true", "1", "yes"), ("false", "0", "no")


def _saliency_node(context):
    """The node, with only the overrides that were given (so the params file stays in charge)."""
    overrides = {}
    for name in ("model", "backend", "device", "image_transport"):
        value = LaunchConfiguration(name).perform(context)
        if value:
            overrides[name] = value
    if old := LaunchConfiguration("input_type").perform(context):
        launch.logging.get_logger("launch").warning(
            f"launch argument input_type is deprecated and will be removed in the next release: "
            f"use image_transport:={old}"
            + ("" if "image_transport" not in overrides else " (image_transport is given: it wins)")
        )
        overrides.setdefault("image_transport", old)
    params_file = LaunchConfiguration("params_file").perform(context)
    if not os.path.isfile(params_file):  # launch_ros would only warn and run on defaults
        raise ValueError(f"params_file:={params_file} is not a file (a node parameters YAML)")
    sim_time = LaunchConfiguration("use_sim_time").perform(context).strip().lower()
    if sim_time not in TRUE + FALSE:
        raise ValueError(f"use_sim_time:={sim_time} is not one of {TRUE + FALSE}")
    overrides["use_sim_time"] = sim_time in TRUE
    return [
        Node(
            package="skd_ros",
            executable="saliency_node",
            name=LaunchConfiguration("node_name"),
            namespace=LaunchConfiguration("namespace"),
            parameters=[LaunchConfiguration("params_file"), overrides],
            remappings=[("image", LaunchConfiguration("camera_topic"))],
            output="screen",
            emulate_tty=True,
        )
    ]


def generate_launch_description() -> LaunchDescription:
    declared = [
        DeclareLaunchArgument(name, default_value=default, description=text)
        for name, (default, text) in ARGUMENTS.items()
    ]
    return LaunchDescription([*declared, OpaqueFunction(function=_saliency_node)])
