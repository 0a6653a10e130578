"""Fill missing values (NaN) of a time series with a pretrained TSPulse model."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from sslts._params import check_choice, check_int, check_positive
from sslts._torch import resolve_device, seeded, tensor_batches
from sslts._validation import Series, check_series
from sslts.data.windows import SlidingWindows, points_from_windows, sliding_windows
from sslts.embedding import TSPulseEmbedder
from sslts.models import TSPulse
from sslts.pretrained import initial_model

__all__ = ["TSPulseImputer"]

_RECONSTRUCTIONS = ("fft_time", "time", "mean")
# Floor of the window-centre weight: points near a window's edge still count
# (the first and last points of a series are only ever near an edge).
_EDGE_WEIGHT = 0.1


class TSPulseImputer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Impute the missing values of a time series with a TSPulse model, zero-shot.

    The missing points are the model's mask: every window of the series is
    encoded with its NaNs hidden (RevIN statistics from the observed points
    only, fully missing patches replaced by the mask token) and the model's
    reconstruction is read at the hidden points. Observed values are returned
    unchanged.

    Input contract: **one series per call**, time along the rows, like
    :class:`sklearn.impute.SimpleImputer` with rows ordered in time: ``(T,)``
    for a univariate series or ``(T, C)`` (``n_timepoints, n_channels``,
    a pandas ``DataFrame`` works) for a multivariate one. Channels are imputed
    independently (TSPulse is channel-independent). For a panel, call
    :meth:`fit_transform` once per series.

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
        the spectrum head is the more accurate one (chosen on ETTh1/ETTh2
        validation splits, see ``benchmarks/bench_imputation.py``).
    anchor : bool, default=True
        Correct the reconstruction by the interpolated residual at the
        observed points (step 3 above).
    finetune_epochs : int, default=0
        Epochs of self-supervised masked-reconstruction fine-tuning on the
        *observed* values of the series given to ``fit`` (its windows, each
        channel as its own series; the missing points are never targets).
        0 keeps the model frozen (zero-shot). Fine-tuning reuses
        :class:`~sslts.embedding.TSPulseEmbedder`'s training loop.
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

    Attributes
    ----------
    model_ : TSPulse
        The model in evaluation mode.
    card_ : dict
        Card of the loaded checkpoint (empty for random initialisation).
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

    def __init__(
        self,
        pretrained: Any = "default",
        reconstruction: str = "fft_time",
        anchor: bool = True,
        finetune_epochs: int = 0,
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
        self.finetune_epochs = finetune_epochs
        self.lr = lr
        self.stride = stride
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def _check_params(self) -> None:
        check_choice("reconstruction", self.reconstruction, _RECONSTRUCTIONS)
        if not isinstance(self.anchor, (bool, np.bool_)):
            raise ValueError(f"anchor must be True or False, got {self.anchor!r}")
        check_int("finetune_epochs", self.finetune_epochs, 0)
        check_positive("lr", self.lr)
        if self.stride is not None:
            check_int("stride", self.stride, 1)
        check_int("batch_size", self.batch_size, 1)

    def fit(self, X: Any, y: Any = None) -> TSPulseImputer:
        """Load the model and record the channel count of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_timepoints,) or (n_timepoints, n_channels)
            A series, NaN where missing (no channel may be entirely missing).
        y : ignored

        Returns
        -------
        self
        """
        self._check_params()
        _, series = self._validate(X, reset=True)
        with seeded(self.random_state):
            model, card = initial_model(self.pretrained, TSPulse)
        context = model.config.context_length
        if self.stride is not None and self.stride > context:
            raise ValueError(
                f"stride ({self.stride}) must be at most the model's context length "
                f"({context}), or every point would not be covered by a window"
            )
        if self.finetune_epochs > 0:
            model = self._finetune(series, context)
        self.model_ = model.eval()
        self.card_ = card
        return self

    def _finetune(self, series: Series, context: int) -> TSPulse:
        """The model after masked-reconstruction training on ``series``' windows."""
        windows = sliding_windows(series, context, self._stride(context))
        # one univariate training series per (window, channel); NaN where unobserved
        values = np.where(windows.observed, windows.values, np.nan)
        values = values.reshape(-1, 1, context)
        values = values[~np.isnan(values).all(axis=-1)[:, 0]]
        embedder = TSPulseEmbedder(
            pretrained=self.pretrained,
            finetune_epochs=self.finetune_epochs,
            lr=self.lr,
            batch_size=self.batch_size,
            device=self.device,
            random_state=self.random_state,
            verbose=self.verbose,
        ).fit(values)
        return embedder.model_

    def _stride(self, context: int) -> int:
        return self.stride if self.stride is not None else max(1, context // 4)

    def transform(self, X: Any) -> np.ndarray:
        """Return ``X`` with its NaNs filled.

        Parameters
        ----------
        X : array-like of shape (n_timepoints,) or (n_timepoints, n_channels)
            A series of any length with the channel count seen in ``fit``.

        Returns
        -------
        ndarray of the shape of ``X``
            float32 for float32 input, float64 otherwise; observed values
            are the input values.
        """
        check_is_fitted(self, "model_")
        original, series = self._validate(X, reset=False)
        original = original.copy()
        if series.observed is None:
            return original
        filled = self._impute(series)
        missing = ~series.observed
        out = original.reshape(series.values.shape)
        out[missing] = filled[missing]
        return out.reshape(original.shape)

    # ------------------------------------------------------------- internals
    def _validate(self, X: Any, reset: bool) -> tuple[np.ndarray, Series]:
        """``X`` as a float array of its own shape (float32 kept) and as a Series."""
        # validate_data records/checks pandas column names (for set_output);
        # check_series applies the series contract and the channel count.
        array = validate_data(
            self,
            X,
            reset=reset,
            dtype=[np.float64, np.float32],
            ensure_2d=False,
            ensure_all_finite="allow-nan",
        )
        return array, check_series(array, estimator=self, reset=reset, allow_nan=True)

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
            filled[:, c] = points_from_windows(recon[:, c], windows, weights=w)
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
        device = resolve_device(self.device)
        model = self.model_.to(device)
        chunks = []
        with torch.inference_mode():
            batches = tensor_batches(
                (windows.values, windows.observed), self.batch_size, device
            )
            n_batches = -(-len(windows) // self.batch_size)
            for x, observed in tqdm(
                batches, total=n_batches, desc="imputing", disable=not self.verbose
            ):
                out = model(x, observed)
                if self.reconstruction == "time":
                    scaled = out.time
                elif self.reconstruction == "fft_time":
                    scaled = out.fft_time
                else:
                    scaled = (out.time + out.fft_time) / 2
                chunks.append((scaled * out.scale + out.loc).double().cpu().numpy())
        return np.concatenate(chunks)
