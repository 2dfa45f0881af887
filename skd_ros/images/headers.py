"""What a JPEG or PNG declares, read from its header without decoding, the way decoders read it.

The limits in `skd_ros.images.limits` are only as good as this reading: a parser that reads
the file differently from the decoder can be shown one size while the decoder sees another.
So JPEG markers are walked as libjpeg walks them: between segments, bytes other than 0xFF
are skipped, and so are 0xFF fill bytes and 0xFF 0x00 (a stuffed zero, not a marker); a
segment's length field is followed, so a frame header inside an APPn segment is not taken
for the real one; the first frame header (SOF) counts and a second one is refused, as
libjpeg refuses it. Scans (SOS) are counted up to the end-of-image marker. A PNG's IHDR
gives its size, bit depth and colour type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from skd_ros.images import MalformedImage
from skd_ros.images.limits import (
    MAX_DECODED_BYTES,
    MAX_JPEG_MARKERS,
    MAX_JPEG_SCANS,
    MAX_PIXELS,
)

JPEG_SOI = b"\xff\xd8"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
JPEG_SOS, JPEG_EOI = 0xDA, 0xD9
# 0xFF, then a code other than 0x00 (stuffing), 0x01 (TEM) and 0xD0-0xD7 (RST0-7), which have
# no length field and are skipped; a code 0xFF is a fill byte. One literal first byte keeps
# the search at C speed (under 0.2 ms for a 0.5 MB 720p frame).
JPEG_MARKER = re.compile(rb"\xff[^\x00\x01\xd0-\xd7]")
JPEG_FILL = 0xFF
# PNG colour type -> channels OpenCV returns at most (palette and grey+alpha become BGR(A))
PNG_CHANNELS = {0: 1, 2: 3, 3: 4, 4: 4, 6: 4}


@dataclass(frozen=True)
class Declared:
    """What a compressed image declares: its size, what it decodes to, and its scans."""

    width: int
    height: int
    decoded_bytes: int  # of the array the decoder returns, before any conversion
    scans: int = 1  # JPEG: scans before the end-of-image marker
    complete: bool = True  # JPEG: an end-of-image marker follows the last scan


def declared(data: bytes) -> Declared | None:
    """What a PNG or JPEG header declares; None if it declares no readable frame. The JPEG
    walk is bounded too: `MalformedImage` past `MAX_JPEG_MARKERS` markers."""
    if data.startswith(PNG_SIGNATURE):
        return _png(data)
    if data.startswith(JPEG_SOI):
        return _jpeg(data)
    return None


def check_declared(data: bytes) -> Declared:
    """The declaration, or `MalformedImage` if it is unreadable, truncated, or over a limit
    (pixels, decoded bytes, JPEG scans); checked before anything is decoded."""
    found = declared(data)
    if found is None or found.width == 0 or found.height == 0:
        raise MalformedImage(
            "corrupt compressed data", "no readable image size in the JPEG/PNG header"
        )
    size = f"{found.width}x{found.height}"
    if found.width * found.height > MAX_PIXELS:
        raise MalformedImage(
            "compressed image too large",
            f"it declares {size} pixels, over the {MAX_PIXELS:,} this node decodes "
            "(a corrupt header or a decompression bomb)",
        )
    if found.decoded_bytes > MAX_DECODED_BYTES:
        raise MalformedImage(
            "compressed image too large",
            f"{size} decodes to {found.decoded_bytes / 1e6:,.0f} MB, over the "
            f"{MAX_DECODED_BYTES / 1e6:,.0f} MB this node decodes (send 8-bit colour or grey)",
        )
    if found.scans > MAX_JPEG_SCANS:
        raise MalformedImage(
            "too many JPEG scans",
            f"{found.scans} scans, over the {MAX_JPEG_SCANS} this node decodes (each is a "
            "pass over the whole frame; libjpeg's progressive JPEGs have 10)",
        )
    if found.scans == 0:
        raise MalformedImage("corrupt compressed data", "JPEG without image data (no scan)")
    if not found.complete:
        raise MalformedImage("corrupt compressed data", "JPEG without end marker (truncated)")
    return found


def _png(data: bytes) -> Declared | None:
    if len(data) < 26 or data[12:16] != b"IHDR" or data[25] not in PNG_CHANNELS:
        return None
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    sample_bytes = 2 if data[24] == 16 else 1
    return Declared(width, height, width * height * PNG_CHANNELS[data[25]] * sample_bytes)


def _jpeg(data: bytes) -> Declared | None:
    """Walk the markers after SOI up to EOI (see the module docstring)."""
    frame: tuple[int, int, int] | None = None  # width, height, bytes per pixel
    scans, position, complete = 0, len(JPEG_SOI), False
    for _ in range(MAX_JPEG_MARKERS):
        if not (marker := JPEG_MARKER.search(data, position)):
            break
        code, position = marker[0][1], marker.end()
        if code == JPEG_FILL:
            position -= 1  # the fill byte may begin the marker
            continue
        if code == JPEG_EOI:
            complete = True
            break
        length = int.from_bytes(data[position : position + 2], "big")
        if position + length > len(data):
            break  # cut off inside a segment
        if length < 2 or (code in JPEG_SOF and (frame is not None or length < 8)):
            return None  # a bogus length, or a second frame header: libjpeg refuses both
        if code in JPEG_SOF:
            frame = _jpeg_frame(data[position : position + length])
        elif code == JPEG_SOS:
            if frame is None:
                return None  # a scan before any frame header
            scans += 1
        position += length
    else:
        raise MalformedImage(
            "too many JPEG markers",
            f"over {MAX_JPEG_MARKERS:,} markers before the end of the image (a camera's "
            "JPEG has about 10)",
        )
    if frame is None:
        return None
    width, height, pixel_bytes = frame
    return Declared(width, height, width * height * pixel_bytes, scans, complete)


def _jpeg_frame(segment: bytes) -> tuple[int, int, int]:
    """(width, height, decoded bytes per pixel) of an SOF segment (length field first)."""
    precision, components = segment[2], segment[7]
    height, width = int.from_bytes(segment[3:5], "big"), int.from_bytes(segment[5:7], "big")
    return width, height, components * (2 if precision > 8 else 1)
