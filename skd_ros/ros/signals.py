"""How the command-line processes (node, replay) end on signals, so they always clean up.

A Ctrl-C in a terminal reaches every process of its group, and `ros2 launch` forwards one
more SIGINT to its nodes: a node gets two, milliseconds apart. The second one used to cut the
clean-up short (a traceback, exit -2, and Fast DDS segments left in /dev/shm). SIGTERM
(`kill`, a process manager) ended `replay` without any clean-up at all.
"""

from __future__ import annotations

import signal


def ignore_further_interrupts() -> None:
    """From here on (clean-up under way), another SIGINT changes nothing."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def terminate_as_interrupt() -> None:
    """Make SIGTERM raise KeyboardInterrupt, so it takes Ctrl-C's clean-up path."""
    signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt
