"""Pretrained encoders as scikit-learn transformers: panel in, 2D features out."""

from __future__ import annotations

from functools import partial
from numbers import Integral
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import ClassNamePrefixFeaturesOutMixin

from sslts._base import BaseTorchEstimator, StandardizedEmbedderMixin, pool_channels
from sslts._params import DistinctOptions, Interval, Options
from sslts._validation import Panel
from sslts.data.views import VIEWS, drop_last, panel_view, phase_shifts
from sslts.data.windows import LENGTH_POLICIES, context_windows
from sslts.models import TSPulse
from sslts.models.tspulse import POOLINGS, pooled_readout, pooled_readout_width
from sslts.pretrained import initial_model

__all__ = ["TSPulseEmbedder"]


class TSPulseEmbedder(
    ClassNamePrefixFeaturesOutMixin, StandardizedEmbedderMixin, BaseTorchEstimator
):
    """Embed time series with a TSPulse encoder.

    Each channel is encoded independently; series of any length are fitted to
    the encoder's context by a length policy of :mod:`sslts.data.windows`
    (by default shorter series are left-padded and masked, longer ones
    resampled). Missing values (NaN) are supported: they
    are masked.

    The default read-out (chosen on the 36 selection sets of
    ``benchmarks/dev_embedding_readout.py``,
    ``benchmarks/dev_embedding_views.py`` and
    ``benchmarks/dev_embedding_pooling.py``, never on the reporting sets) takes
    per channel the register tokens, the average and the maximum of the patch
    tokens over the observed patches, and the location and log-scale that the encoder's
    instance normalisation removes, for three views of the series: as given,
    at half its sampling rate, and its first differences
    (:mod:`sslts.data.views`). The features are averaged over
    ``patch_phases`` placements of the series on the encoder's patch grid
    (``benchmarks/dev_embedding_shifts.py``).

    By default every output feature is standardized with the mean and
    standard deviation of the training embeddings, so the output goes
    straight into a linear model: ``Pipeline([("emb", TSPulseEmbedder()),
    ("clf", LogisticRegression())])`` needs no ``StandardScaler``.

    Parameters
    ----------
    pretrained : str, path or None, default="default"
        ``"default"`` (the checkpoint shipped as the library default), a name
        from :func:`sslts.pretrained.available_checkpoints`, the path of a
        checkpoint saved by :func:`sslts.pretrained.save_checkpoint`, or None
        for a randomly initialised model of the default architecture
        (:class:`sslts.models.TSPulseConfig`).
    embedding : {"semantic+pooled", "semantic", "detail", "both"}, \
            default="semantic+pooled"
        Which tokens to return per channel: the register tokens (global
        "semantic" embedding, ``n_registers * d_model`` values); the same
        followed by the time and the FFT patch tokens, each pooled over the
        observed patches by every statistic of ``pooling``
        ("semantic+pooled", ``(n_registers + 2 * len(pooling)) * d_model``);
        all time and FFT patch tokens ("detail", ``2 * n_patches * d_model``);
        or both (detail then semantic).
    pooling : tuple of {"mean", "max"}, default=("mean", "max")
        Statistics of the patch tokens over the observed patches, per token
        dimension, with ``embedding="semantic+pooled"``
        (:func:`sslts.models.tspulse.pooled_readout`): the average, and the
        maximum (a local pattern counts wherever it occurs). ``("mean",)``
        gives the read-out of releases before the maximum was added.
    location_scale : bool, default=True
        Append, per channel, the location and the log of the scale of the
        series (mean and standard deviation of its observed points, as the
        encoder's instance normalisation computes them and removes them from
        what the encoder sees): 2 more values per channel.
    length_policy : {"pad+resample", "pad+windows", "resample"}, \
            default="pad+resample"
        How a series is fitted to the encoder's context (see
        :mod:`sslts.data.windows`): when shorter, left-padded and masked
        (``"pad+..."``) or linearly resampled; when longer, resampled to it
        or cut into windows whose embeddings are averaged
        (``"pad+windows"``). Also used for the windows of fine-tuning.
    views : tuple of {"series", "half", "diff"}, default=("series", "half", "diff")
        Views of each series that are embedded, in this order, their features
        concatenated per channel (:mod:`sslts.data.views`): the series as
        given, the means of consecutive point pairs (half the sampling rate:
        a coarser time scale), and the first differences. ``("series",)``
        embeds the series alone, at a third of the cost.
    patch_phases : int, default=8
        Placements of each series on the encoder's patch grid that the
        features are averaged over. The encoder cuts a window into patches
        of ``patch_length`` points (8 for the shipped checkpoints) from a
        fixed origin, so the same shape is read differently depending on
        where it meets a patch boundary. Each series is embedded
        ``patch_phases`` times, without its last ``k * patch_length //
        patch_phases`` points for ``k = 0, ..., patch_phases - 1``
        (:func:`sslts.data.views.drop_last`; a left-padded series then meets
        the grid that many points later), and the features (every view,
        location and scale included) are averaged. Costs ``patch_phases``
        times one reading; 1 reads each series once, as releases before
        this parameter did. At most ``patch_length``.
    channel_pooling : {"concat", "mean"}, default="concat"
        How per-channel embeddings are combined: concatenated in channel order
        (keeps which channel said what; width grows with the channel count) or
        averaged (width independent of the channel count).
    standardize : bool, default=True
        Centre each output feature and scale it to unit variance with the
        statistics of the embeddings of the training ``X`` (computed after
        any fine-tuning; a feature constant in training is only centred), the
        same as a ``StandardScaler`` fitted on them. False returns the
        encoder's raw embeddings.
    max_epochs : int, default=0
        Epochs of self-supervised (masked reconstruction) training on ``X``
        during ``fit``; 0 keeps the encoder frozen and ``fit`` only records
        the input layout.
    lr : float, default=1e-3
        Learning rate of fine-tuning (AdamW, cosine decay).
    batch_size : int, default=256
        Windows per forward pass (each window holds all channels).
    precision : {"float32", "bfloat16"}, default="float32"
        Arithmetic of the encoder's forward pass when embedding (fine-tuning
        stays float32). ``"bfloat16"`` runs it under bfloat16 autocast: the
        matrix products in bfloat16, the residual stream, normalisations and
        outputs in float32. On GPUs and on CPUs with native bfloat16
        instructions (AVX512_BF16 or AMX) it embeds about twice as fast
        (``benchmarks/bench_embed_speed.py``), and the canonical pipeline's
        accuracy was unchanged on the 36 selection sets
        (``benchmarks/dev_embedding_precision.py``); on other CPUs it is slower. The default gives the
        same features on every machine.
    device : str, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation and fine-tuning masks. The caller's global torch
        random state is left untouched.
    verbose : bool, default=False
        Progress bar and loss table during fine-tuning.

    Notes
    -----
    Supports scikit-learn's callbacks (``set_callbacks``, or callbacks set on
    an enclosing ``Pipeline``): each fine-tuning epoch is reported as a
    subtask of ``fit`` with its losses as metadata.

    Attributes
    ----------
    model_ : TSPulse
        The encoder in evaluation mode.
    n_features_in_ : int
        Number of channels seen in ``fit`` (1 for 2D input).
    n_timepoints_ : int
        Longest series length seen in ``fit``.
    card_ : dict
        Model card of the loaded checkpoint (empty for random initialisation).
    history_ : list of dict
        Per-epoch losses of fine-tuning (empty when frozen).
    mean_ : ndarray of shape (n_features_out,) or None
        Mean of each raw output feature on the training ``X`` (None when
        ``standardize=False``).
    scale_ : ndarray of shape (n_features_out,) or None
        Standard deviation of each raw output feature on the training ``X``,
        1 where it is zero up to float32 rounding (below a millionth of the
        feature's magnitude; None when ``standardize=False``).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sktime.datasets import load_gunpoint
    >>> X, y = load_gunpoint(split="train", return_type="numpy3D")
    >>> emb = TSPulseEmbedder(pretrained="tspulse-tiny-random")
    >>> Z = emb.fit_transform(X)
    >>> Z.shape
    (50, 150)
    >>> print(abs(Z.mean(axis=0)).max() < 0.01, Z.std(axis=0).round(3).max())
    True 1.0
    >>> clf = make_pipeline(TSPulseEmbedder(), LogisticRegression()).fit(X, y)
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **BaseTorchEstimator._parameter_constraints,
        **StandardizedEmbedderMixin._parameter_constraints,
        "embedding": [Options(("semantic+pooled", "semantic", "detail", "both"))],
        "pooling": [DistinctOptions(POOLINGS)],
        "location_scale": ["boolean"],
        "length_policy": [Options(LENGTH_POLICIES)],
        "views": [DistinctOptions(VIEWS)],
        "patch_phases": [Interval(Integral, 1, None, closed="left")],
        "precision": [Options(("float32", "bfloat16"))],
    }

    def __init__(
        self,
        pretrained: Any = "default",
        embedding: str = "semantic+pooled",
        pooling: tuple[str, ...] = POOLINGS,
        location_scale: bool = True,
        length_policy: str = "pad+resample",
        views: tuple[str, ...] = VIEWS,
        patch_phases: int = 8,
        channel_pooling: str = "concat",
        standardize: bool = True,
        max_epochs: int = 0,
        lr: float = 1e-3,
        batch_size: int = 256,
        precision: str = "float32",
        device: str = "auto",
        random_state: Any = None,
        verbose: bool = False,
    ) -> None:
        self.pretrained = pretrained
        self.embedding = embedding
        self.pooling = pooling
        self.location_scale = location_scale
        self.length_policy = length_policy
        self.views = views
        self.patch_phases = patch_phases
        self.channel_pooling = channel_pooling
        self.standardize = standardize
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.precision = precision
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def _fit_encoder(self, panel: Panel) -> None:
        """Load the encoder and, if ``max_epochs > 0``, continue pretraining on ``panel``."""
        model, self.card_ = initial_model(self.pretrained, TSPulse)
        model = model.to(self._device())
        self.history_: list[dict[str, float]] = []
        if self.max_epochs > 0:
            windows = context_windows(
                panel, model.config.context_length, self.length_policy
            )
            model = self._finetune_tspulse(model, windows.values, windows.observed)
        self.model_ = model.eval()

    def _snapshot(self, net: Any) -> dict[str, Any]:
        """Fitted attributes as they would be if fine-tuning stopped now."""
        return self._standardized_snapshot(super()._snapshot(net))

    # -------------------------------------------------------------- embedding
    def _embed(self, panel: Panel) -> np.ndarray:
        """Raw embeddings of ``panel``, float32 ``(n_instances, n_features_out)``."""
        total = None
        for shift in phase_shifts(self.patch_phases, self.model_.config.patch_length):
            shifted = drop_last(panel, shift)
            per_channel = np.concatenate(
                [self._embed_view(panel_view(shifted, view)) for view in self.views], axis=-1
            )
            total = per_channel if total is None else total + per_channel
        return pool_channels(total / np.float32(self.patch_phases), self.channel_pooling)

    def _embed_view(self, panel: Panel) -> np.ndarray:
        """Per-channel embeddings of one view, float32 ``(n_instances, n_channels, width)``."""
        model = self.model_.to(self._device())
        if self.embedding == "semantic+pooled":
            embed = partial(semantic_pooled_embedding, model, pooling=self.pooling)
        else:
            embed = partial(model.embed, kind=self.embedding)
        per_channel = self._infer_windows(
            embed, panel, model.config.context_length, policy=self.length_policy
        )
        if self.location_scale:
            per_channel = np.concatenate(
                [per_channel, location_scale(model, panel)], axis=-1
            )
        return per_channel

    @property
    def _n_features_out(self) -> int:
        width = (
            pooled_readout_width(self.model_.config, self.pooling)
            if self.embedding == "semantic+pooled"
            else self.model_.embedding_sizes()[self.embedding]
        )
        width = (width + 2 * self.location_scale) * len(self.views)
        return width * (self.n_features_in_ if self.channel_pooling == "concat" else 1)


def semantic_pooled_embedding(
    model: TSPulse,
    x: torch.Tensor,
    observed: torch.Tensor,
    pooling: tuple[str, ...] = ("mean",),
) -> torch.Tensor:
    """Register tokens, then time and FFT patch tokens pooled over observed patches.

    Parameters
    ----------
    model : TSPulse
        The encoder (in evaluation mode).
    x, observed : torch.Tensor
        Windows ``(batch, channels, context_length)`` and where they are
        observed.
    pooling : tuple of {"mean", "max"}, default=("mean",)
        Statistics of the patch tokens (:func:`sslts.models.tspulse.pooled_readout`).

    Returns
    -------
    torch.Tensor
        ``(batch, channels, (n_registers + 2 * len(pooling)) * d_model)``.
    """
    return pooled_readout(model.encode(x, observed), observed, model.config, pooling)


def location_scale(model: TSPulse, panel: Panel) -> np.ndarray:
    """Per-channel location and log-scale of every series, as the encoder's RevIN computes them.

    Parameters
    ----------
    model : TSPulse
        Its :class:`~sslts.models.layers.RevIN` gives the statistics (over the
        observed points of the whole series).
    panel : Panel
        A checked panel.

    Returns
    -------
    ndarray of shape (n_instances, n_channels, 2), float32
    """
    values = torch.from_numpy(panel.values)
    visible = (
        torch.ones_like(values, dtype=torch.bool)
        if panel.observed is None
        else torch.from_numpy(panel.observed)
    )
    loc, scale = model.revin.statistics(values, visible)
    return torch.cat([loc, scale.log()], dim=-1).numpy().astype(np.float32)
