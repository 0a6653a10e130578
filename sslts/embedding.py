"""Pretrained encoders as scikit-learn transformers: panel in, 2D features out."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.callback import CallbackSupportMixin, with_callbacks
from sklearn.utils.validation import check_is_fitted

from sslts._params import check_choice, check_int, check_positive
from sslts._torch import resolve_device, seeded, tensor_batches
from sslts._validation import Panel, check_panel
from sslts.data.windows import context_windows, pool_windows
from sslts.models import TSPulse
from sslts.pretrained import initial_model
from sslts.training import PretrainNet, SklearnCallbackBridge
from sslts.training.finetune import finetune_history, finetune_tspulse

__all__ = ["TSPulseEmbedder"]

_EMBEDDINGS = ("semantic", "detail", "both")
_CHANNEL_POOLING = ("concat", "mean")


class TSPulseEmbedder(
    CallbackSupportMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Embed time series with a TSPulse encoder.

    Each channel is encoded independently; series of any length are fitted to
    the encoder's context by the policy of :mod:`sslts.data.windows` (short
    series left-padded and masked, long series cut into windows whose
    embeddings are averaged). Missing values (NaN) are supported: they are
    masked, exactly like padding.

    Parameters
    ----------
    pretrained : str, path or None, default="default"
        ``"default"`` (the checkpoint shipped as the library default), a name
        from :func:`sslts.pretrained.available_checkpoints`, the path of a
        checkpoint saved by :func:`sslts.pretrained.save_checkpoint`, or None
        for a randomly initialised model of the default architecture
        (:class:`sslts.models.TSPulseConfig`).
    embedding : {"semantic", "detail", "both"}, default="semantic"
        Which tokens to return per channel: the register tokens (global
        "semantic" embedding, ``n_registers * d_model`` values), the time and
        FFT patch tokens ("detail", ``2 * n_patches * d_model``), or both
        (detail then semantic).
    channel_pooling : {"concat", "mean"}, default="concat"
        How per-channel embeddings are combined: concatenated in channel order
        (keeps which channel said what; width grows with the channel count) or
        averaged (width independent of the channel count).
    finetune_epochs : int, default=0
        Epochs of self-supervised (masked reconstruction) training on ``X``
        during ``fit``; 0 keeps the encoder frozen and ``fit`` only records
        the input layout.
    lr : float, default=1e-3
        Learning rate of fine-tuning (AdamW, cosine decay).
    batch_size : int, default=256
        Windows per forward pass (each window holds all channels).
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
    finetune_history_ : list of dict
        Per-epoch losses of fine-tuning (empty when frozen).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sktime.datasets import load_gunpoint
    >>> X, y = load_gunpoint(split="train", return_type="numpy3D")
    >>> emb = TSPulseEmbedder(pretrained="tspulse-tiny-random")
    >>> emb.fit_transform(X[:5]).shape
    (5, 16)
    >>> clf = make_pipeline(emb, LogisticRegression()).fit(X, y)
    """

    def __init__(
        self,
        pretrained: Any = "default",
        embedding: str = "semantic",
        channel_pooling: str = "concat",
        finetune_epochs: int = 0,
        lr: float = 1e-3,
        batch_size: int = 256,
        device: str = "auto",
        random_state: Any = None,
        verbose: bool = False,
    ) -> None:
        self.pretrained = pretrained
        self.embedding = embedding
        self.channel_pooling = channel_pooling
        self.finetune_epochs = finetune_epochs
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
        check_choice("embedding", self.embedding, _EMBEDDINGS)
        check_choice("channel_pooling", self.channel_pooling, _CHANNEL_POOLING)
        check_int("finetune_epochs", self.finetune_epochs, 0)
        check_int("batch_size", self.batch_size, 1)
        check_positive("lr", self.lr)

    @with_callbacks
    def fit(self, X: Any, y: Any = None) -> TSPulseEmbedder:
        """Load the encoder and, if ``finetune_epochs > 0``, continue pretraining on ``X``.

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
        context = self._init_callback_context(max_subtasks=self.finetune_epochs)
        context.call_on_fit_task_begin(estimator=self, X=X)
        with seeded(self.random_state):
            model, card = initial_model(self.pretrained, TSPulse)
            model = model.to(device)
            self.card_ = card
            self.finetune_history_: list[dict[str, float]] = []
            if self.finetune_epochs > 0:
                model = self._finetune(model, panel, device, context)
        self.model_ = model.eval()
        context.call_on_fit_task_end(estimator=self, X=X)
        return self

    def _finetune(
        self, model: TSPulse, panel: Panel, device: torch.device, context: Any
    ) -> TSPulse:
        """Continue masked-reconstruction pretraining on the context windows of ``panel``."""
        windows = context_windows(panel, model.config.context_length)
        net = finetune_tspulse(
            model,
            windows.values,
            windows.observed,
            epochs=self.finetune_epochs,
            lr=self.lr,
            batch_size=self.batch_size,
            device=device,
            verbose=bool(self.verbose),
            extra_callbacks=[
                ("sklearn_callbacks", SklearnCallbackBridge(context, self, self._snapshot))
            ],
        )
        self.finetune_history_ = finetune_history(net)
        return net.module_

    def _snapshot(self, net: PretrainNet) -> dict[str, Any]:
        """Fitted attributes as they would be if fine-tuning stopped now."""
        return {
            "model_": copy.deepcopy(net.module_).eval(),
            "finetune_history_": finetune_history(net),
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
        windows = context_windows(panel, model.config.context_length)
        chunks = []
        with torch.inference_mode():
            arrays = (windows.values, windows.observed)
            for x, observed in tensor_batches(arrays, self.batch_size, device):
                emb = model.embed(x, observed, kind=self.embedding)
                chunks.append(emb.float().cpu().numpy())
        per_channel = pool_windows(np.concatenate(chunks), windows.owner, panel.n_instances)
        if self.channel_pooling == "mean":
            return per_channel.mean(axis=1)
        return per_channel.reshape(panel.n_instances, -1)

    @property
    def _n_features_out(self) -> int:
        width = self.model_.embedding_sizes()[self.embedding]
        return width * (self.n_features_in_ if self.channel_pooling == "concat" else 1)
