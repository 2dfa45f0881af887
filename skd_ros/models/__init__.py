"""The five SKD networks' trainable members: students Ss, St and the deployed Sst.

Builders follow torchvision's style: `spatial_student()`, `temporal_student()`,
`spatiotemporal()`, each taking a `ModelConfig`.
"""

from skd_ros.models.config import KERNEL_VARIANTS, PAPER_RESOLUTIONS, ModelConfig
from skd_ros.models.spatiotemporal import Sst, spatiotemporal
from skd_ros.models.students import (
    SpatialStudent,
    Student,
    TemporalStudent,
    spatial_student,
    temporal_student,
)
from skd_ros.models.summary import count_parameters, summary

__all__ = [
    "KERNEL_VARIANTS",
    "PAPER_RESOLUTIONS",
    "ModelConfig",
    "SpatialStudent",
    "Sst",
    "Student",
    "TemporalStudent",
    "count_parameters",
    "spatial_student",
    "spatiotemporal",
    "summary",
    "temporal_student",
]
