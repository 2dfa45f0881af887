"""How much one camera frame may cost to decode, and OpenCV's own limit on it.

A compressed frame is small on the wire, but its header can declare gigapixels, a PNG can
declare 16-bit RGBA, and a progressive JPEG can repeat a scan a thousand times: each is
decoded in full, in the thread that received it. These limits are checked on the header
before anything is decoded (`skd_ros.images.headers`).
"""

from __future__ import annotations

import os

# 8K UHD is 33 MP; a larger frame is a corrupt header or a decompression bomb
MAX_PIXELS = 64_000_000
# what the decoder hands back, before any conversion: a 64 MP 8-bit colour frame (192 MB)
MAX_DECODED_BYTES = 3 * MAX_PIXELS
# libjpeg writes a progressive JPEG in 10 scans (6 for grey), a baseline one in 1 (or one per
# component); each scan is a pass over the whole frame
MAX_JPEG_SCANS = 64
# markers (segments, fill bytes) the header walk reads one by one: a camera's JPEG has about
# 10, a progressive one about 30; the walk stops here, so a message of tiny segments is cheap
MAX_JPEG_MARKERS = 10_000
OPENCV_PIXEL_LIMIT = "OPENCV_IO_MAX_IMAGE_PIXELS"


def limit_opencv_decoding() -> None:
    """Give OpenCV's image decoders the same pixel limit, a second one that holds where a
    header could fool our parser. OpenCV reads it once, when cv2 is first imported, so
    `skd_ros` calls this on import; a smaller value already set is kept."""
    current = os.environ.get(OPENCV_PIXEL_LIMIT, "")
    if not (current.isdigit() and 0 < int(current) <= MAX_PIXELS):
        os.environ[OPENCV_PIXEL_LIMIT] = str(MAX_PIXELS)
