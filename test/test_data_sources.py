"""Data sources: AVS1K and frame-folder layouts, rosbag2 bags, and their error messages."""

import dataclasses
import json
import logging
import shutil
from pathlib import Path

import cv2
import hostile_images
import numpy as np
import pytest

from skd_ros.data.avs1k import scan_avs1k
from skd_ros.data.bags import (
    bag_videos,
    find_bags,
    image_message,
    write_image_bag,
)
from skd_ros.data.folders import scan_frame_folders
from skd_ros.data.synthetic import (
    ClipSpec,
    default_splits,
    generate_clip,
    video_name,
    write_avs1k,
    write_frame_folders,
)
from skd_ros.data.video import LayoutError, Video, category_from_name
from skd_ros.images.messages import camera_frame

FRAMES = 4
SIZE = {"width": 320, "height": 180}


@pytest.fixture(scope="module")
def avs1k(tmp_path_factory) -> Path:
    """A synthetic AVS1K root: 4 training videos (one per category), 1 validation, 1 test."""
    root = tmp_path_factory.mktemp("avs")
    write_avs1k(root, default_splits(4, 1, 1, n_frames=FRAMES, **SIZE, base_seed=30))
    return root


@pytest.fixture
def avs1k_copy(avs1k, tmp_path) -> Path:
    """A copy of the training split that a test may break."""
    shutil.copytree(avs1k / "AVS1K" / "trainSet", tmp_path / "AVS1K" / "trainSet")
    return tmp_path


def clip(seed=3, category="Vehicle", n_frames=FRAMES):
    return list(generate_clip(ClipSpec(seed, category, n_frames, **SIZE)))


def test_avs1k_is_scanned_with_counts_order_and_categories(avs1k):
    videos = scan_avs1k(avs1k, "trainSet")
    assert [v.name for v in videos] == sorted(v.name for v in videos)
    assert {v.category for v in videos} == {"Building", "Human", "Vehicle", "Others"}
    for video in videos:
        assert isinstance(video, Video) and video.labelled and len(video) == FRAMES
        assert video.category == video.name.split("_")[0]
    assert [v.name for v in scan_avs1k(avs1k / "AVS1K", "trainSet")] == [v.name for v in videos]
    assert len(scan_avs1k(avs1k, "testSet")) == 1


def test_avs1k_samples_are_the_written_frames_in_order(avs1k):
    spec = default_splits(4, 1, 1, n_frames=FRAMES, **SIZE, base_seed=30)["trainSet"][2]
    video = next(v for v in scan_avs1k(avs1k, "trainSet") if v.name == video_name(spec))
    samples = list(video.samples())
    assert [s.index for s in samples] == list(range(FRAMES))
    assert samples[0].name == f"{video.name}_00001"
    for sample, frame in zip(samples, generate_clip(spec), strict=True):
        assert np.array_equal(sample.image, frame.image)
        assert sample.saliency.dtype == np.float32 and sample.fixations is None
        assert np.abs(sample.saliency - frame.saliency).max() <= 0.5 / 255 + 1e-6


def test_category_rule_and_explicit_mapping(avs1k_copy):
    assert category_from_name("Vehicle_0007") == "Vehicle"
    assert category_from_name("V012") == "Vehicle"
    assert category_from_name("AVS1K_h_003") == "Human"
    assert category_from_name("others-4") == "Others"
    assert category_from_name("bridge_03") is None
    split = avs1k_copy / "AVS1K" / "trainSet"
    name = scan_avs1k(avs1k_copy, "trainSet")[0].name
    (split / "categories.json").write_text(json.dumps({name: "vehicle"}))
    by_name = {v.name: v.category for v in scan_avs1k(avs1k_copy, "trainSet")}
    assert by_name[name] == "Vehicle"
    (split / "categories.json").unlink()
    (split / "categories.txt").write_text(f"# video category\n{name}\tH\n")
    assert {v.name: v.category for v in scan_avs1k(avs1k_copy, "trainSet")}[name] == "Human"


def test_missing_ground_folder_is_named(avs1k_copy):
    ground = avs1k_copy / "AVS1K" / "trainSet" / "Ground"
    shutil.rmtree(ground)
    with pytest.raises(LayoutError, match=f"{ground} is missing.*Ground folder next to Frame"):
        scan_avs1k(avs1k_copy, "trainSet")


def test_count_mismatch_names_both_counts(avs1k_copy):
    name = scan_avs1k(avs1k_copy, "trainSet")[1].name
    maps = sorted((avs1k_copy / "AVS1K" / "trainSet" / "Ground" / name).iterdir())
    maps[-1].unlink()
    with pytest.raises(LayoutError, match=f"{name} has {FRAMES} frames but .*{FRAMES - 1} maps"):
        scan_avs1k(avs1k_copy, "trainSet")


def test_a_renamed_map_is_not_silently_paired_with_the_wrong_frame(avs1k_copy):
    name = scan_avs1k(avs1k_copy, "trainSet")[1].name
    maps = sorted((avs1k_copy / "AVS1K" / "trainSet" / "Ground" / name).iterdir())
    renamed = maps[1].with_name(maps[1].name.replace(maps[1].stem, maps[1].stem + "7"))
    maps[1].rename(renamed)  # same count, but frame 1 would get frame 2's map
    with pytest.raises(LayoutError, match=r"is paired with .* their names disagree"):
        scan_avs1k(avs1k_copy, "trainSet")


def test_frames_and_maps_may_differ_in_prefix_and_extension_but_not_number(avs1k_copy):
    video = scan_avs1k(avs1k_copy, "trainSet")[0]
    frames_dir = video.frames[0].parent
    for frame in sorted(frames_dir.iterdir()):  # Video_0001_00001.png -> img_00001.jpg
        frame.rename(frames_dir / f"img_{frame.stem.rsplit('_', 1)[-1]}.jpg")
    assert len(scan_avs1k(avs1k_copy, "trainSet")[0].frames) == len(video.frames)


def test_empty_video_missing_split_and_wrong_root_are_named(avs1k_copy, tmp_path):
    empty = avs1k_copy / "AVS1K" / "trainSet" / "Frame" / "Human_9999"
    empty.mkdir()
    (avs1k_copy / "AVS1K" / "trainSet" / "Ground" / "Human_9999").mkdir()
    with pytest.raises(LayoutError, match=f"{empty} holds no frames"):
        scan_avs1k(avs1k_copy, "trainSet")
    with pytest.raises(LayoutError, match="validSet is missing; splits present .*trainSet"):
        scan_avs1k(avs1k_copy, "validSet")
    wrong = tmp_path / "elsewhere"
    wrong.mkdir()
    with pytest.raises(LayoutError, match=f"{wrong} holds no AVS1K dataset"):
        scan_avs1k(wrong, "trainSet")


def test_corrupt_frame_is_skipped_with_its_map_and_reported(avs1k_copy, caplog):
    video = scan_avs1k(avs1k_copy, "trainSet")[0]
    bad = video.frames[1]
    bad.write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    with caplog.at_level(logging.WARNING):
        samples = list(video.samples())
    assert [s.index for s in samples] == [0, 2, 3]
    assert str(bad) in caplog.text and str(video.maps[1]) in caplog.text
    truncated = video.maps[2]
    truncated.write_bytes(truncated.read_bytes()[:40])
    assert [s.index for s in video.samples()] == [0, 3]


def test_dataset_frames_over_the_decoding_limits_are_skipped_and_reported(avs1k_copy, caplog):
    video = scan_avs1k(avs1k_copy, "trainSet")[0]
    video.frames[1].write_bytes(hostile_images.fill_masked_bomb(9000, 8000))
    video.frames[2].write_bytes(hostile_images.png_of_zeros(5200, 5200))  # 216 MB decoded
    with caplog.at_level(logging.WARNING):
        assert [s.index for s in video.samples()] == [0, 3]
    for bad in video.frames[1:3]:
        assert f"skipping {bad}: cannot read it (compressed image too large" in caplog.text


def test_frame_folders_with_fixations(tmp_path):
    specs = [ClipSpec(40, "Human", FRAMES, **SIZE), ClipSpec(41, "Others", FRAMES, **SIZE)]
    write_frame_folders(tmp_path, specs, n_fixations=15)
    videos = scan_frame_folders(tmp_path)
    assert [v.name for v in videos] == ["Human_0040", "Others_0041"]
    assert [v.category for v in videos] == ["Human", "Others"]
    samples = list(videos[0].samples())
    assert len(samples) == FRAMES and samples[0].name == "0001"
    for sample in samples:
        assert sample.fixations.dtype == bool and 0 < sample.fixations.sum() <= 15
        assert sample.saliency.shape == sample.image.shape[:2]
    assert len(scan_frame_folders(tmp_path / "Human_0040")) == 1  # a single video folder


def test_a_video_folder_with_a_miscased_images_folder_is_not_skipped(tmp_path):
    specs = [ClipSpec(40, "Human", FRAMES, **SIZE), ClipSpec(41, "Others", FRAMES, **SIZE)]
    write_frame_folders(tmp_path, specs)
    (tmp_path / "Others_0041" / "images").rename(tmp_path / "Others_0041" / "Images")
    with pytest.raises(LayoutError, match=r"Others_0041/Images: folder names are case-sensitive"):
        scan_frame_folders(tmp_path)


def test_frame_folder_errors(tmp_path):
    write_frame_folders(tmp_path, [ClipSpec(42, "Vehicle", FRAMES, **SIZE)])
    video = tmp_path / "Vehicle_0042"
    next(iter(sorted((video / "fixation").iterdir()))).unlink()
    with pytest.raises(LayoutError, match=f"{video / 'fixation'} has {FRAMES - 1} fixation maps"):
        scan_frame_folders(tmp_path)
    shutil.rmtree(video / "fixation")
    shutil.rmtree(video / "maps")
    with pytest.raises(LayoutError, match=f"{video / 'maps'} is missing"):
        scan_frame_folders(tmp_path)
    (unlabelled,) = scan_frame_folders(tmp_path, require_maps=False)
    assert not unlabelled.labelled and next(unlabelled.samples()).saliency is None
    with pytest.raises(LayoutError, match="holds no frame folders"):
        scan_frame_folders(video / "images")


@pytest.mark.parametrize("storage", ["sqlite3", "mcap"])
@pytest.mark.parametrize("compressed", [False, True])
def test_bags_read_back_the_written_frames(tmp_path, storage, compressed):
    frames = clip(5, n_frames=5)
    stamps = [2_000_000_000 + i * 50_000_000 for i in range(5)]
    path = write_image_bag(
        tmp_path / "bag", frames, "/cam/image", storage, compressed, stamps=stamps
    )
    (video,) = bag_videos(path)
    assert not video.labelled and video.category is None and len(video) == 5
    assert video.name == "bag_cam_image"
    samples = list(video.samples())
    assert [s.stamp_ns for s in samples] == stamps and samples[0].saliency is None
    for sample, frame in zip(samples, frames, strict=True):
        assert sample.image.shape == frame.image.shape and sample.image.dtype == np.uint8
        error = np.abs(sample.image.astype(int) - frame.image).mean()
        assert error == 0 if not compressed else error < 4
    strided = bag_videos(path, stride=2)[0]
    assert len(strided) == 3 and [s.stamp_ns for s in strided.samples()] == stamps[::2]
    assert strided.source_id != video.source_id


def test_bag_topic_choice_errors_list_the_topics(tmp_path):
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.LATEST)
    image = clip(n_frames=1)[0].image
    path = tmp_path / "two"
    with Writer(path, version=8) as writer:
        for topic, compressed in (("/left/image", False), ("/right/image/compressed", True)):
            msgtype = "sensor_msgs/msg/" + ("CompressedImage" if compressed else "Image")
            connection = writer.add_connection(topic, msgtype, typestore=store)
            msg = image_message(image, 1_000_000_000, compressed)
            writer.write(connection, 1_000_000_000, store.serialize_cdr(msg, msgtype))
        chatter = writer.add_connection("/chatter", "std_msgs/msg/String", typestore=store)
        text = store.types["std_msgs/msg/String"](data="hi")
        writer.write(chatter, 1, store.serialize_cdr(text, "std_msgs/msg/String"))
    with pytest.raises(LayoutError, match=r"several image topics .*/left/image.*/right/image"):
        bag_videos(path)
    with pytest.raises(LayoutError, match=r"no image topic '/chatter'.*/left/image"):
        bag_videos(path, topic="/chatter")
    assert len(bag_videos(path, topic="/right/image/compressed")) == 1
    empty = tmp_path / "text"
    with Writer(empty, version=8) as writer:
        writer.add_connection("/chatter", "std_msgs/msg/String", typestore=store)
    with pytest.raises(LayoutError, match=r"no image topic; its topics: \['/chatter"):
        bag_videos(empty)
    (tmp_path / "nothing").mkdir()
    with pytest.raises(LayoutError, match=f"{tmp_path / 'nothing'} is not a rosbag2 bag"):
        bag_videos(tmp_path / "nothing")


def test_malformed_messages_are_skipped_with_a_reason(tmp_path, caplog):
    frames = [f.image for f in clip(6, n_frames=4)]
    good = image_message(frames[0], 0)
    short = dataclasses.replace(image_message(frames[1], 0), data=good.data[:1000])
    narrow = dataclasses.replace(image_message(frames[1], 0), step=10)
    unknown = dataclasses.replace(image_message(frames[1], 0), encoding="weird16")
    empty = dataclasses.replace(image_message(frames[1], 0), height=0, width=0, step=0)
    items = [frames[0], short, frames[1], narrow, unknown, empty, frames[2], frames[3]]
    path = write_image_bag(tmp_path / "bad", items, storage="mcap")
    (video,) = bag_videos(path)
    with caplog.at_level(logging.WARNING):
        samples = list(video.samples())
    assert [s.index for s in samples] == [0, 2, 6, 7]
    for sample, frame in zip(samples, frames, strict=True):
        assert np.array_equal(sample.image, frame)
    causes = ("data too short", "step too small", "unknown encoding", "empty image")
    assert video.skipped == dict.fromkeys(causes, 1)
    for cause in causes:
        assert cause in caplog.text
    assert f"{path} /camera/image_raw: skipped 4 of 8 messages" in caplog.text


def test_bag_frames_are_converted_as_the_node_converts_them(tmp_path):
    # one converter for the node and the bags: a 16x12 NV12 frame is 16x12 red for both
    # (the bags' own converter read only its Y plane: 16x8 green)
    red = np.zeros((12, 16, 3), np.uint8)
    red[:, :, 2] = 255
    i420 = cv2.cvtColor(red, cv2.COLOR_BGR2YUV_I420)
    uv = np.stack([i420[12:15].ravel(), i420[15:18].ravel()], axis=1).ravel()
    nv12 = dataclasses.replace(
        image_message(red, 0),
        encoding="nv12",
        step=16,
        data=np.concatenate([i420[:12].ravel(), uv]),
    )
    signed = dataclasses.replace(image_message(red, 0), encoding="8SC3")
    path = write_image_bag(tmp_path / "nv12", [nv12, signed, red])
    (video,) = bag_videos(path)
    images = [s.image for s in video.samples()]
    assert [image.shape for image in images] == [(12, 16, 3), (12, 16, 3)]
    assert np.array_equal(images[0], camera_frame(nv12).bgr8())
    assert np.abs(images[0].astype(int) - red).max() < 8
    assert video.skipped == {"unknown encoding": 1}  # signed integers are not camera pixels


def test_bag_messages_over_the_decoding_limits_are_skipped_and_reported(tmp_path, caplog):
    # the node's limits hold for training and evaluation too (bags decoded with plain
    # cv2.imdecode: three 641-byte JPEGs took `train run` to 3.3 GB)
    frame = clip(n_frames=1)[0].image
    good = image_message(frame, 0, compressed=True)
    progressive = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])[1]
    bombs = [
        hostile_images.fill_masked_bomb(9000, 8000),  # 72 MP behind a fake 64x64 header
        hostile_images.png_of_zeros(5200, 5200),  # 27 MP, but 216 MB as 16-bit RGBA
        hostile_images.repeated_last_scan(progressive.tobytes(), 100),
    ]
    items = [good, *(dataclasses.replace(good, data=np.frombuffer(b, np.uint8)) for b in bombs)]
    path = write_image_bag(tmp_path / "bombs", [*items, good], compressed=True)
    (video,) = bag_videos(path)
    with caplog.at_level(logging.WARNING):
        assert [s.index for s in video.samples()] == [0, 4]
    assert video.skipped == {"compressed image too large": 2, "too many JPEG scans": 1}
    assert f"{path} /camera/image_raw: skipping message 1" in caplog.text
    assert (
        "declares 9000x8000 pixels" in caplog.text and "5200x5200 decodes to 216 MB" in caplog.text
    )


def test_padded_rows_and_grey_images_are_converted(tmp_path):
    frame = clip(n_frames=1)[0].image
    msg = image_message(frame, 0)
    rows = msg.data.reshape(frame.shape[0], -1)
    padded = np.concatenate([rows, np.zeros((frame.shape[0], 8), np.uint8)], axis=1)
    msg = dataclasses.replace(msg, data=padded.ravel(), step=msg.step + 8)
    assert np.array_equal(camera_frame(msg).bgr8(), frame)
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    mono = dataclasses.replace(msg, encoding="mono8", data=grey.ravel(), step=grey.shape[1])
    image = camera_frame(mono).bgr8()
    assert image.shape == frame.shape and np.array_equal(image[..., 0], grey)


def test_bag_is_split_at_time_jumps(tmp_path):
    frames = clip(n_frames=6)
    stamps = [1_000_000_000, 1_033_000_000, 1_066_000_000, 5_000_000_000, 5_033_000_000, 700]
    # bag times increase; the header stamps pause 3.9 s, then jump back
    path = tmp_path / "jumps"
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.LATEST)
    with Writer(path, version=8) as writer:
        connection = writer.add_connection("/cam", "sensor_msgs/msg/Image", typestore=store)
        for number, (frame, stamp) in enumerate(zip(frames, stamps, strict=True)):
            msg = image_message(frame.image, stamp)
            raw = store.serialize_cdr(msg, "sensor_msgs/msg/Image")
            writer.write(connection, 10_000_000_000 + number * 33_000_000, raw)
    videos = bag_videos(path)
    assert [len(v) for v in videos] == [3, 2, 1]
    assert [v.name for v in videos] == ["jumps_cam_part01", "jumps_cam_part02", "jumps_cam_part03"]
    assert [s.stamp_ns for s in videos[1].samples()] == stamps[3:5]
    assert len({v.source_id for v in videos}) == 3


def test_unreadable_or_empty_bags_are_named_with_a_fix(tmp_path):
    from rosbags.rosbag2 import Writer
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.LATEST)
    empty = tmp_path / "empty"
    with Writer(empty, version=8) as writer:
        writer.add_connection("/cam/image", "sensor_msgs/msg/Image", typestore=store)
    with pytest.raises(LayoutError, match=r"image topic /cam/image holds no message"):
        bag_videos(empty)
    (empty / "metadata.yaml").write_text("rosbag2_bagfile_information: [unclosed\n")
    with pytest.raises(LayoutError, match=r"(?s)cannot be read as a rosbag2 bag.*reindex"):
        bag_videos(empty)


def test_a_file_beside_bags_is_not_taken_for_its_siblings(tmp_path):
    frames = [f.image for f in generate_clip(ClipSpec(1, "Vehicle", 2, 96, 64))]
    bag = write_image_bag(tmp_path / "flights" / "one", frames)
    (tmp_path / "flights" / "notes.mcap").write_bytes(b"")
    with pytest.raises(LayoutError, match=r"notes\.mcap is a file outside any rosbag2 bag"):
        find_bags(tmp_path / "flights" / "notes.mcap")
    inside = next(bag.glob("*.db3"))  # a file inside a bag still means that bag
    assert find_bags(inside) == [bag]
