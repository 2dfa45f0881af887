"""Deterministic synthetic aerial clips with ground-truth saliency.

A clip is what a drone camera sees: textured terrain (grass, soil, crop fields, ponds,
tree clusters), roads with lane markings, houses with shaded roofs, parked cars, dark
clutter, every object and tree with its cast shadow, and the clip's salient targets,
chosen by AVS1K category:

* ``Vehicle``: one to three cars driving along a road (parked cars are distractors),
* ``Human``: one to four people walking near a paved square,
* ``Building``: one distinctive building (vivid hall, dome or tower) among ordinary houses,
* ``Others``: boats on a pond, or animals grazing in a fenced pasture.

Moving targets come in any colour, dark to bright, and beside them stand static look-alikes
(people standing on the square, stopped cars, moored boats, resting animals): only motion
tells a target from its look-alike, so a model has to use the frame pair.

The camera is a pinhole over the ground (`ClipSpec.camera`): looking straight down or
oblique (pitched 15-40 degrees, far ground smaller and hazier), at an altitude that makes a
person 3-18 px and a car 12-80 px at 720p; it follows the targets loosely while it drifts on
a slow orbit, rolls and zooms a little, or it hovers in place (not for Vehicle clips). Roofs
and tree crowns sit on a layer above the ground, so they show parallax that the ground's
homography does not explain. The finish (`ClipSpec.finish`) is the camera's look: exposure
and white balance, vignetting, haze, sensor noise, motion blur, JPEG artefacts. The ground
truth of each frame is a fixation-density-like map: a sum of anisotropic Gaussians (one per
visible target, oriented and sized like it in the image, peak 1, clipped to [0, 1]), with
the targets' boxes and categories.

Everything random comes from ``numpy.random.default_rng(seed)`` (the finish from its own
stream, so turning it off changes no geometry), so a spec always gives the same bytes.
Rendering is cheap (a 100-frame 720p clip takes a few seconds): the terrain is painted once
per clip on a canvas larger than the view, each frame is two ``cv2.warpPerspective`` (the
ground, the raised layer), the moving targets are drawn as a few anti-aliased sub-pixel
polygons in frame coordinates, and the finish is a few whole-frame operations.

Command line: ``python -m skd_ros.data.synthetic --out DIR`` (see ``--help``).

The package, one concern a module: `spec` (ClipSpec, Frame), `clips` (generate_clip,
default_splits), `scene` (targets, their motion, rendering), `camera` (lens, pose,
homographies), `finish` (the camera's look), `world`, `painter`, `terrain`, `settlement`
and `roofs` (the static world, painted once), `targets` and `ground_truth` (what is
salient, drawn and mapped), `roads`, `geometry`, `drawing` and `palette` (primitives),
`writer` (datasets on disk) and `cli`. The dataset layout itself (categories, splits,
folder names) is `skd_ros.data.layout`.
"""

from skd_ros.data.layout import CATEGORIES, MAX_SIDE, SPLITS
from skd_ros.data.synthetic.cli import main
from skd_ros.data.synthetic.clips import (
    FRAME_RATES,
    GENERATOR_VERSION,
    default_splits,
    generate_clip,
)
from skd_ros.data.synthetic.ground_truth import SIGMA_FLOOR, add_gaussian
from skd_ros.data.synthetic.spec import CAMERAS, MIN_SIDE, ClipSpec, Frame, video_name
from skd_ros.data.synthetic.writer import (
    PNG_FAST,
    sample_fixations,
    write_avs1k,
    write_frame_folders,
)

__all__ = [
    "CAMERAS",
    "CATEGORIES",
    "FRAME_RATES",
    "GENERATOR_VERSION",
    "MAX_SIDE",
    "MIN_SIDE",
    "PNG_FAST",
    "SIGMA_FLOOR",
    "SPLITS",
    "ClipSpec",
    "Frame",
    "add_gaussian",
    "default_splits",
    "generate_clip",
    "main",
    "sample_fixations",
    "video_name",
    "write_avs1k",
    "write_frame_folders",
]
