"""Files written whole or not at all: a temporary file beside the target, then a rename.

Plain Python. A kill leaves the old file or the new one, never half of one; at worst a
`.<name>.*.tmp` beside it, which `remove_stale_temporaries` deletes.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: Path, write: Callable[[str], object]) -> None:
    """Make `path` by `write(temporary path)` and a rename (see the module docstring)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Delete the temporary files a killed `atomic_write` of `path` left; returns them."""
    path = Path(path)
    stale = sorted(path.parent.glob(f".{path.name}.*.tmp"))
    for tmp in stale:
        tmp.unlink(missing_ok=True)
    return stale
