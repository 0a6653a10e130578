"""Random masks for masked pretraining, drawn in torch (True = hidden).

:func:`patch_mask` hides a fixed number of random patches per sequence (the
masked-reconstruction baseline of :mod:`sslts.objectives.masked`);
:func:`mixed_mask` hides whole patches the same way and then single points
(TSPulse's mixed masking, :class:`sslts.models.TSPulse`).
"""

from __future__ import annotations

import torch

__all__ = ["mixed_mask", "patch_mask"]


def _check_ratio(name: str, ratio: float) -> None:
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {ratio}")


def _patch_mask(
    shape: tuple[int, ...],
    ratio: float,
    device: torch.device | str | None,
    generator: torch.Generator | None,
) -> torch.Tensor:
    n_patches = shape[-1]
    n_hidden = min(n_patches - 1, max(int(ratio > 0), round(ratio * n_patches)))
    order = torch.rand(shape, device=device, generator=generator).argsort(-1)
    return order < n_hidden


def patch_mask(
    shape: tuple[int, ...],
    ratio: float,
    *,
    device: torch.device | str | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Hide ``round(ratio * P)`` random patches of every sequence of ``P`` patches.

    At least one patch is hidden when ``ratio > 0`` and at least one stays
    visible, so a sequence of one patch is never masked.

    Parameters
    ----------
    shape : tuple of int
        ``(..., P)``: every leading index is one sequence of ``P`` patches.
    ratio : float
        Fraction of patches to hide, in ``[0, 1)``.
    device : torch.device or str, optional
        Where to draw (and return) the mask.
    generator : torch.Generator, optional
        Random source on ``device`` (torch's global generator when None).

    Returns
    -------
    torch.Tensor
        Boolean tensor of shape ``shape``, True where a patch is hidden.

    Examples
    --------
    >>> import torch
    >>> mask = patch_mask((3, 2, 5), 0.4, generator=torch.Generator().manual_seed(0))
    >>> mask.sum(-1).tolist()
    [[2, 2], [2, 2], [2, 2]]
    """
    _check_ratio("ratio", ratio)
    return _patch_mask(tuple(shape), ratio, device, generator)


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
    """Draw a mixed block + point-wise mask of ``n_series`` series.

    Whole patches are hidden as by :func:`patch_mask` with ``block_ratio``,
    then every remaining point is hidden independently with probability
    ``point_ratio``.

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
    device : torch.device or str, optional
        Where to draw (and return) the mask.
    generator : torch.Generator, optional
        Random source on ``device`` (torch's global generator when None).

    Returns
    -------
    torch.Tensor
        Boolean tensor of shape ``(n_series, length)``, True where hidden.

    Examples
    --------
    >>> import torch
    >>> m = mixed_mask(4, 64, 8, block_ratio=0.25, point_ratio=0.0,
    ...                generator=torch.Generator().manual_seed(0))
    >>> m.shape, int(m.sum(1)[0])
    (torch.Size([4, 64]), 16)
    """
    if length % patch_length:
        raise ValueError(f"length {length} is not a multiple of patch_length {patch_length}")
    _check_ratio("block_ratio", block_ratio)
    _check_ratio("point_ratio", point_ratio)
    blocks = _patch_mask((n_series, length // patch_length), block_ratio, device, generator)
    mask = blocks.repeat_interleave(patch_length, dim=1)
    if point_ratio > 0:
        points = torch.rand(n_series, length, device=device, generator=generator)
        mask |= points < point_ratio
    return mask
