"""Pure-torch models: no scikit-learn in here."""

from sslts.models.deepsvdd import DeepSVDDNetwork
from sslts.models.heads import (
    ChannelMixer,
    TSLens,
    TSPulseForClassification,
    TSPulseForLinearClassification,
)
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
from sslts.models.masking import mixed_mask, patch_mask
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
    "mixed_mask",
    "MTSJEPA",
    "MTSJEPAOutput",
    "PatchDecoder",
    "PatchEncoder",
    "patch_mask",
    "PatchReconstructionHead",
    "ProjectionHead",
    "SoftCodebook",
    "TSLens",
    "TSPulse",
    "TSPulseConfig",
    "TSPulseForClassification",
    "TSPulseForLinearClassification",
    "TSPulseOutput",
]
