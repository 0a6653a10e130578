"""Self-supervised objectives: one module per objective, each a plain callable."""

from sslts.objectives.tspulse import TSPulseLosses, TSPulseObjective
from sslts.objectives.mtsjepa import MTSJEPALosses, MTSJEPAObjective

__all__ = [
    "TSPulseLosses",
    "TSPulseObjective",
    "MTSJEPALosses",
    "MTSJEPAObjective",
]
from sslts.objectives.lejepa import (
    SIGREG_NORMAL_MEAN,
    LeJEPA,
    LeJEPALosses,
    LeJEPAObjective,
    LeJEPAOutput,
    sigreg,
)
from sslts.objectives.dino import (
    DINO,
    DINOBranch,
    DINOLosses,
    DINOObjective,
    DINOOutput,
    teacher_targets,
)
from sslts.objectives.masked import (
    MaskedLosses,
    MaskedObjective,
    MaskedOutput,
    MaskedPatchModel,
    patch_mask,
)

__all__ += [
    "SIGREG_NORMAL_MEAN",
    "LeJEPA",
    "LeJEPALosses",
    "LeJEPAObjective",
    "LeJEPAOutput",
    "sigreg",
    "DINO",
    "DINOBranch",
    "DINOLosses",
    "DINOObjective",
    "DINOOutput",
    "teacher_targets",
    "MaskedLosses",
    "MaskedObjective",
    "MaskedOutput",
    "MaskedPatchModel",
    "patch_mask",
]
