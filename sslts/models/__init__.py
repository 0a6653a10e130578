"""Pure-torch models: no scikit-learn in here."""

from sslts.models.tspulse import TSPulse, TSPulseConfig, TSPulseOutput
from sslts.models.jepa import EncoderOutput, JEPAConfig, PatchEncoder, coarse_view

__all__ = [
    "TSPulse",
    "TSPulseConfig",
    "TSPulseOutput",
    "EncoderOutput",
    "JEPAConfig",
    "PatchEncoder",
    "coarse_view",
]
