"""Camera message checks, limits and conversion, on rclpy's messages and rosbags' messages."""

import array
import dataclasses
import subprocess
import sys

import cv2
import hostile_images
import numpy as np
import pytest

from skd_ros.data.bags import image_message
from skd_ros.images import MalformedImage
from skd_ros.images.headers import declared
from skd_ros.images.messages import camera_frame
from skd_ros.preprocess import prepare_frame

Image = pytest.importorskip("sensor_msgs.msg").Image
CompressedImage = pytest.importorskip("sensor_msgs.msg").CompressedImage
pytestmark = pytest.mark.ros  # also run on ROS 2 Jazzy (setup.cfg)

SIDE = 32


@pytest.fixture(scope="module")
def bgr():
    rng = np.random.default_rng(0)
    noise = (rng.random((120, 160, 3)) * 255).astype(np.uint8)
    return cv2.GaussianBlur(noise, (0, 0), 3)


def _bytes(pixels: np.ndarray, rows: int, step: int | None) -> tuple[bytes, int]:
    packed = np.ascontiguousarray(pixels).view(np.uint8).reshape(rows, -1)
    if step is not None:
        packed = np.pad(packed, ((0, 0), (0, step - packed.shape[1])))
    return packed.tobytes(), packed.shape[1]


def ros_image(encoding, pixels, height, width, step=None, bigendian=False):
    """An rclpy sensor_msgs/Image of `pixels`, rows optionally padded to `step` bytes."""
    rows = pixels.shape[0]
    data, step = _bytes(pixels, rows, step)
    msg = Image(height=height, width=width, encoding=encoding, step=step)
    msg.is_bigendian = int(bigendian)
    buffer = array.array("B")
    buffer.frombytes(data)
    msg.data = buffer
    return msg


def _bayer_rggb(bgr):
    bayer = np.zeros(bgr.shape[:2], np.uint8)
    bayer[0::2, 0::2] = bgr[0::2, 0::2, 2]
    bayer[0::2, 1::2] = bgr[0::2, 1::2, 1]
    bayer[1::2, 0::2] = bgr[1::2, 0::2, 1]
    bayer[1::2, 1::2] = bgr[1::2, 1::2, 0]
    return bayer


def _nv12(bgr):
    i420 = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)
    h, w = bgr.shape[:2]
    u, v = i420[h : h + h // 4].ravel(), i420[h + h // 4 :].ravel()
    uv = np.empty(u.size * 2, np.uint8)
    uv[0::2], uv[1::2] = u, v
    return np.concatenate([i420[:h].ravel(), uv]).reshape(h * 3 // 2, w)


def _encoded(bgr):
    """encoding -> (pixels as stored, tolerance of the model input vs the reference).

    The reference is R of the BGR frame (of the grey frame for mono). 16-bit frames are
    reduced at 16 bits, so they differ from the 8-bit reference by rounding (< 1 grey level).
    """
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    return {
        "bgr8": (bgr, 0.0),
        "rgb8": (bgr[:, :, ::-1], 0.0),
        "bgra8": (cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA), 0.0),
        "rgba8": (cv2.cvtColor(bgr, cv2.COLOR_BGR2RGBA), 0.0),
        "bgr16": (bgr.astype(np.uint16) * 257, 1 / 255),
        "mono8": (grey, 0.0),
        "mono16": (grey.astype(np.uint16) * 257, 1 / 255),
        "yuv422": (cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_UYVY), 0.03),
        "yuv422_yuy2": (cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_YUY2), 0.03),
        "nv12": (_nv12(bgr), 0.03),
        "bayer_rggb8": (_bayer_rggb(bgr), 0.03),
    }


ENCODINGS = ["bgr8", "rgb8", "bgra8", "rgba8", "bgr16", "mono8", "mono16", "yuv422"]
ENCODINGS += ["yuv422_yuy2", "nv12", "bayer_rggb8"]


@pytest.mark.parametrize("padding", [0, 8])
@pytest.mark.parametrize("encoding", ENCODINGS)
def test_every_common_encoding_gives_the_same_model_input_as_bgr(bgr, encoding, padding):
    pixels, tolerance = _encoded(bgr)[encoding]
    row = pixels.shape[1] * pixels.itemsize * (pixels.shape[2] if pixels.ndim == 3 else 1)
    if encoding in ("yuv422", "yuv422_yuy2"):
        row = pixels.shape[1] * 2
    msg = ros_image(encoding, pixels, 120, 160, step=row + padding if padding else None)
    frame = camera_frame(msg)
    assert frame.frame_format == (160, 120, encoding)
    model_input = frame.model_input(SIDE)
    assert model_input.shape == (3, SIDE, SIDE) and model_input.dtype == np.float32
    if encoding.startswith("mono"):  # compare with the grey frame replicated
        reference = prepare_frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), SIDE)
    else:
        reference = prepare_frame(bgr, SIDE)
    assert np.abs(model_input - reference).max() <= tolerance + 1e-6
    full = frame.bgr8()
    assert full.shape == (120, 160, 3) and full.dtype == np.uint8


def test_big_endian_mono16_is_byte_swapped(bgr):
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.uint16) * 257
    little = camera_frame(ros_image("mono16", grey, 120, 160)).model_input(SIDE)
    big = camera_frame(ros_image("mono16", grey.byteswap(), 120, 160, bigendian=True))
    np.testing.assert_allclose(big.model_input(SIDE), little, atol=1e-6)


def test_rosbags_messages_are_accepted_too(bgr):
    frame = camera_frame(image_message(bgr, 5))
    np.testing.assert_allclose(frame.model_input(SIDE), prepare_frame(bgr, SIDE), atol=1e-6)


@pytest.mark.parametrize(
    ("change", "cause"),
    [
        ({"step": 100}, "step too small"),
        ({"height": 121}, "data too short"),
        ({"encoding": "bgr9"}, "unknown encoding"),
        ({"width": 0}, "empty image"),
        ({"height": 0, "width": 0, "step": 0}, "empty image"),
    ],
)
def test_malformed_images_are_refused_with_the_cause(bgr, change, cause):
    msg = dataclasses.replace(image_message(bgr, 0), **change)
    with pytest.raises(MalformedImage) as error:
        camera_frame(msg)
    assert error.value.cause == cause
    assert cause in str(error.value)


def test_layouts_opencv_cannot_convert_are_refused_before_converting(bgr):
    mono16 = ros_image("mono16", bgr[:, :, 0].astype(np.uint16) << 8, 120, 160, step=321)
    nv12_odd = ros_image("nv12", np.zeros((181, 161), np.uint8), 121, 161)
    yuyv_odd = ros_image("yuv422_yuy2", np.zeros((120, 161, 2), np.uint8), 120, 161)
    float_rgb = ros_image("32FC3", bgr.astype(np.float32) / 255, 120, 160)
    for msg, cause in (
        (mono16, "step not a whole number of samples"),
        (nv12_odd, "odd size"),
        (yuyv_odd, "odd size"),
        (float_rgb, "unknown encoding"),  # depth or data, not camera pixels
    ):
        with pytest.raises(MalformedImage) as error:
            camera_frame(msg).model_input(SIDE)
        assert error.value.cause == cause, error.value


def test_short_data_of_an_rclpy_message_is_refused(bgr):
    msg = ros_image("bgr8", bgr, 120, 160)
    msg.data = msg.data[:-1]
    with pytest.raises(MalformedImage, match="data too short"):
        camera_frame(msg)


def _compressed(data: bytes, fmt: str):
    msg = CompressedImage(format=fmt)
    buffer = array.array("B")
    buffer.frombytes(data)
    msg.data = buffer
    return msg


@pytest.mark.parametrize(("extension", "fmt"), [(".jpg", "jpeg"), (".png", "png")])
def test_compressed_jpeg_and_png_are_decoded(bgr, extension, fmt):
    data = cv2.imencode(extension, bgr)[1].tobytes()
    frame = camera_frame(_compressed(data, f"bgr8; {fmt} compressed bgr8"))
    assert (frame.width, frame.height) == (160, 120)
    assert frame.encoding.startswith("compressed:")
    assert np.abs(frame.model_input(SIDE) - prepare_frame(bgr, SIDE)).max() < 0.05


@pytest.mark.parametrize(
    ("mangle", "cause"),
    [
        (lambda jpeg: jpeg[: len(jpeg) // 2], "corrupt compressed data"),
        (lambda jpeg: jpeg[:2] + b"\x00" * 64 + jpeg[-2:], "corrupt compressed data"),
        (lambda jpeg: b"", "empty compressed data"),
        (lambda jpeg: b"hello", "corrupt compressed data"),  # says jpeg, is not
    ],
)
def test_corrupt_compressed_images_are_refused(bgr, mangle, cause):
    jpeg = cv2.imencode(".jpg", bgr)[1].tobytes()
    with pytest.raises(MalformedImage) as error:
        camera_frame(_compressed(mangle(jpeg), "jpeg"))
    assert error.value.cause == cause


def _with_thumbnail(jpeg: bytes, thumbnail: bytes) -> bytes:
    """`jpeg` with an EXIF-style APP1 segment holding a whole `thumbnail` JPEG."""
    payload = b"Exif\x00\x00" + thumbnail
    return jpeg[:2] + b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload + jpeg[2:]


def test_jpeg_end_marker_is_looked_for_after_the_last_scan_only(bgr):
    jpeg = cv2.imencode(".jpg", bgr)[1].tobytes()
    progressive = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])[1].tobytes()
    thumbnail = cv2.imencode(".jpg", cv2.resize(bgr, (40, 30)))[1].tobytes()
    exif = _with_thumbnail(jpeg, thumbnail)
    # padding after the end marker, as UVC cameras' MJPEG frames often have, is fine
    for data in (jpeg + b"\x00" * 4096, progressive, exif):
        frame = camera_frame(_compressed(data, "jpeg"))
        assert np.abs(frame.model_input(SIDE) - prepare_frame(bgr, SIDE)).max() < 0.05
    # cut inside the last scan: refused, even though a thumbnail's end marker comes earlier
    for data in (progressive[: len(progressive) - 200], exif[: len(exif) - 200]):
        with pytest.raises(MalformedImage, match="truncated"):
            camera_frame(_compressed(data, "jpeg"))


def test_a_format_other_than_jpeg_or_png_is_named_as_unsupported(bgr):
    gif = b"GIF89a" + cv2.imencode(".jpg", bgr)[1].tobytes()
    with pytest.raises(MalformedImage) as error:
        camera_frame(_compressed(gif, "gif"))
    assert error.value.cause == "unsupported compressed format" and "'gif'" in str(error.value)
    depth = bytes(12) + cv2.imencode(".png", bgr[:, :, 0])[1].tobytes()  # header, then PNG
    with pytest.raises(MalformedImage, match="depth image") as error:
        camera_frame(_compressed(depth, "16UC1; compressedDepth png"))
    assert error.value.cause == "unsupported compressed format"


@pytest.mark.parametrize("extension", [".png", ".jpg"])
def test_declared_size_is_read_from_the_header(bgr, extension):
    data = cv2.imencode(extension, bgr)[1].tobytes()
    found = declared(data)
    assert (found.width, found.height) == (bgr.shape[1], bgr.shape[0])
    assert found.decoded_bytes == bgr.size and found.scans == 1 and found.complete


def test_jpeg_fill_bytes_do_not_hide_the_declared_size():
    # 0xFF fill bytes before a marker are legal; a parser that stops at them would let a
    # decompression bomb through to the decoder
    bomb = cv2.imencode(".jpg", np.zeros((9000, 8000), np.uint8))[1].tobytes()
    filled = bomb[:2] + b"\xff\xff" + bomb[2:]
    assert (declared(filled).width, declared(filled).height) == (8000, 9000)
    with pytest.raises(MalformedImage) as error:
        camera_frame(_compressed(filled, "jpeg"))
    assert error.value.cause == "compressed image too large"
    headless = bomb[:2] + b"\xff\xda\x00\x08" + bomb[2:]  # a scan before any frame header
    with pytest.raises(MalformedImage, match="no readable image size"):
        camera_frame(_compressed(headless, "jpeg"))


def test_a_decompression_bomb_is_refused_before_decoding():
    # a real 20000x20000 PNG: a few hundred kB that would decode to 1.2 GB
    bomb = cv2.imencode(".png", np.zeros((20000, 20000), np.uint8))[1].tobytes()
    assert len(bomb) < 2_000_000
    with pytest.raises(MalformedImage) as error:
        camera_frame(_compressed(bomb, "png"))
    assert error.value.cause == "compressed image too large"
    assert "20000x20000" in str(error.value)


@pytest.mark.integration  # decodes in a child process
def test_a_frame_header_behind_a_stuffed_zero_is_the_one_read():
    # FF 00 is a stuffed zero to libjpeg, not a marker with a length: read as one, it jumped
    # over the real 32768x32768 header onto a fake 64x64 one inside an APP15 segment
    bomb = hostile_images.fill_masked_bomb()
    assert len(bomb) < 1000
    found = declared(bomb)
    assert (found.width, found.height) == (32768, 32768)
    refusal = hostile_images.refusal_in_subprocess(bomb)
    assert refusal.startswith("refused compressed image too large"), refusal
    assert "32768x32768" in refusal


@pytest.mark.integration  # decodes in a child process
def test_opencv_itself_refuses_frames_over_the_pixel_limit():
    # the second, independent limit: set for OpenCV when skd_ros is imported (before cv2),
    # it holds even for a decode that bypasses our header checks
    script = (
        "import skd_ros, cv2, numpy, sys\n"
        "data = numpy.frombuffer(sys.stdin.buffer.read(), numpy.uint8)\n"
        "try:\n"
        "    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)\n"
        "    print('decoded', None if image is None else image.shape)\n"
        "except cv2.error as error:\n"
        "    print('refused', 'CV_IO_MAX_IMAGE_PIXELS' in str(error))\n"
    )
    large = hostile_images.declaring(9000, 8000)  # 72 MP, 631 bytes
    result = subprocess.run(
        [sys.executable, "-c", script], input=large, capture_output=True, timeout=60
    )
    assert result.stdout.decode().strip() == "refused True", result.stdout + result.stderr


def test_a_progressive_jpeg_repeating_its_scans_is_refused(bgr):
    progressive = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])[1].tobytes()
    assert declared(progressive).scans == 10  # libjpeg's progression: accepted
    bomb = hostile_images.repeated_last_scan(progressive, 1000)
    with pytest.raises(MalformedImage, match="1010 scans, over the 64") as error:
        camera_frame(_compressed(bomb, "jpeg"))
    assert error.value.cause == "too many JPEG scans"


@pytest.mark.parametrize(
    ("extension", "channels", "dtype", "flags"),
    [
        (".jpg", 1, np.uint8, []),
        (".jpg", 3, np.uint8, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]),
        (".png", 1, np.uint8, []),
        (".png", 3, np.uint8, []),
        (".png", 4, np.uint8, []),
        (".png", 1, np.uint16, []),
        (".png", 4, np.uint16, []),
    ],
)
def test_decoded_bytes_are_read_from_the_header(bgr, extension, channels, dtype, flags):
    image = np.dstack([bgr, bgr[:, :, :1]])[:, :, :channels].astype(dtype) * (
        257 if dtype == np.uint16 else 1
    )
    data = cv2.imencode(extension, image.squeeze(), flags)[1].tobytes()
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert declared(data).decoded_bytes == decoded.nbytes


@pytest.mark.integration  # decodes in a child process
def test_decoded_bytes_not_only_pixels_are_bounded():
    # 8000x8000 is inside the pixel limit, but as 16-bit RGBA it decodes to 512 MB
    # (a 498 kB PNG of zeros: it cost the node 1.4 GB and 5 s)
    bomb = hostile_images.png_of_zeros(8000, 8000, depth=16, colour_type=6)
    assert len(bomb) < 600_000
    refusal = hostile_images.refusal_in_subprocess(bomb, "png")
    assert refusal.startswith("refused compressed image too large"), refusal
    assert "8000x8000 decodes to 512 MB" in refusal


@pytest.mark.parametrize("encoding", ["8SC3", "16SC3", "8SC1", "32SC1"])
def test_signed_integer_encodings_are_refused_as_not_camera_pixels(bgr, encoding):
    dtype = {"8": np.int8, "16": np.int16, "32": np.int32}[encoding.split("S")[0]]
    channels = int(encoding[-1])
    pixels = bgr[:, :, :channels].astype(dtype)
    msg = ros_image(encoding, pixels, *bgr.shape[:2])
    with pytest.raises(MalformedImage, match="signed integers") as error:
        camera_frame(msg)
    assert error.value.cause == "unknown encoding"


@pytest.mark.parametrize("filler", [b"\xff\xfe\x00\x02", b"\xff\xff\x00"])
def test_the_jpeg_header_walk_itself_is_bounded(bgr, filler):
    # empty comment segments, or fill bytes and stuffed zeros, each a step of the walk:
    # libjpeg skips them, a walk through all of them would cost seconds per message
    jpeg = cv2.imencode(".jpg", bgr)[1].tobytes()
    padded = jpeg[:2] + filler * 250_000 + jpeg[2:]
    with pytest.raises(MalformedImage, match="over 10,000 markers") as error:
        camera_frame(_compressed(padded, "jpeg"))
    assert error.value.cause == "too many JPEG markers"
