"""The saliency node end to end: synthetic aerial bag -> replay -> node -> pictures and numbers.

1. Generates (or reuses) a rosbag2 bag of a synthetic aerial clip (`skd_ros.data.synthetic`).
2. Starts the saliency node (`skd_ros.ros.node`) in its own process on the packaged default
   model (or `--model`).
3. Replays the bag into it at the recorded rate (`skd_ros.tools.replay`) and records its maps,
   peaks and diagnostics into a second bag.
4. Writes what a person wants to see: `overlay.mp4` (every frame with the map, the node's
   boxes in white and the ground-truth boxes in green), `contact_sheet.png` (a few of those
   frames next to the camera frame) and `summary.json`, and prints a short summary: frames
   in and out, rates, latency and CPU per frame as the node reported them.

Everything runs on this machine (LOCALHOST discovery, a domain of its own) with the
shared-memory Fast DDS profile of `config/fastdds_shm.xml`.

    python -m skd_ros.demo_node [--frames 90] [--category Human] [--seed 33] [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from skd_ros.atomic_write import open_new, write_atomic, write_image, write_json
from skd_ros.cli_args import add_size_option, positive_float, positive_int
from skd_ros.data.layout import CATEGORIES
from skd_ros.data.synthetic import ClipSpec, generate_clip, video_name
from skd_ros.inference.draw import overlay_with_regions
from skd_ros.logs import setup_logging
from skd_ros.markdown import table
from skd_ros.ros.environment import domain_id, local_ros_env
from skd_ros.visualize import contact_sheet, label

NAMESPACE = "/demo"
GROUND_TRUTH_COLOR = (80, 220, 80)  # BGR


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="demo_node", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--frames", type=positive_int, default=90, help="clip length (default 90, 3 s)"
    )
    parser.add_argument("--seed", type=int, default=33, help="synthetic clip seed (default 33)")
    parser.add_argument("--category", choices=CATEGORIES, default="Human", help="(default Human)")
    add_size_option(parser, (640, 360), "frame size (the demo weights' training size)")
    parser.add_argument("--model", type=Path, help="exported model .json (default: packaged)")
    parser.add_argument(
        "--rate", type=positive_float, default=1.0, help="replay speed (1.0: 30 fps)"
    )
    parser.add_argument("--storage", choices=("sqlite3", "mcap"), default="mcap")
    parser.add_argument("--out", type=Path, default=Path("outputs/demo_node"))
    return parser.parse_args(argv)


def ensure_bag(args: argparse.Namespace) -> Path:
    """The synthetic clip as a bag under --out; reused when it already exists."""
    from skd_ros.data.bags import write_image_bag

    width, height = args.size
    spec = ClipSpec(args.seed, args.category, args.frames, width, height)
    path = args.out / f"bag_{video_name(spec)}_{args.frames}f_{width}x{height}_{args.storage}"
    if (path / "metadata.yaml").is_file():
        print(f"reusing {path}")
        return path
    shutil.rmtree(path, ignore_errors=True)
    print(f"writing {path} ({args.frames} frames {width}x{height}, {args.category})")
    write_image_bag(path, generate_clip(spec), topic="/camera/image_raw", storage=args.storage)
    return path


def run_node_and_replay(args: argparse.Namespace, bag: Path, record: Path) -> tuple[object, str]:
    """Start the node, replay the bag into it, record its outputs; returns (summary, log)."""
    env = local_ros_env(domain_id(salt=29))
    os.environ.clear()
    os.environ.update(env)
    from skd_ros.tools.replay import replay

    command = [sys.executable, "-m", "skd_ros.ros.node", "--ros-args", "-r", f"__ns:={NAMESPACE}"]
    command += ["-r", f"image:={NAMESPACE}/image_raw"]
    if args.model:
        command += ["-p", f"model:={args.model.resolve()}"]
    log_path = args.out / "node.log"
    with open_new(log_path) as log:
        node = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            summary = replay(
                bag,
                publish_as=f"{NAMESPACE}/image_raw",
                rate=args.rate,
                record=record,
                record_topics=("saliency", "saliency/peaks", "/diagnostics"),
                storage=args.storage,
                wait_s=30.0,
                linger_s=1.5,
                ros_args=["--ros-args", "-r", f"__ns:={NAMESPACE}"],
            )
        finally:
            node.send_signal(2)  # SIGINT: clean shutdown
            try:
                node.wait(10)
            except subprocess.TimeoutExpired:
                node.kill()
                node.wait(5)
    return summary, log_path.read_text()


def read_bag(path: Path) -> dict[str, list]:
    """{topic: [message, ...]} of a bag, deserialized with rosbags."""
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import Stores, get_typestore

    topics: dict[str, list] = {}
    with AnyReader([path], default_typestore=get_typestore(Stores.LATEST)) as reader:
        for connection, _, raw in reader.messages():
            topics.setdefault(connection.topic, []).append(
                reader.deserialize(raw, connection.msgtype)
            )
    return topics


def _stamp(msg) -> int:
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


def _map_array(msg) -> np.ndarray:
    data = np.asarray(msg.data, np.uint8)
    if msg.encoding == "32FC1":
        return data.view(np.float32).reshape(msg.height, msg.width)
    return data.reshape(msg.height, msg.step)[:, : msg.width].astype(np.float32) / 255.0


def render(args, bag: Path, outputs: dict[str, list]) -> tuple[list[tuple], int]:
    """(camera frame, overlay picture) for every frame that got a map, and the map count.

    The overlay shows the map as a heat map, the node's regions (white boxes, rank and peak
    score, yellow centroid) and the ground-truth target boxes (green).
    """
    from skd_ros.images.messages import camera_frame
    from skd_ros.ros.messages import regions_from_cloud

    maps = {_stamp(m): m for m in outputs.get(f"{NAMESPACE}/saliency", [])}
    peaks = {
        _stamp(m): regions_from_cloud(m) for m in outputs.get(f"{NAMESPACE}/saliency/peaks", [])
    }
    width, height = args.size
    truth = generate_clip(ClipSpec(args.seed, args.category, args.frames, width, height))
    pictures = []
    for msg, frame in zip(read_bag(bag)["/camera/image_raw"], truth, strict=True):
        stamp = _stamp(msg)
        if stamp not in maps:
            continue
        image = camera_frame(msg).bgr8()
        regions = peaks.get(stamp, np.zeros(0))
        picture = overlay_with_regions(image, _map_array(maps[stamp]), regions)
        for x0, y0, x1, y1 in frame.boxes:
            cv2.rectangle(picture, (x0, y0), (x1, y1), GROUND_TRUTH_COLOR, 1, cv2.LINE_AA)
        pictures.append((label(image, f"camera frame {frame.index}"), picture))
    return pictures, len(maps)


def write_video(pictures: list[tuple], path: Path, fps: float = 30.0) -> Path | None:
    """The overlays as an MP4 video (None where this OpenCV build cannot write one)."""
    if not pictures:
        return None
    height, width = pictures[0][1].shape[:2]

    def encode(temp: Path) -> None:
        writer = cv2.VideoWriter(str(temp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
        if not writer.isOpened():
            raise OSError("this OpenCV build cannot write MP4")
        for _, picture in pictures:
            writer.write(picture)
        writer.release()

    try:
        return write_atomic(path, encode)
    except OSError:
        return None


def write_sheet(pictures: list[tuple], path: Path, rows: int = 4) -> Path | None:
    """A PNG of a few frames, evenly spread: camera frame | overlay, one frame per row."""
    if not pictures:
        return None
    picks = np.linspace(0, len(pictures) - 1, num=min(rows, len(pictures))).round().astype(int)
    return write_image(path, contact_sheet([list(pictures[i]) for i in sorted(set(picks))], 480))


def node_status(outputs: dict[str, list]) -> dict[str, str]:
    """The node's last /diagnostics key-values."""
    statuses = [
        s for m in outputs.get("/diagnostics", []) for s in m.status if "saliency" in s.name
    ]
    if not statuses:
        return {}
    return {"message": statuses[-1].message, **{kv.key: kv.value for kv in statuses[-1].values}}


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m skd_ros.demo_node`."""
    setup_logging()
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    bag = ensure_bag(args)
    record = args.out / "node_outputs"
    shutil.rmtree(record, ignore_errors=True)
    start = time.monotonic()
    replay_summary, log = run_node_and_replay(args, bag, record)
    outputs = read_bag(record)
    pictures, maps = render(args, bag, outputs)
    video = write_video(pictures, args.out / "overlay.mp4")
    sheet = write_sheet(pictures, args.out / "contact_sheet.png")
    status = node_status(outputs)
    summary = {
        "frames_in": replay_summary.sent,
        "maps_out": maps,
        "replay_rate_hz": round(replay_summary.sent / max(replay_summary.seconds, 1e-9), 1),
        "node": {k: v for k, v in status.items() if k not in ("model", "input topic")},
        "video": str(video) if video else None,
        "contact_sheet": str(sheet) if sheet else None,
        "wall_seconds": round(time.monotonic() - start, 1),
    }
    write_json(args.out / "summary.json", summary, indent=2)
    print(format_summary(summary))
    if maps == 0:
        print("no map arrived; the node's log:\n" + log, file=sys.stderr)
        return 1
    return 0


def format_summary(summary: dict) -> str:
    node = summary["node"]
    rows = [
        f"frames in: {summary['frames_in']} at {summary['replay_rate_hz']} Hz; "
        f"maps out: {summary['maps_out']}",
        "",
    ]
    keys = (
        "output rate (Hz)",
        "latency p50 (ms)",
        "latency p99 (ms)",
        "cpu per frame p50 (ms)",
        "frames dropped",
        "frames lost in transport",
        "frames rejected",
    )
    rows.append(
        table(["node (its /diagnostics)", "value"], [[k, node[k]] for k in keys if k in node])
    )
    rows.append("")
    rows += [f"wrote {summary[k]}" for k in ("video", "contact_sheet") if summary[k]]
    return "\n".join(rows)


if __name__ == "__main__":
    raise SystemExit(main())
