"""Command-line tools and clients around the saliency node, outside the node itself.

`replay` plays rosbag2 image topics into the graph; `measure` prints the node's cost and
latency as deployed, with `null_subscriber` (what receiving alone costs) and
`paced_reference` (the node's per-frame work in one process, paced like a camera) beside it;
`probe` is a client of a running node (frames out, outputs collected by stamp) for the tests,
the demo and the measurements; `frames` makes the synthetic camera frame they send.
"""
