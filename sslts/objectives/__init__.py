"""Self-supervised objectives: one module per objective, each a plain callable, and a registry.

The latent objectives on the shared patch encoder (``"lejepa"``, ``"dino"``,
``"masked"``, ``"mts-jepa"``) register themselves as :class:`Objective`
entries (see :func:`get_objective`); TSPulse's dual-space reconstruction
(:class:`TSPulseObjective`) trains its own model and is used directly.
"""

from sslts.objectives._registry import (
    available_objectives,
    get_objective,
    Objective,
    register_objective,
    window_batch,
    wrap_encoder,
)
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
)
from sslts.objectives.mtsjepa import MTSJEPALosses, MTSJEPAObjective, next_window_pairs
from sslts.objectives.tspulse import TSPulseLosses, TSPulseObjective

__all__ = [
    "available_objectives",
    "DINO",
    "DINOBranch",
    "DINOLosses",
    "DINOObjective",
    "DINOOutput",
    "get_objective",
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
    "next_window_pairs",
    "Objective",
    "register_objective",
    "sigreg",
    "SIGREG_NORMAL_MEAN",
    "teacher_targets",
    "TSPulseLosses",
    "TSPulseObjective",
    "window_batch",
    "wrap_encoder",
]
