"""Pure-torch models: no scikit-learn in here."""

from sslts.models.tspulse import TSPulse, TSPulseConfig, TSPulseOutput
from sslts.models.jepa import (
    CodebookOutput,
    CoarsePredictor,
    EncoderOutput,
    FinePredictor,
    JEPAConfig,
    MTSJEPA,
    MTSJEPAOutput,
    PatchDecoder,
    PatchEncoder,
    SoftCodebook,
    coarse_view,
)
from sslts.models.heads import ChannelMixer, TSLens, TSPulseForClassification

__all__ = [
    "TSPulse",
    "TSPulseConfig",
    "TSPulseOutput",
    "CodebookOutput",
    "CoarsePredictor",
    "EncoderOutput",
    "FinePredictor",
    "JEPAConfig",
    "MTSJEPA",
    "MTSJEPAOutput",
    "PatchDecoder",
    "PatchEncoder",
    "SoftCodebook",
    "coarse_view",
    "ChannelMixer",
    "TSLens",
    "TSPulseForClassification",
]
from sslts.models.latent_heads import DINOHead, PatchReconstructionHead, ProjectionHead

__all__ += ["DINOHead", "PatchReconstructionHead", "ProjectionHead"]
from sslts.models.deepsvdd import DeepSVDDNetwork

__all__ += ["DeepSVDDNetwork"]
