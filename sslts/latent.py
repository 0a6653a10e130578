"""The latent-SSL family as one scikit-learn transformer: pretrain on ``X``, embed.

:class:`JEPAEmbedder` trains the shared patch encoder
(:class:`sslts.models.PatchEncoder`) on the user's own panel with one of four
self-supervised objectives, then embeds series with it:

* ``"mts-jepa"``: predict the codes of the *next* window (soft codebook, EMA
  target; :mod:`sslts.objectives.mtsjepa`);
* ``"lejepa"``: two wavelet views, invariance + SIGReg
  (:mod:`sslts.objectives.lejepa`);
* ``"dino"``: self-distillation from an EMA teacher over global and local
  wavelet views (:mod:`sslts.objectives.dino`);
* ``"masked"``: the generative baseline, masked patch reconstruction
  (:mod:`sslts.objectives.masked`).

Everything except the objective is shared (encoder, windows, optimiser,
schedule), so the four are directly comparable.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.callback import CallbackSupportMixin, with_callbacks
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback, GradientNormClipping
from torch import nn

from sslts._params import check_choice, check_int, check_positive
from sslts._torch import resolve_device, seeded, tensor_batches
from sslts._validation import Panel, check_panel
from sslts.data.windows import context_windows, pool_windows
from sslts.models import JEPAConfig, MTSJEPA, PatchEncoder
from sslts.objectives.dino import DINO, DINOLosses, DINOObjective, DINOOutput
from sslts.objectives.lejepa import LeJEPA, LeJEPALosses, LeJEPAObjective
from sslts.objectives.masked import MaskedLosses, MaskedObjective, MaskedPatchModel
from sslts.objectives.mtsjepa import MTSJEPALosses, MTSJEPAObjective
from sslts.pretrained import load_checkpoint
from sslts.training import (
    CollapseMonitor,
    EMATarget,
    PretrainNet,
    SklearnCallbackBridge,
    mtsjepa_callbacks,
    pretrain_callbacks,
)

__all__ = ["JEPAEmbedder", "next_window_pairs"]

_OBJECTIVES = ("mts-jepa", "lejepa", "dino", "masked")
_FEATURES = ("embedding", "codes")
_CHANNEL_POOLING = ("concat", "mean")
#: EMA decay of the DINO teacher (DINO's default).
_DINO_TEACHER_DECAY = 0.996
_MONITORS = ("embedding_rank", "code_usage_entropy", "code_top_probability")
_LOSSES = {
    "mts-jepa": MTSJEPALosses,
    "lejepa": LeJEPALosses,
    "dino": DINOLosses,
    "masked": MaskedLosses,
}


def next_window_pairs(panel: Panel, context: int) -> dict[str, np.ndarray]:
    """(context, next) pairs of consecutive non-overlapping windows of every series.

    Series ``i`` of length ``n_i`` gives windows ``[k * context, (k + 1) *
    context)`` for ``k < n_i // context`` (the tail shorter than a window is
    dropped) and the pairs ``(window k, window k + 1)``.

    Returns
    -------
    dict
        ``x``, ``x_next`` (float32) and ``observed``, ``observed_next``
        (bool), each ``(n_pairs, n_channels, context)``.

    Raises
    ------
    ValueError
        If no series holds two whole windows.
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


def _first_teacher(output: DINOOutput) -> torch.Tensor:
    """Teacher targets of the first global view (for :class:`CollapseMonitor`)."""
    return output.teacher[0]


def _serving_encoder(module: nn.Module) -> PatchEncoder:
    """The encoder that embeds after training: DINO's teacher, otherwise the (online) one."""
    return module.teacher.encoder if isinstance(module, DINO) else module.encoder


class JEPAEmbedder(
    CallbackSupportMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Pretrain a patch-Transformer encoder on ``X`` with a latent (or masked) objective.

    ``fit`` trains the encoder self-supervised on windows of ``X`` (``y`` is
    ignored); ``transform`` embeds each series. Each channel is encoded
    independently; series of any length follow the length policy of
    :mod:`sslts.data.windows` (short series left-padded and masked, long ones
    cut into windows whose features are averaged). Missing values (NaN) are
    masked like padding.

    Parameters
    ----------
    objective : {"lejepa", "dino", "masked", "mts-jepa"}, default="lejepa"
        Self-supervised objective (see :mod:`sslts.latent`). ``"mts-jepa"``
        trains on pairs of consecutive non-overlapping windows
        (:func:`next_window_pairs`) and so needs series of at least
        ``2 * context_length`` points; the others train on the windows of
        the length policy.
    pretrained : str, path or None, default=None
        None starts from a random encoder built from the architecture
        parameters below; otherwise a checkpoint (name or path, see
        :func:`sslts.pretrained.load_checkpoint`) holding a ``PatchEncoder``
        or an ``MTSJEPA`` model, whose configuration then replaces the
        architecture parameters. ``max_epochs=0`` keeps it frozen.
    features : {"embedding", "codes"}, default="embedding"
        ``"embedding"``: per-channel encoder embedding (the patch mean,
        ``d_model`` values per channel). ``"codes"`` (MTS-JEPA only): the
        early-warning features of the MTS-JEPA protocol, code probabilities
        of every patch max-pooled over channels (``n_patches *
        codebook_size`` values, independent of the channel count;
        ``channel_pooling`` does not apply).
    channel_pooling : {"concat", "mean"}, default="concat"
        How per-channel embeddings are combined: concatenated in channel
        order or averaged.
    context_length : int, default=100
        Window length (a multiple of ``patch_length``).
    patch_length : int, default=20
        Points per patch.
    d_model : int, default=64
        Encoder width (the embedding size per channel).
    n_layers : int, default=2
        Transformer layers of the encoder.
    n_heads : int, default=4
        Attention heads (``d_model`` must be a multiple).
    codebook_size : int, default=128
        MTS-JEPA codes (ignored by the other objectives).
    use_codebook, use_coarse : bool, default=True
        MTS-JEPA ablations: ``use_codebook=False`` predicts latents directly
        (no soft codebook, so no ``features="codes"``), ``use_coarse=False``
        drops the coarse branch. Only ``objective="mts-jepa"`` has them.
    max_epochs : int, default=20
        Pretraining epochs over the windows of ``X``; 0 keeps the initial
        encoder.
    lr : float, default=1e-3
        AdamW learning rate (cosine decay over the epochs).
    batch_size : int, default=64
        Windows per optimisation step and per inference batch.
    device : str, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``...
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, views, masks and shuffling; the caller's
        global torch random state is left untouched.
    verbose : bool, default=False
        Progress bar and loss table during pretraining.

    Attributes
    ----------
    model_ : torch.nn.Module
        The trained objective module (``LeJEPA``, ``DINO``,
        ``MaskedPatchModel`` or ``MTSJEPA``) in evaluation mode.
    encoder_ : PatchEncoder
        The encoder used by ``transform`` (for DINO the teacher's, as in
        DINO's evaluation).
    n_features_in_ : int
        Number of channels seen in ``fit``.
    history_ : list of dict
        Per-epoch losses of pretraining and the collapse monitors of
        :class:`sslts.training.CollapseMonitor` (``embedding_rank`` for
        LeJEPA; ``code_usage_entropy``/``code_top_probability`` of the
        teacher targets for DINO and of the codes for MTS-JEPA).

    Notes
    -----
    Supports scikit-learn's callbacks: each pretraining epoch is reported as
    a subtask of ``fit`` with its losses as metadata, and a callback can stop
    training.

    Examples
    --------
    >>> from sktime.datasets import load_gunpoint
    >>> X, y = load_gunpoint(split="train", return_type="numpy3D")
    >>> emb = JEPAEmbedder(objective="lejepa", context_length=150, patch_length=15,
    ...                    d_model=16, n_layers=1, max_epochs=1, random_state=0)
    >>> emb.fit_transform(X[:16]).shape
    (16, 16)
    """

    def __init__(
        self,
        objective: str = "lejepa",
        pretrained: Any = None,
        features: str = "embedding",
        channel_pooling: str = "concat",
        context_length: int = 100,
        patch_length: int = 20,
        d_model: int = 64,
        n_layers: int = 2,
        n_heads: int = 4,
        codebook_size: int = 128,
        use_codebook: bool = True,
        use_coarse: bool = True,
        max_epochs: int = 20,
        lr: float = 1e-3,
        batch_size: int = 64,
        device: str = "auto",
        random_state: Any = None,
        verbose: bool = False,
    ) -> None:
        self.objective = objective
        self.pretrained = pretrained
        self.features = features
        self.channel_pooling = channel_pooling
        self.context_length = context_length
        self.patch_length = patch_length
        self.d_model = d_model
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.codebook_size = codebook_size
        self.use_codebook = use_codebook
        self.use_coarse = use_coarse
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    # ---------------------------------------------------------------- fitting
    def _check_params(self) -> None:
        check_choice("objective", self.objective, _OBJECTIVES)
        check_choice("features", self.features, _FEATURES)
        check_choice("channel_pooling", self.channel_pooling, _CHANNEL_POOLING)
        for name in ("context_length", "patch_length", "d_model", "n_layers", "n_heads"):
            check_int(name, getattr(self, name), 1)
        check_int("codebook_size", self.codebook_size, 2)
        check_int("max_epochs", self.max_epochs, 0)
        check_int("batch_size", self.batch_size, 1)
        check_positive("lr", self.lr)
        for name in ("use_codebook", "use_coarse"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        ablated = not (self.use_codebook and self.use_coarse)
        if ablated and self.objective != "mts-jepa":
            raise ValueError(
                "use_codebook=False / use_coarse=False are MTS-JEPA ablations; "
                f"got objective={self.objective!r}"
            )
        if self.features == "codes" and not (
            self.objective == "mts-jepa" and self.use_codebook
        ):
            raise ValueError(
                f"features='codes' needs objective='mts-jepa' with use_codebook=True "
                f"(a codebook), got objective={self.objective!r}, "
                f"use_codebook={self.use_codebook!r}"
            )

    def _config(self) -> JEPAConfig:
        return JEPAConfig(
            context_length=self.context_length,
            patch_length=self.patch_length,
            d_model=self.d_model,
            n_layers=self.n_layers,
            n_heads=self.n_heads,
            codebook_size=self.codebook_size,
            use_codebook=self.use_codebook,
            use_coarse=self.use_coarse,
        )

    def _initial_module(self) -> nn.Module:
        """The objective's module around a random or loaded encoder."""
        if self.pretrained is None:
            config, loaded = self._config(), None
        else:
            loaded = load_checkpoint(self.pretrained).model
            if not isinstance(loaded, (PatchEncoder, MTSJEPA)):
                raise ValueError(
                    f"checkpoint {self.pretrained!r} holds a {type(loaded).__name__}, "
                    "not a PatchEncoder or MTSJEPA model"
                )
            config = loaded.config
        if self.objective == "mts-jepa":
            if isinstance(loaded, MTSJEPA):
                return loaded
            model = MTSJEPA(config)
            if loaded is not None:
                model.encoder.load_state_dict(loaded.state_dict())
                model.target_encoder.load_state_dict(loaded.state_dict())
            return model
        if isinstance(loaded, MTSJEPA):
            encoder = loaded.encoder
        else:
            encoder = loaded if loaded is not None else PatchEncoder(config)
        if self.objective == "lejepa":
            return LeJEPA(encoder)
        if self.objective == "dino":
            return DINO(encoder)
        if config.n_patches < 2:
            raise ValueError(
                "objective='masked' needs at least 2 patches per window, got "
                f"context_length={config.context_length}, patch_length={config.patch_length}"
            )
        return MaskedPatchModel(encoder)

    @with_callbacks
    def fit(self, X: Any, y: Any = None) -> JEPAEmbedder:
        """Pretrain the encoder on ``X`` with the chosen objective.

        Parameters
        ----------
        X : array-like of shape (n_instances, n_timepoints) or \
                (n_instances, n_channels, n_timepoints), or list of arrays
            Training panel (see :mod:`sslts._validation`).
        y : ignored

        Returns
        -------
        self
        """
        self._check_params()
        panel = check_panel(X, estimator=self, reset=True, allow_nan=True)
        device = resolve_device(self.device)
        context = self._init_callback_context(max_subtasks=self.max_epochs)
        context.call_on_fit_task_begin(estimator=self, X=X)
        with seeded(self.random_state):
            module = self._initial_module().to(device)
            self.history_: list[dict[str, float]] = []
            if self.max_epochs > 0:
                module = self._pretrain(module, panel, device, context)
        self._set_model(module.eval())
        context.call_on_fit_task_end(estimator=self, X=X)
        return self

    def _set_model(self, module: nn.Module) -> None:
        self.model_ = module
        self.encoder_ = _serving_encoder(module)

    def _batch(self, panel: Panel, context: int) -> dict[str, np.ndarray]:
        if self.objective == "mts-jepa":
            return next_window_pairs(panel, context)
        windows = context_windows(panel, context)
        return {"x": windows.values, "observed": windows.observed}

    def _criterion(self, module: nn.Module) -> tuple[type, dict[str, Any]]:
        if self.objective == "mts-jepa":
            return MTSJEPAObjective, {"config": module.config}
        objectives = {"lejepa": LeJEPAObjective, "dino": DINOObjective, "masked": MaskedObjective}
        return objectives[self.objective], {}

    def _training_callbacks(self, module: nn.Module) -> list[tuple[str, Callback]]:
        """Gradient clipping, EMA targets, annealing and collapse monitoring per objective."""
        callbacks: list[tuple[str, Callback]] = [
            ("clip", GradientNormClipping(gradient_clip_value=1.0))
        ]
        if self.objective == "dino":
            callbacks += [
                ("ema", EMATarget("student", "teacher", decay=_DINO_TEACHER_DECAY)),
                ("collapse", CollapseMonitor(probabilities=_first_teacher, embeddings=None)),
            ]
        elif self.objective == "mts-jepa":
            callbacks += mtsjepa_callbacks(module.config.ema_decay)
        elif self.objective == "lejepa":
            callbacks.append(("collapse", CollapseMonitor(probabilities=None, embeddings="z1")))
        return callbacks

    def _pretrain(
        self, module: nn.Module, panel: Panel, device: torch.device, context: Any
    ) -> nn.Module:
        """Train ``module`` under the objective on the windows of ``panel``."""
        batch = self._batch(panel, _serving_encoder(module).config.context_length)
        n_windows = len(batch["x"])
        criterion, criterion_params = self._criterion(module)
        parts = _LOSSES[self.objective]._fields[1:]
        net = PretrainNet(
            module,
            criterion=criterion,
            **{f"criterion__{k}": v for k, v in criterion_params.items()},
            max_epochs=self.max_epochs,
            lr=self.lr,
            batch_size=min(self.batch_size, n_windows),
            iterator_train__shuffle=True,
            device=str(device),
            callbacks=pretrain_callbacks(
                parts,
                max_epochs=self.max_epochs,
                verbose=bool(self.verbose),
                extra=[
                    *self._training_callbacks(module),
                    ("sklearn_callbacks", SklearnCallbackBridge(context, self, self._snapshot)),
                ],
            ),
            verbose=int(bool(self.verbose)),
        )
        net.fit(batch)
        self.history_ = self._history(net)
        return net.module_

    def _history(self, net: PretrainNet) -> list[dict[str, float]]:
        keys = [
            "train_loss",
            *(f"loss_{p}" for p in _LOSSES[self.objective]._fields[1:]),
            *_MONITORS,
        ]
        return [{k: float(row[k]) for k in keys if k in row} for row in net.history]

    def _snapshot(self, net: PretrainNet) -> dict[str, Any]:
        """Fitted attributes as they would be if pretraining stopped now."""
        module = copy.deepcopy(net.module_).eval()
        return {
            "model_": module,
            "encoder_": _serving_encoder(module),
            "history_": self._history(net),
        }

    # -------------------------------------------------------------- transform
    def transform(self, X: Any) -> np.ndarray:
        """Embed every series of ``X``.

        Parameters
        ----------
        X : array-like or list of arrays
            Same channel count as in ``fit``; any length.

        Returns
        -------
        ndarray of shape (n_instances, n_features_out), float32
        """
        check_is_fitted(self, "model_")
        panel = check_panel(X, estimator=self, reset=False, allow_nan=True)
        device = resolve_device(self.device)
        model = self.model_.to(device)
        windows = context_windows(panel, self.encoder_.config.context_length)
        chunks = []
        with torch.inference_mode():
            arrays = (windows.values, windows.observed)
            for x, observed in tensor_batches(arrays, self.batch_size, device):
                if self.features == "codes":
                    out = model.code_features(x, observed).flatten(1)
                else:
                    out = self.encoder_.embed(x, observed)
                chunks.append(out.float().cpu().numpy())
        pooled = pool_windows(np.concatenate(chunks), windows.owner, panel.n_instances)
        if self.features == "codes":
            return pooled
        if self.channel_pooling == "mean":
            return pooled.mean(axis=1)
        return pooled.reshape(panel.n_instances, -1)

    @property
    def _n_features_out(self) -> int:
        config = self.encoder_.config
        if self.features == "codes":
            return config.n_patches * config.codebook_size
        return config.d_model * (self.n_features_in_ if self.channel_pooling == "concat" else 1)
