"""Fill missing values (NaN) of a time series with a pretrained TSPulse model."""

from __future__ import annotations

import numbers
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted, validate_data
from tqdm.auto import tqdm

from sslts._base import BaseTorchEstimator
from sslts._params import Interval, Options
from sslts._validation import Series
from sslts.data.windows import SlidingWindows, points_from_windows, sliding_windows
from sslts.models import TSPulse
from sslts.pretrained import initial_model

__all__ = ["TSPulseImputer"]

_RECONSTRUCTIONS = ("fft_time", "time", "mean")
# Floor of the window-centre weight: points near a window's edge still count
# (the first and last points of a series are only ever near an edge).
_EDGE_WEIGHT = 0.1


class TSPulseImputer(OneToOneFeatureMixin, TransformerMixin, BaseTorchEstimator):
    """Impute the missing values of a time series with a TSPulse model, zero-shot.

    The missing points are the model's mask: every window of the series is
    encoded with its NaNs hidden (RevIN statistics from the observed points
    only, fully missing patches replaced by the mask token) and the model's
    reconstruction is read at the hidden points. Observed values are returned
    unchanged.

    Input contract: **one series per call**, time along the rows, like
    :class:`sklearn.impute.SimpleImputer` with rows ordered in time: ``(T,)``
    for a univariate series or ``(T, C)`` (``n_timepoints, n_channels``;
    a ``pd.Series`` or a time-major ``pd.DataFrame`` works) for a
    multivariate one. Channels are imputed independently (TSPulse is
    channel-independent). For a panel, call :meth:`fit_transform` once per
    series; a 2D input with more columns than rows is refused (it is a panel
    or a transposed series).

    How a series of any length is handled:

    1. it is cut into windows of the model's context length, ``stride``
       apart (:func:`sslts.data.windows.sliding_windows`; a series shorter
       than the context is one left-padded window, its padding hidden);
    2. each window is reconstructed; windows overlapping a point are averaged
       with weights that favour the window centre (a window sees more
       context around its centre) and ignore windows in which a channel has
       no observed value at all;
    3. with ``anchor=True`` the reconstruction is corrected by the residual
       ``observed - reconstruction`` at the observed points, interpolated
       linearly across each gap, so the filled segment meets the observed
       values at both ends instead of jumping;
    4. points that no window with observations covers (a gap much longer
       than the context) are filled by linear interpolation.

    Parameters
    ----------
    pretrained : str, path or None, default="default"
        The TSPulse checkpoint (see :func:`sslts.pretrained.initial_model`).
    reconstruction : {"fft_time", "time", "mean"}, default="fft_time"
        Which head gives the values: the inverse FFT of the spectrum head,
        the time head, or their average. For the shipped ``tspulse-synth``
        checkpoints the spectrum head is the more accurate one (chosen on ETTh1/ETTh2
        validation splits, see ``benchmarks/bench_imputation.py``).
    anchor : bool, default=True
        Correct the reconstruction by the interpolated residual at the
        observed points (step 3 above).
    max_epochs : int, default=0
        Epochs of self-supervised masked-reconstruction fine-tuning on the
        *observed* values of the series given to ``fit`` (its windows, each
        channel as its own series; the missing points are never targets).
        0 keeps the model frozen (zero-shot). Fine-tuning is the routine the
        other TSPulse estimators share
        (:func:`sslts.training.finetune.finetune_tspulse`).
    lr : float, default=1e-3
        Learning rate of fine-tuning.
    stride : int or None, default=None
        Points between consecutive windows; None means a quarter of the
        model's context (128 for the default model). Must be at most the
        context length.
    batch_size : int, default=64
        Windows per forward pass (each window holds all channels).
    device : str, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``...
    random_state : int, RandomState instance or None, default=None
        Seeds the model when ``pretrained=None`` (random initialisation) and
        the masks of fine-tuning. The imputation itself is deterministic.
    verbose : bool, default=False
        Progress bars (fine-tuning epochs, batches of windows).

    Notes
    -----
    Supports scikit-learn's callbacks (``set_callbacks``): each fine-tuning
    epoch is a subtask of ``fit`` with its losses as metadata, and a callback
    may stop fine-tuning after any epoch; the estimator it receives at the end
    of an epoch imputes with that epoch's model.

    Attributes
    ----------
    model_ : TSPulse
        The model in evaluation mode.
    card_ : dict
        Card of the loaded checkpoint (empty for random initialisation).
    history_ : list of dict
        Per-epoch fine-tuning losses (empty when zero-shot).
    n_features_in_ : int
        Channels of the series seen in ``fit``.

    See Also
    --------
    sslts.plotting.plot_imputation : Draw the filled segments over the series.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(300.0)
    >>> x = np.sin(2 * np.pi * t / 50)
    >>> x[100:116] = np.nan
    >>> imputer = TSPulseImputer(pretrained="tspulse-tiny-random")
    >>> filled = imputer.fit_transform(x)
    >>> filled.shape, bool(np.isnan(filled).any())
    ((300,), False)
    >>> bool(np.array_equal(filled[:100], x[:100]))
    True
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **BaseTorchEstimator._parameter_constraints,
        "reconstruction": [Options(_RECONSTRUCTIONS)],
        "anchor": ["boolean"],
        "stride": [Interval(numbers.Integral, 1, None, closed="left"), None],
    }
    _input_kind = "series"
    _allow_nan = True

    def __init__(
        self,
        pretrained: Any = "default",
        reconstruction: str = "fft_time",
        anchor: bool = True,
        max_epochs: int = 0,
        lr: float = 1e-3,
        stride: int | None = None,
        batch_size: int = 64,
        device: str = "auto",
        random_state: Any = None,
        verbose: bool = False,
    ) -> None:
        self.pretrained = pretrained
        self.reconstruction = reconstruction
        self.anchor = anchor
        self.max_epochs = max_epochs
        self.lr = lr
        self.stride = stride
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def _check_X(self, X: Any, *, reset: bool) -> Series:
        """The series gate, plus pandas column names (kept for ``set_output``)."""
        # with ensure_2d=False validate_data only records/checks feature names;
        # the series gate checks values and records the channel count
        validate_data(self, X, reset=reset, skip_check_array=True, ensure_2d=False)
        return super()._check_X(X, reset=reset)

    def _fit(self, series: Series, y: None) -> None:
        """Load the model and, if ``max_epochs > 0``, fine-tune it on ``series``."""
        model, self.card_ = initial_model(self.pretrained, TSPulse)
        context = model.config.context_length
        if self.stride is not None and self.stride > context:
            raise ValueError(
                f"stride ({self.stride}) must be at most the model's context length "
                f"({context}), or every point would not be covered by a window"
            )
        model = model.to(self._device())
        self.history_: list[dict[str, float]] = []
        if self.max_epochs > 0:
            model = self._finetune(model, series)
        self.model_ = model.eval()

    def _finetune(self, model: TSPulse, series: Series) -> TSPulse:
        """``model`` after masked-reconstruction training on ``series``' windows."""
        context = model.config.context_length
        windows = sliding_windows(series, context, self._stride(context))
        # one univariate training series per (window, channel) with an observed point
        values = windows.values.reshape(-1, 1, context)
        observed = windows.observed.reshape(-1, 1, context)
        keep = observed.any(axis=(1, 2))
        return self._finetune_tspulse(
            model, np.ascontiguousarray(values[keep]), np.ascontiguousarray(observed[keep])
        )

    def _stride(self, context: int) -> int:
        return self.stride if self.stride is not None else max(1, context // 4)

    def transform(self, X: Any) -> np.ndarray:
        """Return ``X`` with its NaNs filled.

        Parameters
        ----------
        X : array-like of shape (n_timepoints,) or (n_timepoints, n_channels)
            A series of any length with the channel count seen in ``fit``
            (a ``pd.Series`` or a time-major ``pd.DataFrame`` works).

        Returns
        -------
        ndarray of the shape of ``X``
            float32 for float32 input, float64 otherwise; observed values
            are the input values.

        Raises
        ------
        FloatingPointError
            If a filled value is not finite.
        """
        check_is_fitted(self, "model_")
        series = self._check_X(X, reset=False)
        # the input's own values, shape and float dtype (the gate has checked them)
        original = check_array(
            X,
            dtype=[np.float64, np.float32],
            ensure_2d=False,
            ensure_all_finite="allow-nan",
            copy=True,
        )
        if series.observed is None:
            return original
        filled = self._impute(series)
        missing = ~series.observed
        out = original.reshape(series.values.shape)
        out[missing] = filled[missing]
        return self._finite(out.reshape(original.shape), "transform")

    # ------------------------------------------------------------- internals
    def _impute(self, series: Series) -> np.ndarray:
        """Imputed values ``(n_timepoints, n_channels)`` (also at observed points)."""
        model = self.model_
        context = model.config.context_length
        windows = sliding_windows(series, context, self._stride(context))
        recon = self._reconstruct(windows)
        centre = np.sin(np.pi * (np.arange(context) + 0.5) / context)
        weights = np.maximum(centre, _EDGE_WEIGHT)
        has_data = windows.observed.any(axis=-1)  # (n_windows, C)
        values = series.values.astype(np.float64)
        observed = series.observed
        filled = np.empty_like(values)
        for c in range(series.n_channels):
            w = has_data[:, c, None] * weights[None, :]
            filled[:, c] = points_from_windows(
                recon[:, c], windows, per="point", weights=w
            )
            known = np.flatnonzero(observed[:, c])
            times = np.arange(series.n_timepoints)
            if self.anchor:
                # every observed point lies in a window holding data, so is covered
                residual = values[known, c] - filled[known, c]
                filled[:, c] += np.interp(times, known, residual)
            uncovered = np.isnan(filled[:, c])
            if uncovered.any():
                filled[uncovered, c] = np.interp(
                    times[uncovered], known, values[known, c]
                )
        return filled

    def _reconstruct(self, windows: SlidingWindows) -> np.ndarray:
        """Every window's reconstruction in the series' scale: ``(n_windows, C, L)``."""
        model = self.model_.to(self._device())
        n_batches = -(-len(windows) // self.batch_size)
        with tqdm(total=n_batches, desc="imputing", disable=not self.verbose) as bar:

            def reconstruct(x: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
                out = model(x, observed)
                if self.reconstruction == "time":
                    scaled = out.time
                elif self.reconstruction == "fft_time":
                    scaled = out.fft_time
                else:
                    scaled = (out.time + out.fft_time) / 2
                bar.update(1)
                return (scaled * out.scale + out.loc).double()

            return self._infer(reconstruct, (windows.values, windows.observed))
