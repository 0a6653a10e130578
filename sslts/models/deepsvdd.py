"""The network of Deep SVDD (Ruff et al., "Deep One-Class Classification", ICML 2018).

An MLP without bias terms maps a window to a point in a small representation
space; training pulls every normal window towards a fixed center ``c``. Bias
terms are left out because with them the network could map every input onto
``c`` (a trivial, "collapsed" solution); ``c`` is the mean representation of
the training windows under the initial weights, with coordinates too close to
zero pushed to ``+-eps`` for the same reason.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from sslts.models._random import init_from_active_generator

__all__ = ["DeepSVDDNetwork"]


@init_from_active_generator
class DeepSVDDNetwork(nn.Module):
    """Bias-free MLP with a one-class center.

    Parameters
    ----------
    input_size : int
        Points per window.
    hidden_sizes : sequence of int
        Widths of the layers; the last is the representation size.

    Examples
    --------
    >>> import torch
    >>> net = DeepSVDDNetwork(16, (8, 4))
    >>> net.init_center(torch.randn(32, 16))
    >>> net.distance(torch.randn(5, 16)).shape
    torch.Size([5])
    """

    def __init__(self, input_size: int, hidden_sizes: Sequence[int] = (64, 32)) -> None:
        super().__init__()
        if not hidden_sizes:
            raise ValueError("hidden_sizes needs at least one layer")
        layers: list[nn.Module] = []
        width = input_size
        for i, size in enumerate(hidden_sizes):
            layers.append(nn.Linear(width, size, bias=False))
            if i < len(hidden_sizes) - 1:
                layers.append(nn.LeakyReLU(0.1))
            width = size
        self.encoder = nn.Sequential(*layers)
        self.register_buffer("center", torch.zeros(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Representations ``(batch, hidden_sizes[-1])`` of ``(batch, input_size)``."""
        return self.encoder(x)

    def distance(self, x: torch.Tensor) -> torch.Tensor:
        """Squared distance of each window's representation to the center.

        Parameters
        ----------
        x : torch.Tensor
            ``(n_windows, window)`` windows.
        """
        return ((self(x) - self.center) ** 2).sum(-1)

    @torch.no_grad()
    def init_center(self, x: torch.Tensor, eps: float = 0.1) -> None:
        """Set the center to the mean representation of ``x`` (with the eps fix).

        Parameters
        ----------
        x : torch.Tensor
            ``(n_windows, window)`` windows.
        eps : float, default=0.1
            Center coordinates closer to 0 than ``eps`` are moved to ``-eps`` or
            ``eps``, so the network cannot map everything to a trivial center.
        """
        center = self(x).mean(0)
        small = center.abs() < eps
        center[small] = torch.where(center[small] < 0, -eps, eps)
        self.center.copy_(center)
