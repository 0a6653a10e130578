"""The template every sslts estimator follows (in the spirit of aeon's ``@final fit``).

:class:`BaseTorchEstimator` owns ``fit``:

1. check every parameter against the class's declared
   ``_parameter_constraints`` (:mod:`sslts._params`), then the subclass's
   cross-parameter rules (``_check_params``);
2. convert and check ``X`` through the one input gate
   (:mod:`sslts._validation`): a :class:`~sslts._validation.Panel` for panel
   estimators, a :class:`~sslts._validation.Series` for series estimators;
   then ``y`` (``_check_y``);
3. open the scikit-learn callback context (one subtask per epoch for
   estimators with ``max_epochs``);
4. give the fit its own random generators, seeded from ``random_state``
   (:func:`sslts._torch.seeded`: thread-safe, global random states untouched);
5. call the subclass's ``_fit(data, y)``.

Subclasses implement ``_fit`` and their output methods, and use the small
helpers here: ``_device`` (the resolved ``device`` parameter),
``_epoch_callbacks`` (the bridge that reports skorch epochs to scikit-learn
callbacks), ``_snapshot`` (fitted attributes as if training stopped now),
``_infer`` / ``_infer_windows`` (batched inference), ``_finite`` (the
no-NaN/inf guard on every output) and ``_finetune_tspulse`` (self-supervised
fine-tuning of a TSPulse encoder on the user's windows). Training histories are ``history_``, a
list of per-epoch dicts (:func:`epoch_history`).

Embedders (panel in, one feature row per series out) add
:class:`StandardizedEmbedderMixin`, which owns their ``_fit`` (the subclass's
``_fit_encoder``, then the statistics of the training embeddings),
``transform`` and ``fit_transform`` (built on the subclass's ``_embed``): with
``standardize=True`` the output is standardized per feature, so that a linear
model needs no scaler.

Estimators without torch (``KMeansAnomalyDetector``) use the same template;
the torch steps only act on the parameters an estimator has.
"""

from __future__ import annotations

import copy
import numbers
import os
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, final

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.callback import CallbackSupportMixin, with_callbacks
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet
from skorch.callbacks import Callback

from sslts._params import Interval, Options, validate_params
from sslts._torch import bf16_autocast, resolve_device, seeded, tensor_batches
from sslts._validation import (
    Panel,
    Series,
    check_finite_output,
    check_panel,
    check_series,
)
from sslts.data.windows import context_windows, pool_windows
from sslts.streaming import streams_memmaps
from sslts.training.callbacks import SklearnCallbackBridge
from sslts.training.finetune import finetune_tspulse

__all__ = [
    "BaseTorchEstimator",
    "StandardizedEmbedderMixin",
    "epoch_history",
    "pool_channels",
]

#: Per-epoch history entries that are bookkeeping, not measurements.
_HISTORY_SKIP = frozenset({"epoch", "dur"})


def epoch_history(net: NeuralNet) -> list[dict[str, float]]:
    """A skorch net's history as one dict of measurements per epoch.

    Keeps every numeric per-epoch entry (``train_loss``, ``valid_loss``,
    ``valid_acc``, the objective's ``loss_*`` parts, collapse monitors...),
    leaving out the epoch number, its duration, batch counts, the per-batch
    records and skorch's ``*_best`` flags.
    """
    rows = []
    for row in net.history:
        rows.append(
            {
                key: float(value)
                for key, value in row.items()
                if key not in _HISTORY_SKIP
                and not key.endswith("_batch_count")
                and isinstance(value, numbers.Real)
                and not isinstance(value, (bool, np.bool_))
            }
        )
    return rows


#: A feature whose standard deviation is below this fraction of its magnitude
#: (or of 1) is constant: float32 embeddings of identical series can differ by
#: a few units in the last place (vectorised kernels round the elements of a
#: batch differently), and dividing by that spread would blow rounding up.
_CONSTANT_RELATIVE_SPREAD = 1e-6


def constant_as_one(scale: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """``scale`` with 1 for features that are constant up to float32 rounding."""
    constant = scale <= _CONSTANT_RELATIVE_SPREAD * np.maximum(1.0, np.abs(mean))
    return np.where(constant, 1.0, scale)


def pool_channels(per_channel: np.ndarray, how: str) -> np.ndarray:
    """Combine ``(n_instances, n_channels, width)`` features into 2D.

    ``"concat"`` keeps channel order (width grows with the channel count),
    ``"mean"`` averages channels (width independent of it).
    """
    if how == "mean":
        return per_channel.mean(axis=1)
    return per_channel.reshape(per_channel.shape[0], -1)


class BaseTorchEstimator(CallbackSupportMixin, BaseEstimator):
    """Base class of every sslts estimator: the ``fit`` template and shared helpers.

    Class attributes a subclass sets:

    ``_parameter_constraints`` : dict
        ``parameter name -> list of constraints`` (see :mod:`sslts._params`);
        extend the parent's with ``{**Parent._parameter_constraints, ...}``.
        The shared names (``pretrained``, ``max_epochs``, ``lr``,
        ``batch_size``, ``device``, ``random_state``, ``verbose``) are
        declared here once.
    ``_input_kind`` : {"panel", "series"}
        What ``X`` is (see :mod:`sslts._validation`).
    ``_allow_nan`` : bool
        Whether NaN marks missing values in ``X``.
    ``_epoch_subtasks`` : bool
        Whether ``fit`` reports its ``max_epochs`` epochs as callback
        subtasks (through :meth:`_epoch_callbacks`); False for estimators
        whose epochs run inside another library's loop.

    Methods a subclass implements: ``_fit(data, y)``; optionally
    ``_check_params()`` (rules across parameters), ``_check_y(y, data)`` and
    ``_snapshot(net)``.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "pretrained": [str, os.PathLike, None],
        "max_epochs": [Interval(numbers.Integral, 0, None, closed="left")],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "device": ["device"],
        "random_state": ["random_state"],
        "verbose": ["boolean", Interval(numbers.Integral, 0, None, closed="left")],
        "channel_pooling": [Options(("concat", "mean"))],
    }
    _input_kind: ClassVar[str] = "panel"
    _allow_nan: ClassVar[bool] = True
    _epoch_subtasks: ClassVar[bool] = True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = self._input_kind == "panel"
        tags.input_tags.allow_nan = self._allow_nan
        return tags

    # ------------------------------------------------------------ template
    @final
    @with_callbacks
    def fit(self, X: Any, y: Any = None) -> BaseTorchEstimator:
        """Fit the estimator to ``X`` (and ``y`` where it uses one).

        Parameters
        ----------
        X : panel or series
            A panel for panel estimators (2D/3D arrays, lists of arrays,
            sktime pandas layouts) or one series for series estimators
            (``(n_timepoints,)``, ``(n_timepoints, n_channels)``, pandas);
            see :mod:`sslts._validation` and the class docstring.
        y : array-like or None
            Targets, for the estimators that use them (class labels, 0/1
            anomaly labels); ignored otherwise.

        Returns
        -------
        self
        """
        validate_params(
            self._parameter_constraints, self.get_params(deep=False), type(self).__name__
        )
        self._check_params()
        data = self._check_X(X, reset=True)
        y = self._check_y(y, data)
        epochs = getattr(self, "max_epochs", 0) if self._epoch_subtasks else 0
        context = self._init_callback_context(max_subtasks=epochs)
        context.call_on_fit_task_begin(estimator=self, X=X, y=y)
        with seeded(getattr(self, "random_state", None)):
            self._fit(data, y)
        context.call_on_fit_task_end(estimator=self, X=X, y=y)
        return self

    def _check_params(self) -> None:
        """Rules that involve several parameters (single ones are declared)."""

    def _check_X(self, X: Any, *, reset: bool) -> Panel | Series:
        """``X`` through the input gate; ``reset=True`` records its layout."""
        if self._input_kind == "series":
            return check_series(X, estimator=self, reset=reset, allow_nan=self._allow_nan)
        return check_panel(X, estimator=self, reset=reset, allow_nan=self._allow_nan)

    def _check_y(self, y: Any, data: Panel | Series) -> Any:
        """Check ``y`` against ``data``; estimators that ignore ``y`` return None."""
        return None

    def _fit(self, data: Panel | Series, y: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------- helpers
    def _device(self) -> torch.device:
        """The ``device`` parameter resolved (``"auto"`` -> CUDA when available)."""
        return resolve_device(getattr(self, "device", "cpu"))

    def _epoch_callbacks(self) -> list[tuple[str, Callback]]:
        """skorch callbacks that report each epoch to scikit-learn's callbacks.

        Append them to a net's callbacks inside ``_fit``; a scikit-learn
        callback that asks to stop ends training after the current epoch.
        """
        bridge = SklearnCallbackBridge(self._callback_fit_ctx, self, self._snapshot)
        return [("sklearn_callbacks", bridge)]

    def _snapshot(self, net: NeuralNet) -> dict[str, Any]:
        """Fitted attributes as they would be if training stopped now."""
        return {
            "model_": copy.deepcopy(net.module_).eval(),
            "history_": epoch_history(net),
        }

    def _infer(
        self,
        fn: Callable[..., torch.Tensor],
        arrays: Sequence[np.ndarray],
        batch_size: int | None = None,
    ) -> np.ndarray:
        """``fn`` over row batches of ``arrays`` (as tensors on the device), concatenated.

        Runs under :func:`torch.inference_mode` (and bfloat16 autocast for an
        estimator with ``precision="bfloat16"``); ``batch_size`` defaults to
        the estimator's. ``fn`` returns one tensor per batch, with one row per
        input row.
        """
        device = self._device()
        step = batch_size or getattr(self, "batch_size", 256)
        parts = []
        bf16 = getattr(self, "precision", "float32") == "bfloat16"
        with torch.inference_mode(), bf16_autocast(device, bf16):
            for batch in tensor_batches(arrays, step, device):
                parts.append(fn(*batch).cpu().numpy())
        return np.concatenate(parts)

    def _infer_windows(
        self,
        fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        panel: Panel,
        context_length: int,
        batch_size: int | None = None,
        policy: str = "pad+windows",
    ) -> np.ndarray:
        """``fn(x, observed)`` over the context windows of ``panel``, averaged per series.

        Applies the length ``policy`` of :mod:`sslts.data.windows` and returns
        ``(n_instances, ...)`` float32, the mean of each series' windows.
        """
        windows = context_windows(panel, context_length, policy)
        out = self._infer(
            lambda x, observed: fn(x, observed).float(),
            (windows.values, windows.observed),
            batch_size,
        )
        return pool_windows(out, windows.owner, panel.n_instances)

    def _finite(self, values: np.ndarray, method: str) -> np.ndarray:
        """``values``, after checking that every one is finite (else raise)."""
        return check_finite_output(values, self, method)

    def _finetune_tspulse(
        self, model: torch.nn.Module, values: np.ndarray, observed: np.ndarray | None
    ) -> torch.nn.Module:
        """Continue TSPulse's self-supervised training on windows; sets ``history_``.

        Uses the estimator's ``max_epochs``, ``lr``, ``batch_size``, ``device``
        and ``verbose`` and reports every epoch to scikit-learn's callbacks
        (:func:`sslts.training.finetune.finetune_tspulse`). Returns the trained
        model, in training mode.
        """
        net = finetune_tspulse(
            model,
            values,
            observed,
            max_epochs=self.max_epochs,
            lr=self.lr,
            batch_size=self.batch_size,
            device=self._device(),
            verbose=bool(self.verbose),
            extra_callbacks=self._epoch_callbacks(),
        )
        self.history_ = epoch_history(net)
        return net.module_


class StandardizedEmbedderMixin(TransformerMixin):
    """The transformer side of an embedder, output standardized per feature.

    With ``standardize=True`` each output feature is centred and divided by
    its standard deviation on the training embeddings, so that a linear
    model (``LogisticRegression()`` with its defaults) gets well-scaled input
    without a ``StandardScaler`` step. The statistics are those of
    :class:`sklearn.preprocessing.StandardScaler` fitted on the training
    embeddings (population standard deviation, 1 for a feature that is
    constant in training), applied with the same float32 arithmetic, so
    ``Pipeline([emb, clf])`` gives exactly the predictions of
    ``Pipeline([emb(standardize=False), StandardScaler(), clf])``.

    This class owns ``_fit`` (encoder first, statistics last), ``transform``
    and ``fit_transform``. A subclass, listed with this class before
    :class:`BaseTorchEstimator` in its bases:

    * declares the ``standardize`` parameter (extending its
      ``_parameter_constraints`` with this class's);
    * implements ``_fit_encoder(panel)``: load and train the encoder, set
      ``model_`` (in evaluation mode) and ``history_``;
    * implements ``_embed(panel)``: the raw float32 ``(n_instances,
      n_features_out)`` features of a checked panel, with the fitted encoder;
    * passes its ``_snapshot`` attributes through
      :meth:`_standardized_snapshot`, so that callbacks see an estimator
      that standardizes like the final one.

    ``fit_transform`` embeds the training panel once: the embeddings that
    ``fit`` computes for the statistics are returned, standardized.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "standardize": ["boolean"],
    }

    def _fit_encoder(self, panel: Panel) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _embed(self, panel: Panel) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _fit(self, panel: Panel, y: None) -> None:
        """Fit the encoder on ``panel``, then the statistics of its embeddings."""
        self._fit_panel = panel  # for _standardized_snapshot during training
        try:
            self._fit_encoder(panel)
        finally:
            del self._fit_panel
        self.mean_, self.scale_, embeddings = self._statistics(panel)
        if embeddings is not None and hasattr(self, "_fit_transform_output"):
            self._fit_transform_output = self._standardized(embeddings, "fit_transform")

    def _statistics(
        self, panel: Panel
    ) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        """``(mean, scale, raw embeddings)`` of ``panel``; all None without ``standardize``."""
        if not self.standardize:
            return None, None, None
        embeddings = self._finite(self._embed(panel), "fit")
        scaler = StandardScaler().fit(embeddings)
        return scaler.mean_, constant_as_one(scaler.scale_, scaler.mean_), embeddings

    def _standardized_snapshot(self, attributes: dict[str, Any]) -> dict[str, Any]:
        """``attributes`` of a training snapshot plus the ``mean_``/``scale_`` they imply.

        The statistics are computed with the snapshot's encoder on the
        training panel, as ``fit`` would if training stopped now (only when a
        callback asks for the fitted estimator).
        """
        snapshot = copy.copy(self)
        vars(snapshot).update(attributes)
        mean, scale, _ = snapshot._statistics(self._fit_panel)
        return {**attributes, "mean_": mean, "scale_": scale}

    def _standardized(self, embeddings: np.ndarray, method: str) -> np.ndarray:
        """``embeddings`` (changed in place) minus ``mean_``, over ``scale_``; checked finite."""
        if self.mean_ is not None:
            if embeddings.shape[1] != len(self.mean_):
                raise ValueError(
                    f"{type(self).__name__} produced {embeddings.shape[1]} features, but "
                    f"was fitted with {len(self.mean_)}: parameters that change the "
                    "output width (channel_pooling, embedding, features, location_scale, "
                    "pooling, views) were set after fit; fit again"
                )
            # StandardScaler.transform's arithmetic: statistics cast to the
            # embeddings' dtype (float32), so both pipelines agree exactly
            embeddings -= self.mean_.astype(embeddings.dtype)
            embeddings /= self.scale_.astype(embeddings.dtype)
        return self._finite(embeddings, method)

    @streams_memmaps
    def transform(self, X: Any) -> np.ndarray:
        """Embed every series of ``X`` (standardized when fitted with ``standardize=True``).

        A ``np.memmap`` larger than one chunk is embedded chunk by chunk
        (:func:`sslts.streaming.stream_transform`): the memory used stays
        that of one chunk plus the output, and the output is the same.

        Parameters
        ----------
        X : array-like, list of arrays or np.memmap
            Same channel count as in ``fit``; any length.

        Returns
        -------
        ndarray of shape (n_instances, n_features_out), float32
        """
        check_is_fitted(self, "model_")
        panel = self._check_X(X, reset=False)
        return self._standardized(self._embed(panel), "transform")

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> np.ndarray:
        """Fit to ``X``, then embed it; the training panel is embedded only once.

        Parameters
        ----------
        X : array-like or list of arrays
            The training panel.
        y : None
            Ignored.
        **fit_params : dict
            Passed to ``fit``.

        Returns
        -------
        ndarray of shape (n_instances, n_features_out), float32
            Equal to ``fit(X).transform(X)``.
        """
        self._fit_transform_output: np.ndarray | None = None
        try:
            self.fit(X, y, **fit_params)
            embeddings = self._fit_transform_output
        finally:
            del self._fit_transform_output
        return self.transform(X) if embeddings is None else embeddings
