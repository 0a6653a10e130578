"""The generative baseline: PatchTST-style masked patch reconstruction on the shared encoder.

A fraction of the patches of every channel is hidden: their patch embeddings
are replaced with one learned mask token before the Transformer (the
positional embedding is still added, so the encoder knows *where* a patch is
missing). A linear head maps every output token back to ``patch_length``
points, and the loss is the MSE on the hidden, observed points in RevIN
space. RevIN statistics come from the visible points only, so the hidden
values do not leak through the normalisation.

Same encoder, same windows, same optimiser as the latent objectives
(:mod:`sslts.objectives.lejepa`, :mod:`sslts.objectives.dino`,
:mod:`sslts.objectives.mtsjepa`): only the objective changes, which is
the comparison "generative vs latent" of SCIENCE.md section 4.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from sslts.models._random import active_generator, init_from_active_generator
from sslts.models.latent_heads import PatchReconstructionHead
from sslts.models.masking import patch_mask
from sslts.objectives._registry import Objective, register_objective, wrap_encoder

__all__ = ["MaskedLosses", "MaskedObjective", "MaskedOutput", "MaskedPatchModel"]


def _check_patches(n_patches: int) -> None:
    if n_patches < 2:
        raise ValueError(
            f"masked reconstruction needs at least 2 patches per window, got {n_patches}"
        )


class MaskedOutput(NamedTuple):
    """Reconstruction and target ``(B, C, P, patch_length)``, hidden patches and observed points.

    Parameters
    ----------
    reconstruction : torch.Tensor
        Reconstructed patches, in RevIN units.
    target : torch.Tensor
        The true patches, in RevIN units.
    hidden : torch.Tensor
        Bool ``(B, C, P, 1)``: True for patches replaced by the mask token.
    observed : torch.Tensor
        Bool ``(B, C, P, patch_length)``: True for observed points.
    """

    reconstruction: torch.Tensor
    target: torch.Tensor
    hidden: torch.Tensor  # bool (B, C, P, 1): patch replaced by the mask token
    observed: torch.Tensor  # bool (B, C, P, patch_length)


@init_from_active_generator
class MaskedPatchModel(nn.Module):
    """Shared encoder with a mask token and a linear patch-reconstruction head.

    Parameters
    ----------
    encoder : PatchEncoder
        The shared backbone (:class:`sslts.models.PatchEncoder`) of at least
        2 patches per window; its ``normalise``, ``patch_embedding``,
        ``position`` and ``transformer`` are used so masking happens between
        patch embedding and attention.
    mask_ratio : float, default 0.4
        Fraction of patches hidden per channel (PatchTST uses 0.4), drawn by
        :func:`sslts.models.patch_mask` (at least one hidden and one visible).
    """

    def __init__(self, encoder: nn.Module, mask_ratio: float = 0.4) -> None:
        super().__init__()
        if not 0.0 < mask_ratio < 1.0:
            raise ValueError(f"mask_ratio must be in (0, 1), got {mask_ratio}")
        cfg = encoder.config
        _check_patches(cfg.n_patches)
        self.encoder = encoder
        self.mask_ratio = mask_ratio
        self.mask_token = nn.Parameter(torch.zeros(cfg.d_model))
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        self.head = PatchReconstructionHead(cfg.d_model, cfg.patch_length)

    def forward(self, x: torch.Tensor, observed: torch.Tensor | None = None) -> MaskedOutput:
        """Mask, encode and reconstruct ``x`` ``(B, C, T)``."""
        encoder, cfg = self.encoder, self.encoder.config
        length = cfg.patch_length
        if x.ndim != 3 or x.shape[-1] % length or x.shape[-1] > cfg.context_length:
            raise ValueError(
                f"expected (B, C, T) with T a multiple of {length} up to "
                f"{cfg.context_length}, got shape {tuple(x.shape)}"
            )
        if observed is None:
            observed = torch.ones_like(x, dtype=torch.bool)
        n = x.shape[-1] // length
        _check_patches(n)
        hidden = patch_mask(
            x.shape[:-1] + (n,),
            self.mask_ratio,
            device=x.device,
            generator=active_generator(x.device),
        )
        visible = observed & ~hidden.repeat_interleave(length, -1)
        scaled, loc, scale = encoder.normalise(x, visible)
        tokens = encoder.patch_embedding(scaled.unflatten(-1, (n, length)))
        tokens = torch.where(hidden.unsqueeze(-1), self.mask_token, tokens)
        tokens = encoder.transformer((tokens + encoder.position[:n]).flatten(0, -3))
        tokens = tokens.view(*x.shape[:-1], n, cfg.d_model)
        target = torch.where(observed, (x - loc) / scale, torch.zeros_like(x))
        return MaskedOutput(
            self.head(tokens),
            target.unflatten(-1, (n, length)),
            hidden.unsqueeze(-1),
            observed.unflatten(-1, (n, length)),
        )


class MaskedLosses(NamedTuple):
    """The total (MSE on hidden observed points) and the same MSE on visible points.

    Parameters
    ----------
    total : torch.Tensor
        MSE on the hidden, observed points (the training loss).
    visible : torch.Tensor
        The same MSE on the visible points (a monitor).
    """

    total: torch.Tensor
    visible: torch.Tensor


class MaskedObjective:
    """MSE between reconstruction and target on hidden, observed points (RevIN space).

    The MSE on the visible patches is reported as a monitor only (it does
    not enter the total).
    """

    def __call__(self, output: MaskedOutput, **batch: torch.Tensor) -> MaskedLosses:
        """Losses of one batch (``batch`` holds the inputs and is unused)."""
        error = (output.reconstruction - output.target) ** 2
        hidden = (output.hidden & output.observed).to(error.dtype)
        masked = (error * hidden).sum() / hidden.sum().clamp_min(1.0)
        with torch.no_grad():
            visible = (~output.hidden & output.observed).to(error.dtype)
            seen = (error * visible).sum() / visible.sum().clamp_min(1.0)
        return MaskedLosses(masked, seen)


register_objective(
    Objective(
        name="masked",
        module=MaskedPatchModel,
        build=wrap_encoder(MaskedPatchModel),
        criterion=MaskedObjective,
        losses=MaskedLosses,
    )
)
