"""A one-frame mailbox between the subscription callback and the inference worker.

The callback only drops the newest message in; the worker takes whatever is there when it
is ready. A message that is replaced before the worker got to it is counted as dropped: when
inference falls behind, the node always works on the newest frame and never on a queue of
stale ones (latency stays one frame, whatever the input rate).
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestSlot(Generic[T]):
    """Holds at most one item; `put` replaces, `take` waits (bounded) and empties;
    `interrupt` wakes a waiting `take` empty-handed (to stop the worker without polling)."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._item: T | None = None
        self._interrupted = False

    def put(self, item: T) -> bool:
        """Store `item`; True if it replaced one that was never taken."""
        with self._condition:
            replaced = self._item is not None
            self._item = item
            self._condition.notify()
            return replaced

    def take(self, timeout: float) -> T | None:
        """The stored item (emptying the slot), or None after `timeout` seconds or when
        interrupted."""
        with self._condition:
            if self._item is None and not self._interrupted:
                self._condition.wait(timeout)
            self._interrupted = False
            item, self._item = self._item, None
            return item

    def interrupt(self) -> None:
        """Make the current (or next) `take` return at once."""
        with self._condition:
            self._interrupted = True
            self._condition.notify_all()

    def clear(self) -> bool:
        """Empty the slot and forget an interrupt; True if an item was discarded."""
        with self._condition:
            self._interrupted = False
            discarded, self._item = self._item is not None, None
            return discarded
