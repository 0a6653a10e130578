"""Self-supervised objectives: one module per objective, each a plain callable."""

from sslts.objectives.dino import (
    DINO,
    DINOBranch,
    DINOLosses,
    DINOObjective,
    DINOOutput,
    teacher_targets,
)
from sslts.objectives.lejepa import (
    LeJEPA,
    LeJEPALosses,
    LeJEPAObjective,
    LeJEPAOutput,
    sigreg,
    SIGREG_NORMAL_MEAN,
)
from sslts.objectives.masked import (
    MaskedLosses,
    MaskedObjective,
    MaskedOutput,
    MaskedPatchModel,
    patch_mask,
)
from sslts.objectives.mtsjepa import MTSJEPALosses, MTSJEPAObjective
from sslts.objectives.tspulse import TSPulseLosses, TSPulseObjective

__all__ = [
    "DINO",
    "DINOBranch",
    "DINOLosses",
    "DINOObjective",
    "DINOOutput",
    "LeJEPA",
    "LeJEPALosses",
    "LeJEPAObjective",
    "LeJEPAOutput",
    "MaskedLosses",
    "MaskedObjective",
    "MaskedOutput",
    "MaskedPatchModel",
    "MTSJEPALosses",
    "MTSJEPAObjective",
    "patch_mask",
    "sigreg",
    "SIGREG_NORMAL_MEAN",
    "teacher_targets",
    "TSPulseLosses",
    "TSPulseObjective",
]
