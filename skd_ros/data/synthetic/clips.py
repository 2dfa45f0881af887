"""Clips: rendering one frame by frame, and the specs of a whole AVS1K-style dataset."""

from __future__ import annotations

from collections.abc import Iterator

from skd_ros.data.layout import CATEGORIES, SPLITS
from skd_ros.data.synthetic.scene import Scene
from skd_ros.data.synthetic.spec import ClipSpec, Frame

GENERATOR_VERSION = 3  # bumped when the clips change: 2 oblique, look-alikes, finish; 3 fps
FRAME_RATES = (10.0, 30.0, 15.0)  # default_splits: a drone's video, subsampled or not


def generate_clip(spec: ClipSpec) -> Iterator[Frame]:
    """Render the clip frame by frame (a generator, so long clips stream in constant memory)."""
    scene = Scene(spec)
    for index in range(spec.n_frames):
        yield scene.render(index)
        scene.step()


def default_splits(
    n_train: int,
    n_valid: int,
    n_test: int,
    n_frames: int = 100,
    width: int = 1280,
    height: int = 720,
    base_seed: int = 0,
) -> dict[str, list[ClipSpec]]:
    """Clip specs for the three AVS1K splits: categories cycle, and for each category the
    frame rate (`FRAME_RATES`: how far things move between frames); seeds never repeat."""
    splits, seed = {}, base_seed
    for split, count in zip(SPLITS, (n_train, n_valid, n_test), strict=True):
        specs = []
        for i in range(count):
            category = CATEGORIES[i % len(CATEGORIES)]
            fps = FRAME_RATES[i // len(CATEGORIES) % len(FRAME_RATES)]
            specs.append(ClipSpec(seed, category, n_frames, width, height, fps))
            seed += 1
        splits[split] = specs
    return splits
