"""The encoders of the dividend study: one budget, five objectives, a common read-out.

Every objective trains on the same ``steps * batch_size`` series (one pass,
AdamW, per-step warm-up + cosine decay, gradient clipping at 1) through
:class:`sslts.training.PretrainNet`, with the module, loss and callbacks of
its :mod:`sslts.objectives` entry. The patch objectives (``masked``,
``lejepa``, ``dino``, ``mts-jepa``) share one :class:`~sslts.models.PatchEncoder`;
TSPulse keeps its own mixer architecture, with the width chosen so that its
embedding path (everything but the output heads) has about as many parameters
as the patch encoder at the same depth (:func:`matched_tspulse_config`).

:class:`FrozenEncoder` gives every trained (or random) module the same three
read-outs: one embedding per univariate window, one token per time patch, and a
differentiable embedding for fine-tuning.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cache, partial
from typing import Any

import numpy as np
import torch
from skorch.callbacks import GradientNormClipping
from torch import nn

from sslts._torch import seeded
from sslts._validation import Panel
from sslts.augment import AugmentationPipeline, dwt_perturb_details, dwt_soft_threshold
from sslts.models import JEPAConfig, PatchEncoder, TSPulse, TSPulseConfig
from sslts.objectives import TSPulseLosses, TSPulseObjective, get_objective
from sslts.training import PretrainNet, WarmupCosineLR, pretrain_callbacks

__all__ = [
    "GENERATIVE",
    "LATENT",
    "OBJECTIVES",
    "Budget",
    "FrozenEncoder",
    "initial_encoder",
    "matched_tspulse_config",
    "parameter_count",
    "pretrain_encoder",
]

GENERATIVE = ("tspulse", "masked")
LATENT = ("mts-jepa", "lejepa", "dino")
OBJECTIVES = GENERATIVE + LATENT
#: Latent objectives whose views contain the DWT step (the ablation turns it off).
_DWT_VIEWS = ("lejepa", "dino")


@dataclass(frozen=True)
class Budget:
    """Architecture and pretraining budget shared by every objective.

    Parameters
    ----------
    context_length, patch_length : int
        Window and patch length (points).
    d_model, n_heads : int
        Width and attention heads of the patch encoder.
    steps, batch_size : int
        Optimiser steps and series per step: every objective sees
        ``steps * batch_size`` series once.
    lr : float
        Peak AdamW learning rate.
    forecast_length : int
        Points after the context that TSPulse's forecast head predicts.
    """

    context_length: int = 64
    patch_length: int = 8
    d_model: int = 32
    n_heads: int = 4
    steps: int = 300
    batch_size: int = 32
    lr: float = 1e-3
    forecast_length: int = 16

    @property
    def series_length(self) -> int:
        """Length of a pretraining series: two contexts (MTS-JEPA reads a pair)."""
        return 2 * self.context_length

    def scaled(self, factor: int) -> Budget:
        """The budget with ``factor`` times the steps and width (heads kept).

        Parameters
        ----------
        factor : int
            Multiplier of ``steps`` and ``d_model``.

        Returns
        -------
        Budget
        """
        width = self.d_model * factor
        return dataclasses.replace(self, steps=self.steps * factor, d_model=width)


def _jepa_config(budget: Budget, depth: int) -> JEPAConfig:
    return JEPAConfig(
        context_length=budget.context_length,
        patch_length=budget.patch_length,
        d_model=budget.d_model,
        n_layers=depth,
        n_heads=budget.n_heads,
    )


def parameter_count(module: nn.Module) -> int:
    """Trainable parameters of ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _tspulse_embedding_params(config: TSPulseConfig) -> int:
    model = TSPulse(config)
    heads = (model.time_head, model.fft_head, model.prob_head, model.forecast_head)
    return parameter_count(model) - sum(parameter_count(h) for h in heads)


@cache
def matched_tspulse_config(budget: Budget, depth: int) -> TSPulseConfig:
    """TSPulse of ``depth`` mixer layers whose embedding path matches the patch encoder's size.

    The width is the multiple of 4 whose parameter count (heads excluded) is
    closest to the :class:`~sslts.models.PatchEncoder` of the same depth.

    Parameters
    ----------
    budget : Budget
        The shared budget.
    depth : int
        Backbone layers (the patch encoder's Transformer layers).

    Returns
    -------
    TSPulseConfig
    """
    target = parameter_count(PatchEncoder(_jepa_config(budget, depth)))
    base = {
        "context_length": budget.context_length,
        "patch_length": budget.patch_length,
        "n_layers": depth,
        "n_decoder_layers": 1,
        "n_registers": 4,
        "forecast_length": budget.forecast_length,
    }
    candidates = [
        TSPulseConfig(d_model=w, **base) for w in range(4, 4 * budget.d_model + 1, 4)
    ]
    return min(candidates, key=lambda c: abs(_tspulse_embedding_params(c) - target))


def initial_encoder(
    objective: str, budget: Budget, depth: int, seed: int, dwt: bool | None = None
) -> nn.Module:
    """A new (random) module of ``objective``, seeded by ``seed``.

    Parameters
    ----------
    objective : str
        One of :data:`OBJECTIVES`.
    budget : Budget
    depth : int
        Encoder layers.
    seed : int
        Seeds the initialisation.
    dwt : bool or None
        For LeJEPA and DINO: False removes the DWT step from their views
        (``dwt_p=0``); None or True keeps the default.

    Returns
    -------
    torch.nn.Module
    """
    with seeded(seed):
        if objective == "tspulse":
            return TSPulse(matched_tspulse_config(budget, depth))
        config = _jepa_config(budget, depth)
        if objective in _DWT_VIEWS and dwt is False:
            entry = get_objective(objective)
            return entry.module(PatchEncoder(config), dwt_p=0.0)
        return get_objective(objective).initial_module(config)


def _dwt_augmentation(values: np.ndarray, seed: int) -> np.ndarray:
    """DWT views for the generative family: soft thresholding, detail perturbation (p=0.5 each)."""
    pipeline = AugmentationPipeline(
        [
            partial(dwt_soft_threshold, wavelet="db4", level=3),
            partial(dwt_perturb_details, wavelet="db4", level=3),
        ],
        p=0.5,
    )
    return pipeline(values, np.random.default_rng([seed, 7]))


def _training_batch(
    objective: str, series: np.ndarray, budget: Budget, augment: bool, seed: int
) -> dict:
    """The objective's batch from ``series`` ``(n, series_length)``: one sample per series."""
    values = series[:, None, :].astype(np.float32)
    if augment:
        values = _dwt_augmentation(values, seed).astype(np.float32)
    ctx = budget.context_length
    if objective == "tspulse":
        return {"x": np.ascontiguousarray(values[..., : ctx + budget.forecast_length])}
    if objective == "mts-jepa":
        panel = Panel(values, None, np.full(len(values), values.shape[-1]))
        return get_objective(objective).batch(panel, ctx)
    return {"x": np.ascontiguousarray(values[..., :ctx])}


def pretrain_encoder(
    objective: str,
    series: np.ndarray,
    budget: Budget,
    depth: int,
    seed: int,
    *,
    dwt: bool | None = None,
    device: str = "cpu",
) -> nn.Module:
    """Pretrain ``objective`` on ``series`` for the budget's steps (one pass).

    Parameters
    ----------
    objective : str
        One of :data:`OBJECTIVES`.
    series : ndarray of shape (n, budget.series_length)
        At least ``steps * batch_size`` series; the first ones are used.
    budget : Budget
    depth : int
        Encoder layers.
    seed : int
        Seeds initialisation, masks, views and shuffling.
    dwt : bool or None
        The DWT ablation: True adds DWT augmentation to the series of a
        generative objective; False removes the DWT views of LeJEPA/DINO;
        None is each objective's default (generative without, latent with).
    device : str
        Torch device.

    Returns
    -------
    torch.nn.Module
        The trained module, in evaluation mode.
    """
    n = budget.steps * budget.batch_size
    if len(series) < n:
        raise ValueError(f"need {n} pretraining series, got {len(series)}")
    module = initial_encoder(objective, budget, depth, seed, dwt)
    augment = bool(dwt) and objective in GENERATIVE
    batch = _training_batch(objective, series[:n], budget, augment, seed)
    if objective == "tspulse":
        criterion, params, parts, extra = (
            TSPulseObjective,
            {"config": module.config},
            TSPulseLosses._fields[1:],
            [],
        )
    else:
        entry = get_objective(objective)
        criterion, params = entry.criterion, entry.criterion_params(module)
        parts, extra = entry.loss_parts, entry.callbacks(module)
    with seeded(seed):
        net = PretrainNet(
            module,
            criterion=criterion,
            **{f"criterion__{k}": v for k, v in params.items()},
            optimizer__weight_decay=0.01,
            max_epochs=1,
            lr=budget.lr,
            batch_size=budget.batch_size,
            iterator_train__shuffle=True,
            device=device,
            callbacks=pretrain_callbacks(
                parts,
                max_epochs=1,
                schedule=WarmupCosineLR(budget.steps, max(1, budget.steps // 20)),
                extra=[("clip", GradientNormClipping(gradient_clip_value=1.0)), *extra],
            ),
            verbose=0,
        )
        net.fit(batch)
    return net.module_.eval()


class FrozenEncoder:
    """Common read-outs of a TSPulse or patch-objective module on univariate windows.

    Parameters
    ----------
    module : torch.nn.Module
        A :class:`~sslts.models.TSPulse` or a module of a patch objective.
    objective : str
        Its objective name (TSPulse or a registry name).
    device : str
        Torch device for inference and fine-tuning.
    """

    def __init__(self, module: nn.Module, objective: str, device: str = "cpu") -> None:
        self.objective = objective
        self.device = torch.device(device)
        self.module = module.to(self.device).eval()
        if objective == "tspulse":
            self.encoder = self.module
            self.n_patches = module.config.n_patches
        else:
            self.encoder = get_objective(objective).encoder(self.module)
            self.n_patches = self.encoder.config.n_patches
        self.context_length = self.encoder.config.context_length

    def _tensors(
        self, values: np.ndarray, observed: np.ndarray | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.as_tensor(np.asarray(values, np.float32), device=self.device)
        if observed is None:
            obs = torch.ones_like(x, dtype=torch.bool)
        else:
            obs = torch.as_tensor(np.asarray(observed, bool), device=self.device)
        return torch.where(obs, x, torch.zeros_like(x)), obs

    def embed_tensor(self, x: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
        """Differentiable embeddings ``(B, D)`` of windows ``(B, 1, context_length)``.

        Parameters
        ----------
        x : torch.Tensor
            Univariate windows.
        observed : torch.Tensor
            Boolean mask of the same shape.

        Returns
        -------
        torch.Tensor
            TSPulse: its register ("semantic") tokens, flattened; patch
            objectives: the mean patch token.
        """
        if self.objective == "tspulse":
            return self.encoder.embed(x, observed, kind="semantic")[:, 0]
        return self.encoder.embed(x, observed)[:, 0]

    def _batched(
        self, fn: Any, values: np.ndarray, observed: np.ndarray | None, batch: int = 512
    ) -> np.ndarray:
        out = []
        with torch.inference_mode():
            for start in range(0, len(values), batch):
                obs = None if observed is None else observed[start : start + batch]
                x, o = self._tensors(values[start : start + batch], obs)
                out.append(fn(x, o).float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0,), np.float32)

    def embed(
        self, values: np.ndarray, observed: np.ndarray | None = None
    ) -> np.ndarray:
        """Embeddings ``(n, D)`` of windows ``(n, 1, context_length)``.

        Parameters
        ----------
        values : ndarray
            Univariate windows.
        observed : ndarray of bool or None
            False where a point is missing or padding.

        Returns
        -------
        ndarray of float32
        """
        self.module.eval()
        return self._batched(self.embed_tensor, values, observed)

    def patch_tokens(
        self, values: np.ndarray, observed: np.ndarray | None = None
    ) -> np.ndarray:
        """One token per time patch, ``(n, n_patches, d)``.

        Parameters
        ----------
        values : ndarray
            Univariate windows ``(n, 1, context_length)``.
        observed : ndarray of bool or None
            False where a point is missing or padding.

        Returns
        -------
        ndarray of float32
        """
        self.module.eval()

        def tokens(x: torch.Tensor, o: torch.Tensor) -> torch.Tensor:
            return self.encoder.encode(x, o)[:, 0, : self.n_patches]

        return self._batched(tokens, values, observed)
