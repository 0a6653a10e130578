"""Pure-torch models: no scikit-learn in here."""

from sslts.models.deepsvdd import DeepSVDDNetwork
from sslts.models.heads import ChannelMixer, TSLens, TSPulseForClassification
from sslts.models.jepa import (
    coarse_view,
    CoarsePredictor,
    CodebookOutput,
    EncoderOutput,
    FinePredictor,
    JEPAConfig,
    MTSJEPA,
    MTSJEPAOutput,
    PatchDecoder,
    PatchEncoder,
    SoftCodebook,
)
from sslts.models.latent_heads import DINOHead, PatchReconstructionHead, ProjectionHead
from sslts.models.tspulse import TSPulse, TSPulseConfig, TSPulseOutput

__all__ = [
    "ChannelMixer",
    "coarse_view",
    "CoarsePredictor",
    "CodebookOutput",
    "DeepSVDDNetwork",
    "DINOHead",
    "EncoderOutput",
    "FinePredictor",
    "JEPAConfig",
    "MTSJEPA",
    "MTSJEPAOutput",
    "PatchDecoder",
    "PatchEncoder",
    "PatchReconstructionHead",
    "ProjectionHead",
    "SoftCodebook",
    "TSLens",
    "TSPulse",
    "TSPulseConfig",
    "TSPulseForClassification",
    "TSPulseOutput",
]
