"""Run an exported Sst on camera frames, without ROS and without torch.

`model_files` reads an exported model's description, `engine` runs it (ONNX Runtime by
default, torch optionally), `pairing` keeps the previous frame and decides when to reset it,
`peaks` turns a saliency map into salient regions. The ROS node (`skd_ros.ros`) is a thin
layer over these.
"""
