"""Camera image messages -> checked frames, for every part of skd_ros that reads them.

The node, bag reading (training, evaluation, the demo) and the benchmarks all go through
this package, so they accept and refuse the same messages and convert them the same way:
`limits` says how much one frame may cost to decode, `headers` reads what a JPEG or PNG
header declares (the way the decoders read it) and `messages` checks and converts
`sensor_msgs/msg/Image` and `CompressedImage` messages. Nothing here imports ROS.
"""


class MalformedImage(ValueError):
    """A message that cannot be a camera frame; `cause` is a short key for counting."""

    def __init__(self, cause: str, detail: str) -> None:
        super().__init__(f"{cause}: {detail}")
        self.cause = cause
