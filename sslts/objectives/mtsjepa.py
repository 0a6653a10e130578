"""The MTS-JEPA pretraining objective: multi-resolution code prediction.

Terms (paper Eq. 5-14), each reduced to a mean so that the paper's weights
keep their balance whatever the batch, channel and patch counts:

* ``fine_kl``: ``KL(target || predicted)`` of the code distribution of every
  target patch, summed over the ``K`` codes, mean over patches;
* ``fine_mse``: mean squared error between the predicted and the target
  (soft-quantised) latents of every target patch;
* ``coarse``: the same KL for the one code of the target's coarse view;
* ``codebook`` and ``commitment``: ``||z - sg(h)||^2`` (pulls the prototypes
  to the encoder latents; weight ``codebook_weight``) and ``||h - sg(z)||^2``
  (pulls the encoder to its soft code; ``commitment_weight``), means over
  elements. This is the VQ-VAE convention, which the reference code follows;
  the paper's Eq. 11-12 print the stop-gradients the other way round. With
  the printed version the encoder is pulled (weight 1) towards soft codes
  that start near the prototype centroid, and a toy run collapsed to 2 of 32
  codes with an embedding effective rank of 1.1;
* ``sample_entropy``: mean entropy of the online code distributions
  (minimised: decisive assignments); ``batch_entropy``: entropy of their batch
  mean (maximised: many codes in use); both in nats;
* ``reconstruction``: mean squared error of the decoder on the observed
  context points, after undoing RevIN (``reconstruction_space="data"``) or in
  RevIN units (``"scaled"``).

Without a codebook (``use_codebook=False``) the predictions are latent
regressions: ``fine_kl`` is zero and ``fine_mse`` takes its place with weight
``fine_weight``, ``coarse`` is the MSE of the predicted coarse latent, and the
codebook and entropy terms are zero. Without the coarse branch ``coarse`` is
zero.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch
from skorch.callbacks import Callback
from torch.nn import functional as F

from sslts._validation import Panel
from sslts.models._entropy import entropy
from sslts.models.jepa import MTSJEPA, JEPAConfig, MTSJEPAOutput, PatchEncoder
from sslts.objectives._registry import Objective, register_objective
from sslts.training.net import mtsjepa_callbacks

__all__ = ["MTSJEPALosses", "MTSJEPAObjective", "next_window_pairs"]


class MTSJEPALosses(NamedTuple):
    """The weighted total, its unweighted parts and the current reconstruction weight.

    The parts are described in the module docstring.

    Parameters
    ----------
    total : torch.Tensor
        The weighted sum of the parts (the training loss).
    fine_kl : torch.Tensor
        KL divergence of the predicted fine codes.
    fine_mse : torch.Tensor
        MSE of the predicted fine latents.
    coarse : torch.Tensor
        KL (or MSE without a codebook) of the coarse prediction.
    codebook : torch.Tensor
        Codebook term: prototypes pulled to the encoder latents.
    commitment : torch.Tensor
        Commitment term: encoder pulled to its soft code.
    sample_entropy : torch.Tensor
        Mean entropy of the online code distributions.
    batch_entropy : torch.Tensor
        Entropy of their batch mean.
    reconstruction : torch.Tensor
        Decoder MSE on the observed context points.
    reconstruction_weight : torch.Tensor
        The current (annealed) weight of ``reconstruction``.
    """

    total: torch.Tensor
    fine_kl: torch.Tensor
    fine_mse: torch.Tensor
    coarse: torch.Tensor
    codebook: torch.Tensor
    commitment: torch.Tensor
    sample_entropy: torch.Tensor
    batch_entropy: torch.Tensor
    reconstruction: torch.Tensor
    reconstruction_weight: torch.Tensor


def _kl(target: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Mean over rows of ``KL(target || softmax(logits))`` summed over the last axis."""
    log_predicted = F.log_softmax(logits, dim=-1)
    return F.kl_div(log_predicted, target, reduction="none").sum(-1).mean()


class MTSJEPAObjective:
    """Weighted MTS-JEPA loss (see the module docstring for every term).

    ``total = fine_weight * (fine_kl + latent_weight * fine_mse)
    + coarse_weight * coarse + codebook_weight * codebook
    + commitment_weight * commitment + sample_entropy_weight * sample_entropy
    - batch_entropy_weight * batch_entropy + lambda_r * reconstruction``,
    with ``lambda_r`` annealed linearly from ``reconstruction_start`` to
    ``reconstruction_end`` as :attr:`progress` goes from 0 to 1 (set by
    :class:`sslts.training.ObjectiveProgress`; it stays 0 otherwise).

    A plain callable, called by :class:`sslts.training.PretrainNet` as
    ``objective(output, **batch)`` with the batch keys ``x`` (context),
    ``x_next`` (the next window) and optionally ``observed``/``observed_next``.

    Parameters
    ----------
    config : JEPAConfig
        Loss weights and the ablation switches.

    Examples
    --------
    Pretraining recipe: pairs of consecutive non-overlapping windows, the EMA
    target updated after every step, the reconstruction weight annealed over
    the epochs and the codes monitored for collapse.

    >>> import numpy as np
    >>> from skorch.callbacks import GradientNormClipping
    >>> from sslts.models import JEPAConfig, MTSJEPA
    >>> from sslts.training import PretrainNet, mtsjepa_callbacks, pretrain_callbacks
    >>> cfg = JEPAConfig(context_length=40, patch_length=10, d_model=16, n_layers=1,
    ...                  n_heads=2, codebook_size=8, predictor_dim=16,
    ...                  predictor_layers=1, predictor_heads=2)
    >>> series = np.sin(np.arange(41 * 40) / 3.0).astype("float32")
    >>> windows = series.reshape(41, 1, 40)          # (n_windows, channels, T)
    >>> X = {"x": windows[:-1], "x_next": windows[1:]}
    >>> callbacks = pretrain_callbacks(
    ...     MTSJEPALosses._fields[1:], max_epochs=2,
    ...     extra=[("clip", GradientNormClipping(0.5)), *mtsjepa_callbacks(cfg.ema_decay)])
    >>> net = PretrainNet(MTSJEPA, module__config=cfg, criterion=MTSJEPAObjective,
    ...                   criterion__config=cfg, max_epochs=2, batch_size=16, lr=5e-4,
    ...                   callbacks=callbacks, verbose=0)
    >>> _ = net.fit(X)
    >>> sorted(k for k in net.history[-1] if k.startswith("code_"))
    ['code_top_probability', 'code_usage_entropy']
    """

    def __init__(self, config: JEPAConfig) -> None:
        self.config = config
        self.progress = 0.0

    @property
    def reconstruction_weight(self) -> float:
        """``lambda_r`` at the current :attr:`progress` (clipped to [0, 1])."""
        cfg = self.config
        fraction = min(max(float(self.progress), 0.0), 1.0)
        return cfg.reconstruction_start + fraction * (
            cfg.reconstruction_end - cfg.reconstruction_start
        )

    def __call__(
        self,
        output: MTSJEPAOutput,
        x: torch.Tensor,
        x_next: torch.Tensor | None = None,
        observed: torch.Tensor | None = None,
        observed_next: torch.Tensor | None = None,
    ) -> MTSJEPALosses:
        """Compute the losses for context windows ``x`` ``(B, C, T)``.

        The predictive terms need the target branch, i.e. the model must have
        been called with ``x_next``; ``observed_next`` is used by the model
        only and accepted here so the batch dict can be passed whole.
        """
        cfg = self.config
        if output.target_latent is None:
            raise ValueError("MTS-JEPA needs the next window: pass x_next to the model")
        zero = x.new_zeros(())
        if cfg.use_codebook:
            fine_kl = _kl(output.target_probabilities, output.fine_logits)
            coarse = (
                _kl(output.target_coarse_probabilities, output.coarse_logits)
                if cfg.use_coarse
                else zero
            )
            h, z, p = output.tokens, output.quantised, output.probabilities
            codebook = F.mse_loss(z, h.detach())
            commitment = F.mse_loss(h, z.detach())
            flat = p.reshape(-1, p.shape[-1])
            sample_entropy = entropy(flat).mean()
            batch_entropy = entropy(flat.mean(0))
        else:
            fine_kl = zero
            coarse = (
                F.mse_loss(output.coarse_latent, output.target_coarse_latent)
                if cfg.use_coarse
                else zero
            )
            codebook = commitment = sample_entropy = batch_entropy = zero
        fine_mse = F.mse_loss(output.fine_latent, output.target_latent)
        if cfg.use_codebook:
            fine = fine_kl + cfg.latent_weight * fine_mse
        else:  # a latent regression: the MSE takes the place of the KL
            fine = fine_mse
        reconstruction = self._reconstruction(output, x, observed)
        weight = self.reconstruction_weight
        total = (
            cfg.fine_weight * fine
            + cfg.coarse_weight * coarse
            + cfg.codebook_weight * codebook
            + cfg.commitment_weight * commitment
            + cfg.sample_entropy_weight * sample_entropy
            - cfg.batch_entropy_weight * batch_entropy
            + weight * reconstruction
        )
        return MTSJEPALosses(
            total,
            fine_kl,
            fine_mse,
            coarse,
            codebook,
            commitment,
            sample_entropy,
            batch_entropy,
            reconstruction,
            x.new_tensor(weight),
        )

    def _reconstruction(
        self, output: MTSJEPAOutput, x: torch.Tensor, observed: torch.Tensor | None
    ) -> torch.Tensor:
        error = output.reconstruction - x
        if self.config.reconstruction_space == "scaled":
            error = error / output.scale
        squared = error**2
        if observed is None:
            return squared.mean()
        weight = observed.to(squared.dtype)
        return (squared * weight).sum() / weight.sum().clamp_min(1.0)


def next_window_pairs(panel: Panel, context: int) -> dict[str, np.ndarray]:
    """(context, next) pairs of consecutive non-overlapping windows of every series.

    Series ``i`` of length ``n_i`` gives windows ``[k * context, (k + 1) *
    context)`` for ``k < n_i // context`` (the tail shorter than a window is
    dropped) and the pairs ``(window k, window k + 1)``: the training batches
    of the MTS-JEPA objective.

    Parameters
    ----------
    panel : Panel
        A validated panel (see :mod:`sslts._validation`).
    context : int
        Window length.

    Returns
    -------
    dict
        ``x``, ``x_next`` (float32) and ``observed``, ``observed_next``
        (bool), each ``(n_pairs, n_channels, context)``.

    Raises
    ------
    ValueError
        If no series holds two whole windows.

    Examples
    --------
    >>> import numpy as np
    >>> from sslts._validation import Panel
    >>> panel = Panel(np.arange(10, dtype=np.float32).reshape(1, 1, 10), None, np.array([10]))
    >>> pairs = next_window_pairs(panel, context=3)
    >>> pairs["x"][:, 0].tolist(), pairs["x_next"][:, 0].tolist()
    ([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]], [[3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
    """
    observed = np.ones(panel.values.shape, bool) if panel.observed is None else panel.observed
    xs, masks = [], []
    for i, length in enumerate(panel.lengths):
        n_windows = int(length) // context
        if n_windows < 2:
            continue
        windows = panel.values[i, :, : n_windows * context].reshape(-1, n_windows, context)
        mask = observed[i, :, : n_windows * context].reshape(-1, n_windows, context)
        xs.append(np.moveaxis(windows, 1, 0))
        masks.append(np.moveaxis(mask, 1, 0))
    if not xs:
        raise ValueError(
            f"objective='mts-jepa' trains on (context, next) window pairs and needs a "
            f"series of at least 2 * context_length = {2 * context} points; the longest "
            f"has {int(panel.lengths.max())}"
        )
    out: dict[str, list[np.ndarray]] = {"x": [], "x_next": [], "observed": [], "observed_next": []}
    for w, m in zip(xs, masks):
        out["x"].append(w[:-1])
        out["x_next"].append(w[1:])
        out["observed"].append(m[:-1])
        out["observed_next"].append(m[1:])
    return {k: np.ascontiguousarray(np.concatenate(v)) for k, v in out.items()}


def _build(config: JEPAConfig, encoder: PatchEncoder | None) -> MTSJEPA:
    """A new MTS-JEPA model; a pretrained encoder starts both its online and target encoders."""
    model = MTSJEPA(config)
    if encoder is not None:
        model.encoder.load_state_dict(encoder.state_dict())
        model.target_encoder.load_state_dict(encoder.state_dict())
    return model


def _criterion_params(module: MTSJEPA) -> dict[str, Any]:
    return {"config": module.config}


def _callbacks(module: MTSJEPA) -> list[tuple[str, Callback]]:
    return mtsjepa_callbacks(module.config.ema_decay)


register_objective(
    Objective(
        name="mts-jepa",
        module=MTSJEPA,
        build=_build,
        criterion=MTSJEPAObjective,
        losses=MTSJEPALosses,
        batch=next_window_pairs,
        criterion_params=_criterion_params,
        callbacks=_callbacks,
        ablations=("use_codebook", "use_coarse"),
        code_features=MTSJEPA.code_features,
    )
)
