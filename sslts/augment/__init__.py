"""Numpy augmentations (views) for self-supervised pretraining."""

from sslts.augment._views import (
    DINO_WAVELETS,
    AugmentationPipeline,
    DinoViews,
    LocalCrops,
    amplitude_scale,
    channel_dropout,
    dino_views,
    fft_bin_mask,
    jitter,
    lejepa_views,
    random_crop,
)
from sslts.augment._wavelet import (
    dwt_band_scale,
    dwt_low_pass,
    dwt_perturb_details,
    dwt_soft_threshold,
    dwt_zero_details,
)

__all__ = [
    "DINO_WAVELETS",
    "AugmentationPipeline",
    "DinoViews",
    "LocalCrops",
    "amplitude_scale",
    "channel_dropout",
    "dino_views",
    "dwt_band_scale",
    "dwt_low_pass",
    "dwt_perturb_details",
    "dwt_soft_threshold",
    "dwt_zero_details",
    "fft_bin_mask",
    "jitter",
    "lejepa_views",
    "random_crop",
]
