"""Self-supervised objectives: one module per objective, each a plain callable."""

from sslts.objectives.tspulse import TSPulseLosses, TSPulseObjective
from sslts.objectives.mtsjepa import MTSJEPALosses, MTSJEPAObjective

__all__ = [
    "TSPulseLosses",
    "TSPulseObjective",
    "MTSJEPALosses",
    "MTSJEPAObjective",
]
