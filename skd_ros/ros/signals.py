"""How the command-line processes (node, replay) end on signals, so they always clean up.

A Ctrl-C in a terminal reaches every process of its group, and `ros2 launch` forwards one
more SIGINT to its nodes: a node gets two, milliseconds apart. The second one used to cut the
clean-up short (a traceback, exit -2, and Fast DDS segments left in /dev/shm). SIGTERM
(`kill`, a process manager) ended `replay` without any clean-up at all.

SIGTERM raises `Terminated`, a KeyboardInterrupt of its own class, rather than
KeyboardInterrupt itself: CPython marks the process "killed by SIGINT" (exit -2 instead of
our 130) whenever a plain KeyboardInterrupt leaves code run by `exec` of a string, even
when it is caught later, and imports run such code (every `@dataclass`, e.g. rosbags'
message types). The mark is kept for KeyboardInterrupt itself only.
"""

from __future__ import annotations

import signal


def ignore_further_interrupts() -> None:
    """From here on (clean-up under way), another SIGINT changes nothing."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: caught wherever Ctrl-C is, so it takes the same clean-up path."""


def terminate_as_interrupt() -> None:
    """Make SIGTERM raise `Terminated`, so it takes Ctrl-C's clean-up path."""
    signal.signal(signal.SIGTERM, _terminated)


def _terminated(signum, frame) -> None:
    raise Terminated
