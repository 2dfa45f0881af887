"""The ROS 2 layer of skd_ros: the saliency node, a thin shell over `skd_ros.inference` and
`skd_ros.images`.

`skd_ros.images` (outside this layer: bag reading shares it) checks and converts camera
messages; here `node` is the lifecycle node, `camera_input` and `camera_info` its
subscriptions, `outputs` its publishers, `messages` builds the output messages, `params`
describes and checks the node's parameters and `node_parameters` declares them on it,
`qos_overrides` applies its QoS override parameters, `stats` and `diagnostics`
keep and publish the node's health, `hints` words what it logs about transport, QoS and the
model, `environment` makes a delivery-safe, machine-local ROS environment for child
processes, `ros_args` says in one line what `rclpy.init` refused, `signals` keeps clean-up
whole under repeated or terminating signals.

The command-line tools around the node (`replay`, `measure`, the test client `probe`) are in
`skd_ros.tools`.
"""
