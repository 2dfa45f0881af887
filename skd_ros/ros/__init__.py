"""The ROS 2 layer of skd_ros: a thin shell over `skd_ros.inference` and `skd_ros.images`.

`skd_ros.images` (outside this layer: bag reading shares it) checks and converts camera
messages; here `messages` builds the output messages,
`params` declares and checks the node's parameters, `stats` and `diagnostics` keep and
publish the node's health, `node` is the lifecycle node, `replay` plays rosbag2 image topics
into the graph, `environment` makes a delivery-safe, machine-local ROS environment for child
processes, `ros_args` says in one line what `rclpy.init` refused, `signals`
keeps clean-up whole under repeated or terminating signals, `measure` prints the node's
cost and latency.

Only `node`, `replay`, `measure`, `messages` and `diagnostics` import rclpy.
"""
