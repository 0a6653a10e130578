"""Random masks for masked-reconstruction pretraining."""

from __future__ import annotations

import torch

__all__ = ["mixed_mask"]


def mixed_mask(
    n_series: int,
    length: int,
    patch_length: int,
    block_ratio: float,
    point_ratio: float,
    *,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw a mixed block + point-wise mask (True = hidden).

    A fraction ``block_ratio`` of the whole patches of each series is hidden
    (rounded, and at least one patch when the ratio is positive), then every
    remaining point is hidden independently with probability ``point_ratio``.

    Parameters
    ----------
    n_series : int
        Number of masks (rows).
    length : int
        Series length; must be a multiple of ``patch_length``.
    patch_length : int
        Points per patch.
    block_ratio, point_ratio : float
        Fractions in ``[0, 1)``.
    device, generator
        Where to draw and which random generator to use (global one when None).

    Returns
    -------
    torch.Tensor
        Boolean tensor of shape ``(n_series, length)``.

    Examples
    --------
    >>> import torch
    >>> m = mixed_mask(4, 64, 8, block_ratio=0.25, point_ratio=0.0,
    ...                generator=torch.Generator().manual_seed(0))
    >>> m.shape, int(m.sum(1)[0])
    (torch.Size([4, 64]), 16)
    """
    if length % patch_length:
        raise ValueError(
            f"length {length} is not a multiple of patch_length {patch_length}"
        )
    for name, ratio in (("block_ratio", block_ratio), ("point_ratio", point_ratio)):
        if not 0.0 <= ratio < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {ratio}")
    n_patches = length // patch_length
    n_blocks = min(n_patches - 1, max(int(block_ratio > 0), round(block_ratio * n_patches)))
    order = torch.rand(n_series, n_patches, device=device, generator=generator).argsort(1)
    blocks = order < n_blocks
    mask = blocks.repeat_interleave(patch_length, dim=1)
    if point_ratio > 0:
        points = torch.rand(n_series, length, device=device, generator=generator)
        mask |= points < point_ratio
    return mask
