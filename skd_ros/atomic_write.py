"""Every file skd_ros writes goes through here: whole, and in place of a link, never through it.

A file is written under a temporary name in its own folder (created exclusively, so an
existing name or link there is never opened) and then renamed over the target. The rename
replaces the folder entry itself: a symlink planted at the target's name is replaced by the
new file, never followed, so no write lands outside the folder it was meant for; and a
reader never sees a half-written file (an interrupted write leaves the old one). Plain
Python, standard library only (the bootstrap uses it before the venv exists).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

FILE_MODE = 0o644  # mkstemp makes 0600 files; outputs are meant to be read by others too


def write_atomic(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Call `write(temporary_path)`, then rename the result over `path`; returns `path`.

    The temporary name ends in `path`'s suffix (writers that choose a format by it, such as
    OpenCV's, see the right one). A link at `path` is replaced, not followed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{path.suffix}"
    )
    os.close(fd)
    try:
        write(Path(temp))
        os.chmod(temp, FILE_MODE)
        os.replace(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
    return path


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Delete the temporary files a killed `write_atomic` of `path` left beside it."""
    path = Path(path)
    stale = sorted(path.parent.glob(f".{path.name}.*.tmp{path.suffix}"))
    for temp in stale:
        temp.unlink(missing_ok=True)
    return stale


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` atomically (see the module docstring)."""
    return write_atomic(path, lambda temp: temp.write_bytes(data))


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write `text` (UTF-8) to `path` atomically."""
    return write_bytes(path, text.encode())


def write_json(path: str | os.PathLike, value: object, **dumps: object) -> Path:
    """Write `value` as JSON plus a final newline (`dumps`: json.dumps options)."""
    return write_text(path, json.dumps(value, **dumps) + "\n")


def append_line(path: str | os.PathLike, line: str) -> Path:
    """Add `line` (and a newline) to a small text file such as a per-epoch log, atomically.

    The old content is read without following a link: a link at `path` is replaced by a
    file holding only the new line.
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as error:  # absent, or a link (ELOOP): start afresh
        if error.errno not in (errno.ENOENT, errno.ELOOP):
            raise
        old = b""
    else:
        with os.fdopen(fd, "rb") as handle:
            old = handle.read()
    if old and not old.endswith(b"\n"):
        old += b"\n"
    return write_bytes(path, old + line.encode() + b"\n")


def write_image(path: str | os.PathLike, image, params: list[int] | tuple = ()) -> Path:
    """Encode `image` with OpenCV in the format of `path`'s suffix and write it atomically."""
    import cv2

    path = Path(path)
    ok, encoded = cv2.imencode(path.suffix or ".png", image, list(params))
    if not ok:
        raise OSError(f"could not encode an image for {path}")
    return write_bytes(path, encoded.tobytes())


def open_new(path: str | os.PathLike):
    """A text file opened for writing at `path` for output that streams in (a child's log).

    Such a file cannot be renamed into place at the end, so a link at `path` is removed
    first and the file is opened with O_NOFOLLOW: the output lands in `path`'s folder.
    """
    path = Path(path)
    if path.is_symlink():
        path.unlink()
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
    return os.fdopen(os.open(path, flags, FILE_MODE), "w")
