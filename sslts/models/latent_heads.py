"""Heads for the latent and masked objectives: projector, DINO head, patch decoder.

Pure torch. Each head maps encoder features of shape ``(..., d_in)`` to
``(..., d_out)``, so channel and token dimensions flow through unchanged.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from sslts.models._random import init_from_active_generator

__all__ = ["DINOHead", "PatchReconstructionHead", "ProjectionHead"]


def _mlp(d_in: int, hidden: int, d_out: int, n_layers: int) -> nn.Sequential:
    """``n_layers`` linear layers with GELU in between (none after the last)."""
    if n_layers < 1:
        raise ValueError(f"n_layers must be >= 1, got {n_layers}")
    sizes = [d_in] + [hidden] * (n_layers - 1) + [d_out]
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < n_layers - 1:
            layers.append(nn.GELU())
    return nn.Sequential(*layers)


@init_from_active_generator
class ProjectionHead(nn.Module):
    """An MLP projector (GELU between layers, linear output).

    Parameters
    ----------
    d_in : int
        Feature size of the encoder.
    hidden : int
        Width of the hidden layers.
    d_out : int
        Projection size.
    n_layers : int, default 2
        Number of linear layers (1 is a single linear map).

    Examples
    --------
    >>> import torch
    >>> ProjectionHead(8, 16, 4)(torch.zeros(3, 2, 8)).shape
    torch.Size([3, 2, 4])
    """

    def __init__(self, d_in: int, hidden: int, d_out: int, n_layers: int = 2) -> None:
        super().__init__()
        self.mlp = _mlp(d_in, hidden, d_out, n_layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Project ``z`` of shape ``(..., d_in)`` to ``(..., d_out)``."""
        return self.mlp(z)


@init_from_active_generator
class DINOHead(nn.Module):
    """DINO head: MLP, L2-normalised bottleneck, weight-normalised prototypes.

    The prototype layer is a linear map without bias whose weight rows are
    L2-normalised at every call (weight normalisation with the gain fixed at
    1, DINO's ``norm_last_layer``), so the logits are cosine similarities
    between the bottleneck and ``n_prototypes`` learned directions. This keeps
    the logit scale fixed, which makes the temperatures of
    :class:`~sslts.objectives.DINOObjective` meaningful.

    Parameters
    ----------
    d_in : int
        Feature size of the encoder.
    hidden : int, default 256
        Width of the MLP's hidden layers.
    bottleneck : int, default 64
        Size of the normalised bottleneck.
    n_prototypes : int, default 256
        Output size (number of prototypes, DINO's ``out_dim``).
    n_layers : int, default 3
        Linear layers of the MLP (the last one outputs the bottleneck).

    Examples
    --------
    >>> import torch
    >>> head = DINOHead(8, hidden=16, bottleneck=4, n_prototypes=10)
    >>> logits = head(torch.randn(5, 8))
    >>> logits.shape, bool(logits.abs().max() <= 1 + 1e-6)
    (torch.Size([5, 10]), True)
    """

    def __init__(
        self,
        d_in: int,
        hidden: int = 256,
        bottleneck: int = 64,
        n_prototypes: int = 256,
        n_layers: int = 3,
    ) -> None:
        super().__init__()
        self.mlp = _mlp(d_in, hidden, bottleneck, n_layers)
        self.prototypes = nn.Parameter(torch.empty(n_prototypes, bottleneck))
        nn.init.trunc_normal_(self.prototypes, std=0.02)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Prototype logits (cosine similarities in ``[-1, 1]``) of shape ``(..., n_prototypes)``."""
        h = F.normalize(self.mlp(z), dim=-1)
        return F.linear(h, F.normalize(self.prototypes, dim=-1))


@init_from_active_generator
class PatchReconstructionHead(nn.Module):
    """Linear map from each patch token back to its ``patch_length`` values.

    Parameters
    ----------
    d_model : int
        Token size of the encoder.
    patch_length : int
        Points per patch.

    Examples
    --------
    >>> import torch
    >>> PatchReconstructionHead(8, 5)(torch.zeros(2, 3, 4, 8)).shape
    torch.Size([2, 3, 4, 5])
    """

    def __init__(self, d_model: int, patch_length: int) -> None:
        super().__init__()
        self.linear = nn.Linear(d_model, patch_length)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(..., P, d_model) -> (..., P, patch_length)``."""
        return self.linear(tokens)
