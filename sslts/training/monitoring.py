"""Collapse monitoring for latent self-supervised training.

A falling loss does not show a collapse: with near-uniform code assignments
(or a constant embedding) the objectives can still be fitted. These statistics
do show it:

* :func:`code_usage_entropy`: entropy of the batch-mean code distribution
  divided by ``log K`` (0: one code for everything, 1: all codes equally used);
* :func:`top_code_probability`: mean of the largest code probability (``1/K``:
  uniform, undecided assignments; 1: hard assignments);
* :func:`effective_rank`: ``exp`` of the entropy of the normalised eigenvalues
  of the embedding covariance (1: all embeddings on a line, ``d``: isotropic).

:class:`CollapseMonitor` records them per epoch in ``net.history``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from skorch.callbacks import Callback

from sslts.models._entropy import entropy

__all__ = [
    "CollapseMonitor",
    "code_usage_entropy",
    "effective_rank",
    "top_code_probability",
]


def _rows(values: torch.Tensor) -> torch.Tensor:
    return values.detach().reshape(-1, values.shape[-1]).double()


def code_usage_entropy(probabilities: torch.Tensor) -> float:
    """Normalised entropy of the mean code distribution of ``(..., K)`` assignments.

    Parameters
    ----------
    probabilities : torch.Tensor
        Code assignments ``(..., K)``, rows on the simplex.
    """
    mean = _rows(probabilities).mean(0)
    return float(entropy(mean) / math.log(mean.shape[0]))


def top_code_probability(probabilities: torch.Tensor) -> float:
    """Mean over assignments of the largest code probability of ``(..., K)``.

    Parameters
    ----------
    probabilities : torch.Tensor
        Code assignments ``(..., K)``, rows on the simplex.
    """
    return float(_rows(probabilities).amax(-1).mean())


def effective_rank(embeddings: torch.Tensor) -> float:
    """Effective rank of the covariance of ``(..., d)`` embeddings (rows = samples).

    ``exp(-sum_i q_i log q_i)`` with ``q`` the covariance eigenvalues divided
    by their sum; 0 for fewer than two rows or a zero covariance.

    Parameters
    ----------
    embeddings : torch.Tensor
        ``(..., d)``; every leading index is a sample.
    """
    rows = _rows(embeddings)
    if rows.shape[0] < 2:
        return 0.0
    eigenvalues = torch.linalg.eigvalsh(torch.cov(rows.T)).clamp_min(0.0)
    total = eigenvalues.sum()
    if total <= 0:
        return 0.0
    q = eigenvalues / total
    return float(torch.exp(-(q * torch.log(q.clamp_min(1e-300))).sum()))


Field = str | Callable[[Any], torch.Tensor | None] | None


def _field(output: Any, field: Field) -> torch.Tensor | None:
    if field is None:
        return None
    if callable(field):
        return field(output)
    if isinstance(output, dict):
        return output.get(field)
    return getattr(output, field, None)


class CollapseMonitor(Callback):
    """Record code sharpness, code usage and embedding rank per training epoch.

    The statistics are computed at the end of each epoch from the module
    outputs (``y_pred``) of that epoch's training batches, up to
    ``max_rows`` rows each, and recorded in ``net.history`` as
    ``code_usage_entropy`` and ``code_top_probability`` (when the output has
    code probabilities) and ``embedding_rank`` (when it has embeddings).

    Parameters
    ----------
    probabilities : str, callable or None
        Where the output holds code probabilities ``(..., K)``: an attribute
        or dict key, or a function of the output; None to skip.
    embeddings : str, callable or None
        The same for embeddings ``(..., d)`` (every leading position is one
        row, e.g. every patch token).
    max_rows : int
        Rows kept per epoch for each statistic.
    """

    def __init__(
        self,
        probabilities: Field = "probabilities",
        embeddings: Field = "tokens",
        max_rows: int = 4096,
    ) -> None:
        self.probabilities = probabilities
        self.embeddings = embeddings
        self.max_rows = max_rows

    def on_epoch_begin(self, net, **kwargs) -> None:  # noqa: D102
        self.rows_: dict[str, list[torch.Tensor]] = {"probabilities": [], "embeddings": []}

    def on_batch_end(self, net, batch=None, training=None, **kwargs) -> None:  # noqa: D102
        if not training or "y_pred" not in kwargs:
            return
        for key, field in (("probabilities", self.probabilities), ("embeddings", self.embeddings)):
            values = _field(kwargs["y_pred"], field)
            kept = sum(len(v) for v in self.rows_[key])
            if values is None or kept >= self.max_rows:
                continue
            self.rows_[key].append(_rows(values)[: self.max_rows - kept].cpu())

    def on_epoch_end(self, net, **kwargs) -> None:  # noqa: D102
        probabilities = self.rows_["probabilities"]
        if probabilities:
            p = torch.cat(probabilities)
            net.history.record("code_usage_entropy", code_usage_entropy(p))
            net.history.record("code_top_probability", top_code_probability(p))
        embeddings = self.rows_["embeddings"]
        if embeddings:
            net.history.record("embedding_rank", effective_rank(torch.cat(embeddings)))
