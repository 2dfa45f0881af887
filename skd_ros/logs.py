"""Logging for skd_ros's command-line tools: the library's `logging` records reach the user.

The core modules log through `logging.getLogger(__name__)`; without a handler Python prints
only warnings and drops `info` (e.g. the cache's "only some videos have fixation maps", the
deep teachers' epoch losses). Every tool's `main` calls `setup_logging()` once. Records go to
standard error through tqdm's writer where tqdm is installed, so a progress bar is redrawn
below a log line instead of overwriting it.
"""

from __future__ import annotations

import logging
import sys

FORMAT = "[%(name)s] %(levelname)s: %(message)s"


class _ProgressSafeHandler(logging.Handler):
    """Writes each record with `tqdm.write` (plain stderr when tqdm is not installed)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record)
            try:
                from tqdm import tqdm
            except ImportError:
                print(message, file=sys.stderr, flush=True)
            else:
                tqdm.write(message, file=sys.stderr)
        except Exception:  # a broken stream must not stop the tool
            self.handleError(record)


def setup_logging(level: int = logging.INFO) -> None:
    """Send skd_ros's log records at `level` and above to stderr, once per process."""
    package = logging.getLogger("skd_ros")
    if any(isinstance(h, _ProgressSafeHandler) for h in package.handlers):
        return
    handler = _ProgressSafeHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    package.addHandler(handler)
    package.setLevel(level)
    package.propagate = False  # the root logger's last-resort handler would print twice
