"""Masks and augmentations for self-supervised pretraining."""

from sslts.augment._masking import mixed_mask

__all__ = ["mixed_mask"]
