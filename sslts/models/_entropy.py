"""Entropy of categorical distributions, shared by the objectives and the collapse monitor."""

from __future__ import annotations

import torch

__all__ = ["entropy"]


def entropy(probabilities: torch.Tensor) -> torch.Tensor:
    """Entropy in nats of the distributions on the last axis of ``probabilities``.

    ``-sum_k p_k log p_k`` with ``0 log 0 = 0`` (probabilities are clamped
    to ``1e-12`` inside the logarithm); differentiable, same dtype and
    leading shape as the input.
    """
    return -(probabilities * torch.log(probabilities.clamp_min(1e-12))).sum(-1)
