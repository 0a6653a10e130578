"""The latent-SSL family as one scikit-learn transformer: pretrain on ``X``, embed.

:class:`JEPAEmbedder` trains the shared patch encoder
(:class:`sslts.models.PatchEncoder`) on the user's own panel with a
self-supervised objective of the registry (:mod:`sslts.objectives`), then
embeds series with it. Four are built in:

* ``"mts-jepa"``: predict the codes of the *next* window (soft codebook, EMA
  target; :mod:`sslts.objectives.mtsjepa`);
* ``"lejepa"``: two wavelet views, invariance + SIGReg
  (:mod:`sslts.objectives.lejepa`);
* ``"dino"``: self-distillation from an EMA teacher over global and local
  wavelet views (:mod:`sslts.objectives.dino`);
* ``"masked"``: the generative baseline, masked patch reconstruction
  (:mod:`sslts.objectives.masked`).

Everything except the objective is shared (encoder, windows, optimiser,
schedule), so they are directly comparable. Everything objective-specific
(module, loss, batches, callbacks, serving encoder) comes from its
:class:`sslts.objectives.Objective` entry.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any, ClassVar

import numpy as np
from sklearn.base import ClassNamePrefixFeaturesOutMixin
from skorch.callbacks import GradientNormClipping
from torch import nn

from sslts._base import (
    BaseTorchEstimator,
    StandardizedEmbedderMixin,
    epoch_history,
    pool_channels,
)
from sslts._params import Interval, Options
from sslts._validation import Panel
from sslts.models import JEPAConfig
from sslts.objectives import Objective, available_objectives, get_objective
from sslts.pretrained import initial_model
from sslts.training import PretrainNet, pretrain_callbacks

__all__ = ["JEPAEmbedder"]

_ABLATIONS = ("use_codebook", "use_coarse")


def _positive_int(minimum: int = 1) -> list[Interval]:
    return [Interval(Integral, minimum, None, closed="left")]


class JEPAEmbedder(
    ClassNamePrefixFeaturesOutMixin, StandardizedEmbedderMixin, BaseTorchEstimator
):
    """Pretrain a patch-Transformer encoder on ``X`` with a latent (or masked) objective.

    ``fit`` trains the encoder self-supervised on windows of ``X`` (``y`` is
    ignored); ``transform`` embeds each series. Each channel is encoded
    independently; series of any length follow the length policy of
    :mod:`sslts.data.windows` (short series left-padded and masked, long ones
    cut into windows whose features are averaged). Missing values (NaN) are
    masked like padding. By default the output features are standardized
    with statistics of the training embeddings, so a linear model needs no
    scaler (``standardize``).

    Parameters
    ----------
    objective : {"lejepa", "dino", "masked", "mts-jepa"} or str, default="lejepa"
        Self-supervised objective (see :mod:`sslts.latent`): any name of
        :func:`sslts.objectives.available_objectives`, which also lists
        objectives registered with :func:`sslts.objectives.register_objective`.
        ``"mts-jepa"`` trains on pairs of consecutive non-overlapping windows
        (:func:`sslts.objectives.next_window_pairs`) and so needs series of
        at least ``2 * context_length`` points; the others train on the
        windows of the length policy.
    pretrained : str, path or None, default=None
        None starts from a random encoder built from the architecture
        parameters below; otherwise a checkpoint (name or path, see
        :func:`sslts.pretrained.initial_model`) holding a ``PatchEncoder``
        or the module of a registered objective (e.g. ``MTSJEPA``), whose
        configuration then replaces the architecture parameters.
        ``max_epochs=0`` keeps it frozen.
    features : {"embedding", "codes"}, default="embedding"
        ``"embedding"``: per-channel encoder embedding (the patch mean,
        ``d_model`` values per channel). ``"codes"`` (objectives with codes,
        i.e. MTS-JEPA, and ``use_codebook=True``): the early-warning
        features of the MTS-JEPA protocol, code probabilities of every patch
        max-pooled over channels (``n_patches *
        codebook_size`` values, independent of the channel count;
        ``channel_pooling`` does not apply).
    channel_pooling : {"concat", "mean"}, default="concat"
        How per-channel embeddings are combined: concatenated in channel
        order or averaged.
    standardize : bool, default=True
        Centre each output feature (embedding or code feature) and scale it
        to unit variance with the statistics of the features of the training
        ``X``, computed with the trained encoder (a feature constant in
        training is only centred): the same as a ``StandardScaler`` fitted on
        them. False returns the raw features (code probabilities stay in
        [0, 1]).
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
        drops the coarse branch. Only objectives that list them in
        :attr:`sslts.objectives.Objective.ablations` (``"mts-jepa"``) accept
        ``False``.
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
    verbose : bool or int, default=False
        Progress bar and loss table during pretraining.

    Attributes
    ----------
    model_ : torch.nn.Module
        The trained objective module (``LeJEPA``, ``DINO``,
        ``MaskedPatchModel``, ``MTSJEPA``...) in evaluation mode.
    encoder_ : PatchEncoder
        The encoder used by ``transform``, the objective's
        :attr:`~sslts.objectives.Objective.encoder` (for DINO the teacher's,
        as in DINO's evaluation).
    card_ : dict
        Model card of the ``pretrained`` checkpoint (empty without one).
    n_features_in_ : int
        Number of channels seen in ``fit``.
    mean_ : ndarray of shape (n_features_out,) or None
        Mean of each raw output feature on the training ``X`` (None when
        ``standardize=False``).
    scale_ : ndarray of shape (n_features_out,) or None
        Standard deviation of each raw output feature on the training ``X``,
        1 where it is zero up to float32 rounding (below a millionth of the
        feature's magnitude; None when ``standardize=False``).
    history_ : list of dict
        Per-epoch losses of pretraining (``train_loss`` and the objective's
        ``loss_<part>``) and the collapse monitors of
        :class:`sslts.training.CollapseMonitor` (``embedding_rank`` for
        LeJEPA and MTS-JEPA; ``code_usage_entropy``/``code_top_probability``
        of the teacher targets for DINO and of the codes for MTS-JEPA);
        empty when ``max_epochs=0``.

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

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **BaseTorchEstimator._parameter_constraints,
        **StandardizedEmbedderMixin._parameter_constraints,
        # Checked against the registry (which may grow) in ``_check_params``.
        "objective": [str],
        "features": [Options(("embedding", "codes"))],
        "context_length": _positive_int(),
        "patch_length": _positive_int(),
        "d_model": _positive_int(),
        "n_layers": _positive_int(),
        "n_heads": _positive_int(),
        "codebook_size": _positive_int(2),
        "use_codebook": ["boolean"],
        "use_coarse": ["boolean"],
    }

    def __init__(
        self,
        objective: str = "lejepa",
        pretrained: Any = None,
        features: str = "embedding",
        channel_pooling: str = "concat",
        standardize: bool = True,
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
        self.standardize = standardize
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
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    # ---------------------------------------------------------------- fitting
    def _check_params(self) -> None:
        objective = get_objective(self.objective)
        for name in _ABLATIONS:
            if not getattr(self, name) and name not in objective.ablations:
                having = [n for n in available_objectives() if name in get_objective(n).ablations]
                raise ValueError(
                    f"{name}=False is an ablation of objective {having}, "
                    f"got objective={self.objective!r}"
                )
        if self.features == "codes" and objective.code_features is None:
            having = [n for n in available_objectives() if get_objective(n).code_features is not None]
            raise ValueError(
                f"features='codes' needs an objective with codes {having}, "
                f"got objective={self.objective!r}"
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

    def _fit_encoder(self, panel: Panel) -> None:
        """Build the objective's module (new or from the checkpoint) and pretrain it on ``panel``."""
        objective = get_objective(self.objective)
        if self.pretrained is None:
            start, self.card_ = self._config(), {}
        else:  # the objective checks what the checkpoint holds
            start, self.card_ = initial_model(self.pretrained, nn.Module)
        module = objective.initial_module(start).to(self._device())
        config = objective.encoder(module).config
        if self.features == "codes" and not config.use_codebook:
            raise ValueError(
                "features='codes' needs a codebook, but the model has use_codebook=False"
            )
        self.history_: list[dict[str, float]] = []
        if self.max_epochs > 0:
            module = self._pretrain(objective, module, panel, config.context_length)
        self.model_ = module.eval()
        self.encoder_ = objective.encoder(self.model_)

    def _pretrain(
        self, objective: Objective, module: nn.Module, panel: Panel, context_length: int
    ) -> nn.Module:
        """Train ``module`` under ``objective`` on the batches it makes of ``panel``."""
        batch = objective.batch(panel, context_length)
        n_samples = len(next(iter(batch.values())))
        criterion_params = objective.criterion_params(module)
        net = PretrainNet(
            module,
            criterion=objective.criterion,
            **{f"criterion__{k}": v for k, v in criterion_params.items()},
            max_epochs=self.max_epochs,
            lr=self.lr,
            batch_size=min(self.batch_size, n_samples),
            iterator_train__shuffle=True,
            device=str(self._device()),
            callbacks=pretrain_callbacks(
                objective.loss_parts,
                max_epochs=self.max_epochs,
                verbose=bool(self.verbose),
                extra=[
                    ("clip", GradientNormClipping(gradient_clip_value=1.0)),
                    *objective.callbacks(module),
                    *self._epoch_callbacks(),
                ],
            ),
            verbose=int(bool(self.verbose)),
        )
        net.fit(batch)
        self.history_ = epoch_history(net)
        return net.module_

    def _snapshot(self, net: PretrainNet) -> dict[str, Any]:
        """Fitted attributes as they would be if pretraining stopped now."""
        snapshot = super()._snapshot(net)
        snapshot["encoder_"] = get_objective(self.objective).encoder(snapshot["model_"])
        return self._standardized_snapshot(snapshot)

    # -------------------------------------------------------------- embedding
    def _embed(self, panel: Panel) -> np.ndarray:
        """Raw features of ``panel``, float32 ``(n_instances, n_features_out)``."""
        model = self.model_.to(self._device())
        context_length = self.encoder_.config.context_length
        if self.features == "codes":
            code_features = get_objective(self.objective).code_features
            return self._infer_windows(
                lambda x, observed: code_features(model, x, observed).flatten(1),
                panel,
                context_length,
            )
        per_channel = self._infer_windows(self.encoder_.embed, panel, context_length)
        return pool_channels(per_channel, self.channel_pooling)

    @property
    def _n_features_out(self) -> int:
        config = self.encoder_.config
        if self.features == "codes":
            return config.n_patches * config.codebook_size
        return config.d_model * (self.n_features_in_ if self.channel_pooling == "concat" else 1)
