"""The dataset layouts skd_ros reads and writes, as facts shared by readers and writers.

AVS1K's public layout: `AVS1K/<split>/Frame/<video>/*` with the frames and
`AVS1K/<split>/Ground/<video>/*` with one ground-truth map per frame, `<split>` one of
`SPLITS`, each video of one of `CATEGORIES`. The DHF1K-style frame folders:
`<root>/<video>/images/*`, `maps/*` and optionally `fixation/*`. The readers live in
`skd_ros.data.avs1k` and `skd_ros.data.folders`; `skd_ros.data.synthetic` writes both.
"""

from __future__ import annotations

CATEGORIES = ("Building", "Human", "Vehicle", "Others")  # AVS1K's video categories
SPLITS = ("trainSet", "validSet", "testSet")  # AVS1K's splits, in this order
AVS1K_FOLDER = "AVS1K"  # the dataset's own folder, inside the root a user names
FRAME_FOLDER, GROUND_FOLDER = "Frame", "Ground"  # per split: frames, ground-truth maps
IMAGES, MAPS, FIXATIONS = "images", "maps", "fixation"  # per video of a frame-folder set
MAX_SIDE = 7680  # frame sides in pixels: 8K wide at most
