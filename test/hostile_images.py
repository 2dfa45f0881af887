"""Hostile compressed frames, crafted in code: small files that are costly or deceptive to decode.

Each is the smallest form of a case a hostile-user probe sent to the node. `refusal_in_subprocess`
decodes one in a child process with a capped address space, so a regression (a decode that
should have been refused) fails the test instead of exhausting this machine's memory.
"""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib

import cv2
import numpy as np

SOI = b"\xff\xd8"
ADDRESS_SPACE = 2 << 30  # the child: Python, numpy, OpenCV and rosbags need about 0.6 GB


def jpeg_segments(jpeg: bytes) -> tuple[list[bytes], bytes]:
    """(the marker segments after SOI up to the first scan, the rest from that scan on)."""
    segments, position = [], 2
    while jpeg[position + 1] != 0xDA:
        length = int.from_bytes(jpeg[position + 2 : position + 4], "big")
        segments.append(jpeg[position : position + 2 + length])
        position += 2 + length
    return segments, jpeg[position:]


def with_size(sof: bytes, width: int, height: int) -> bytes:
    """A frame header (SOF segment) declaring another size."""
    return sof[:5] + struct.pack(">HH", height, width) + sof[9:]


def small_jpeg(colour: bool = True, progressive: bool = False) -> bytes:
    """A real 16x16 JPEG."""
    image = np.full((16, 16, 3) if colour else (16, 16), 90, np.uint8)
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_PROGRESSIVE, int(progressive)])[
        1
    ].tobytes()


def declaring(width: int, height: int) -> bytes:
    """A 16x16 JPEG whose frame header declares `width` x `height` (libjpeg decodes it: the
    missing scan data become grey, the whole declared frame is allocated)."""
    segments, rest = jpeg_segments(small_jpeg())
    sized = [with_size(s, width, height) if s[1] == 0xC0 else s for s in segments]
    return SOI + b"".join(sized) + rest


def fill_masked_bomb(width: int = 32768, height: int = 32768) -> bytes:
    """The probe's 641-byte bomb: after SOI the bytes FF 00 L1 L2, the real frame header, then
    an APP15 segment holding a fake 64x64 one. Read as a marker with a length, FF 00 jumps
    over the real header onto the fake; libjpeg skips FF 00 (a stuffed zero) and the length
    bytes (not markers) and decodes the real one."""
    segments, rest = jpeg_segments(small_jpeg())
    (sof,) = [s for s in segments if s[1] == 0xC0]
    others = [s for s in segments if s[1] != 0xC0]
    real, fake = with_size(sof, width, height), with_size(sof, 64, 64)
    app15 = b"\xff\xef" + struct.pack(">H", 2 + len(fake)) + fake
    jump = struct.pack(">H", len(real) + 6)  # from FF 00 to the fake header
    return SOI + b"\xff\x00" + jump + real + app15 + b"".join(others) + rest


def repeated_last_scan(jpeg: bytes, repeats: int) -> bytes:
    """A progressive JPEG with its last scan sent `repeats` more times (each one is a pass
    over the whole frame for the decoder; a 346 kB 7992x7992 one kept OpenCV busy 24 s)."""
    last, end = jpeg.rfind(b"\xff\xda"), jpeg.rfind(b"\xff\xd9")
    return jpeg[:end] + jpeg[last:end] * repeats + jpeg[end:]


def png_of_zeros(width: int, height: int, depth: int = 16, colour_type: int = 6) -> bytes:
    """A real all-zero PNG (RGBA 16-bit by default): about 1000 times smaller than what it
    decodes to."""
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour_type]
    row = bytes(1 + width * channels * depth // 8)  # filter byte 0, then the samples
    compressor = zlib.compressobj(6)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


CHILD = """
import resource, sys, types
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
from skd_ros.images import MalformedImage
from skd_ros.images.messages import camera_frame
message = types.SimpleNamespace(format={fmt!r}, data=sys.stdin.buffer.read())
try:
    frame = camera_frame(message)
except MalformedImage as error:
    print("refused", error.cause, "|", error)
except MemoryError:
    print("decoded: out of memory")
else:
    print("decoded", frame.width, frame.height)
"""


def refusal_in_subprocess(data: bytes, fmt: str = "jpeg", timeout_s: float = 60.0) -> str:
    """What `camera_frame` says of a CompressedImage holding `data`, run in a child process
    with its address space capped: 'refused <cause> | <message>' or 'decoded W H'."""
    script = CHILD.format(limit=ADDRESS_SPACE, fmt=fmt)
    result = subprocess.run(
        [sys.executable, "-c", script], input=data, capture_output=True, timeout=timeout_s
    )
    return result.stdout.decode().strip() or f"crashed: {result.stderr.decode()[-500:]}"
