"""The TSPulse pretraining objective: dual-space masked reconstruction."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch.nn import functional as F

from sslts.models.tspulse import (
    TSPulseConfig,
    TSPulseOutput,
    normalised_spectrum,
    spectrum_log_amplitude,
)

__all__ = ["TSPulseLosses", "TSPulseObjective"]


class TSPulseLosses(NamedTuple):
    """The weighted total and its five unweighted parts.

    The parts are described in :class:`TSPulseObjective`.

    Parameters
    ----------
    total : torch.Tensor
        The weighted sum of the parts (the training loss).
    time : torch.Tensor
        MSE of the time head on hidden observed points.
    fft : torch.Tensor
        MSE of the spectrum head against the normalised spectrum.
    fft_time : torch.Tensor
        MSE of the inverse of the spectrum head on hidden observed points.
    prob : torch.Tensor
        Soft cross-entropy of the spectrum-probability head.
    forecast : torch.Tensor
        MSE of the forecast head on the points after the context.
    """

    total: torch.Tensor
    time: torch.Tensor
    fft: torch.Tensor
    fft_time: torch.Tensor
    prob: torch.Tensor
    forecast: torch.Tensor


def _masked_mse(pred: torch.Tensor, target: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
    weight = where.to(pred.dtype)
    return ((pred - target) ** 2 * weight).sum() / weight.sum().clamp_min(1.0)


class TSPulseObjective:
    """Weighted sum of the five TSPulse losses.

    * ``time``: MSE of the time head on hidden *observed* points;
    * ``fft``: MSE of the spectrum head against the normalised spectrum of the
      full (unmasked) scaled series, normalised with the input's factors so the
      inverse is available at inference;
    * ``fft_time``: MSE of the inverse of the spectrum head on hidden observed
      points;
    * ``prob``: soft cross-entropy between the softmax of the true
      log-amplitude spectrum and the probability head;
    * ``forecast``: MSE of the forecast head on the points after the context
      (skipped when the batch holds only the context).

    All targets live in the RevIN space of the visible context, so the loss is
    scale-free; they are clipped to ``config.target_clip`` (see
    :class:`~sslts.models.TSPulseConfig`). A plain callable (not an ``nn.Module``), as skorch recommends
    for criteria computed in ``get_loss``.

    Parameters
    ----------
    config : TSPulseConfig
        Supplies the loss weights and lengths.
    """

    def __init__(self, config: TSPulseConfig) -> None:
        self.config = config

    def __call__(
        self,
        output: TSPulseOutput,
        x: torch.Tensor,
        observed: torch.Tensor | None = None,
    ) -> TSPulseLosses:
        """Compute the losses for a batch ``x`` of shape ``(B, C, L)``.

        ``L`` is ``context_length`` or ``context_length + forecast_length``;
        ``observed`` (same shape as ``x``) marks missing or padded points.
        """
        cfg = self.config
        ctx = cfg.context_length
        if observed is None:
            observed = torch.ones_like(x, dtype=torch.bool)
        clip = cfg.target_clip
        target = torch.where(observed, (x - output.loc) / output.scale, torch.zeros_like(x))
        target = target.clamp(-clip, clip)
        context, context_observed = target[..., :ctx], observed[..., :ctx]
        scored = output.hidden & context_observed

        time = _masked_mse(output.time, context, scored)
        # The full series' spectrum, normalised like the masked input's.
        spec = output.spectrum
        true_fft = normalised_spectrum(context, spec.real_scale, spec.imag_scale).clamp(-clip, clip)
        fft = F.mse_loss(output.fft, true_fft)
        fft_time = _masked_mse(output.fft_time, context, scored)
        target_prob = torch.softmax(spectrum_log_amplitude(context), dim=-1)
        prob = -(target_prob * torch.log_softmax(output.prob_logits, dim=-1)).sum(-1).mean()

        future = target[..., ctx : ctx + cfg.forecast_length]
        if future.shape[-1] == cfg.forecast_length:
            future_observed = observed[..., ctx : ctx + cfg.forecast_length]
            forecast = _masked_mse(output.forecast, future, future_observed)
        else:
            forecast = torch.zeros((), device=x.device)

        total = (
            cfg.time_weight * time
            + cfg.fft_weight * fft
            + cfg.fft_time_weight * fft_time
            + cfg.prob_weight * prob
            + cfg.forecast_weight * forecast
        )
        return TSPulseLosses(total, time, fft, fft_time, prob, forecast)
