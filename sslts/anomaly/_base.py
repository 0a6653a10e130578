"""The contract shared by every series anomaly detector (pyod conventions).

A detector takes one series, ``(n_timepoints,)`` or ``(n_timepoints,
n_channels)``, and returns one score per time point, higher meaning more
anomalous. Every detector here is *channel-independent*: it scores each
channel on its own (raw scores, in the detector's own units), and the base
class turns those into one score per point:

1. each channel's raw scores are standardised with robust statistics of the
   channel's raw scores on the fit series, ``(raw - median) / IQR`` (the
   interquartile range; 1 where it is 0), so channels of different scales and
   noise levels weigh the same;
2. the point score is the **mean** of the standardised channel scores.

A detector may replace either step (``_channel_scale``, ``_combine``):
:class:`~sslts.anomaly.TSPulseAnomalyDetector` uses :func:`channel_spread`
and, by default, the maximum over channels.

The standardised per-channel scores are kept (:meth:`channel_scores`,
``channel_scores_``), so a user can see which channel raised an alarm.
"""

from __future__ import annotations

import numbers
from typing import Any, ClassVar

import numpy as np
from scipy.special import erf
from sklearn.utils.validation import check_is_fitted, column_or_1d

from sslts._base import BaseTorchEstimator
from sslts._params import Interval, Options, check_choice, check_int
from sslts._validation import Series

__all__ = [
    "BaseSeriesDetector",
    "channel_spread",
    "estimate_period",
    "resolve_window",
    "robust_scale",
]

#: a spread at most this fraction of ``1 + |level|`` is float32 rounding noise
FLAT_TOLERANCE = 1e-4

_PROBA_METHODS = ("linear", "unify")

#: ``window`` of the window-based detectors: a length of at least 2, or "auto".
WINDOW_CONSTRAINT = [
    Interval(numbers.Integral, 2, None, closed="left"),
    Options(("auto",)),
]


class BaseSeriesDetector(BaseTorchEstimator):
    """Base class of the series-in, point-scores-out anomaly detectors.

    ``fit`` is the template of :class:`~sslts._base.BaseTorchEstimator`: the
    declared ``_parameter_constraints`` (here ``contamination``, in (0, 0.5])
    are checked, then ``X`` goes through the series gate
    (:func:`sslts._validation.check_series`: ``(n_timepoints,)``,
    ``(n_timepoints, n_channels)``, a ``pd.Series`` or a time-major
    ``pd.DataFrame``). Subclasses implement ``_fit_scorer(series, y)`` (learn
    from the fit series and return its raw per-channel scores
    ``(n_timepoints, n_channels)``) and ``_raw_scores(series)`` (raw
    per-channel scores of any series). The base class standardises and
    combines channels (see the module docstring), sets the pyod attributes
    and provides ``predict`` and ``predict_proba``; ``_channel_scale(raw)``
    (the per-channel scale of the fit scores, default :func:`robust_scale`)
    and ``_combine(channel_scores)`` (one score per point, default the mean)
    may be overridden. Every score it returns or
    stores is checked to be finite (a ``FloatingPointError`` otherwise).

    ``y`` is read only by detectors whose ``_uses_labels()`` is true (then
    checked to hold one 0/1 label per time point); the others ignore it.

    Attributes
    ----------
    decision_scores_ : ndarray of shape (n_timepoints,), float64
        Scores of the fit series.
    threshold_ : float
        The ``1 - contamination`` quantile of ``decision_scores_``.
    labels_ : ndarray of shape (n_timepoints,), int
        1 where ``decision_scores_ > threshold_``.
    channel_scores_ : ndarray of shape (n_timepoints, n_channels), float64
        Standardised per-channel scores of the fit series.
    n_features_in_ : int
        Channels of the fit series.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **BaseTorchEstimator._parameter_constraints,
        "contamination": [Interval(numbers.Real, 0, 0.5, closed="right")],
    }
    _input_kind = "series"
    _allow_nan = False

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        return tags

    # ------------------------------------------------------------ subclasses
    def _fit_scorer(self, series: Series, y: np.ndarray | None) -> np.ndarray:
        raise NotImplementedError

    def _raw_scores(self, series: Series) -> np.ndarray:
        raise NotImplementedError

    # --------------------------------------------------------------- fitting
    def _fit(self, series: Series, y: np.ndarray | None) -> None:
        """Learn what normal looks like from ``series`` and score it."""
        raw = self._fit_scorer(series, y)
        self.channel_center_ = np.median(raw, axis=0)
        self.channel_scale_ = self._channel_scale(raw)
        self.channel_scores_ = self._finite(self._standardise(raw), "fit")
        self.decision_scores_ = self._finite(self._combine(self.channel_scores_), "fit")
        self.threshold_ = float(
            np.quantile(self.decision_scores_, 1.0 - self.contamination)
        )
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)

    def _channel_scale(self, raw: np.ndarray) -> np.ndarray:
        """Per-channel scale of the fit series' raw scores ``(n_timepoints, n_channels)``."""
        return robust_scale(raw)

    def _combine(self, channel_scores: np.ndarray) -> np.ndarray:
        """One score per point from the standardised channel scores: their mean."""
        return channel_scores.mean(axis=1)

    def _uses_labels(self) -> bool:
        """Whether ``fit`` reads ``y`` (checked then); other detectors ignore it."""
        return False

    def _check_y(self, y: Any, series: Series) -> np.ndarray | None:
        """0/1 labels, one per time point, for detectors that read them; else None."""
        if y is None or not self._uses_labels():
            return None
        labels = column_or_1d(y, warn=True)
        if labels.shape[0] != series.n_timepoints:
            raise ValueError(
                f"y must hold one label per time point ({series.n_timepoints}); "
                f"got {labels.shape[0]}"
            )
        if not np.isin(labels, (0, 1)).all():
            raise ValueError(
                "y must hold 0 (normal) or 1 (anomaly) for each time point"
            )
        return labels.astype(int)

    def _standardise(self, raw: np.ndarray) -> np.ndarray:
        return (raw - self.channel_center_) / self.channel_scale_

    # --------------------------------------------------------------- scoring
    def _validated(self, X: Any) -> Series:
        check_is_fitted(self, "decision_scores_")
        return self._check_X(X, reset=False)

    def _channel_scores(self, X: Any, method: str) -> np.ndarray:
        """Standardised channel scores of ``X``, checked finite on behalf of ``method``."""
        return self._finite(
            self._standardise(self._raw_scores(self._validated(X))), method
        )

    def channel_scores(self, X: Any) -> np.ndarray:
        """Standardised anomaly scores of each channel of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_timepoints,) or (n_timepoints, n_channels)

        Returns
        -------
        ndarray of shape (n_timepoints, n_channels), float64

        Raises
        ------
        FloatingPointError
            If a score is not finite.
        """
        return self._channel_scores(X, "channel_scores")

    def decision_function(self, X: Any) -> np.ndarray:
        """Anomaly score of every time point of ``X`` (higher = more anomalous).

        Parameters
        ----------
        X : array-like of shape (n_timepoints,) or (n_timepoints, n_channels)
            Same channel count as the fit series; any length.

        Returns
        -------
        ndarray of shape (n_timepoints,), float64
            :meth:`channel_scores` combined over channels (their mean, unless
            the detector says otherwise).

        Raises
        ------
        FloatingPointError
            If a score is not finite.
        """
        scores = self._combine(self._channel_scores(X, "decision_function"))
        return self._finite(scores, "decision_function")

    def predict(self, X: Any) -> np.ndarray:
        """1 for points scored above ``threshold_``, else 0.

        Parameters
        ----------
        X : array-like of shape (n_timepoints,) or (n_timepoints, n_channels)
            The series to label, with the channel count seen in ``fit``.

        Returns
        -------
        ndarray of shape (n_timepoints,), int
        """
        return (self.decision_function(X) > self.threshold_).astype(int)

    def predict_proba(self, X: Any, method: str = "linear") -> np.ndarray:
        """Probability of each point being normal (column 0) or anomalous (column 1).

        Parameters
        ----------
        X : array-like of shape (n_timepoints,) or (n_timepoints, n_channels)
        method : {"linear", "unify"}, default="linear"
            ``"linear"``: scores min-max scaled with the range of
            ``decision_scores_`` and clipped to [0, 1]. ``"unify"``: the
            Gaussian scaling of Kriegel et al. (2011),
            ``max(0, erf((s - mean) / (std * sqrt(2))))`` with the mean and
            standard deviation of ``decision_scores_``.

        Returns
        -------
        ndarray of shape (n_timepoints, 2), float64
            Rows sum to 1.
        """
        check_choice("method", method, _PROBA_METHODS)
        scores = self.decision_function(X)
        train = self.decision_scores_
        if method == "linear":
            low, high = train.min(), train.max()
            span = high - low if high > low else 1.0
            anomalous = np.clip((scores - low) / span, 0.0, 1.0)
        else:
            std = train.std() if train.std() > 0 else 1.0
            anomalous = np.clip(
                erf((scores - train.mean()) / (std * np.sqrt(2))), 0.0, 1.0
            )
        return self._finite(
            np.column_stack([1.0 - anomalous, anomalous]), "predict_proba"
        )


def robust_scale(raw: np.ndarray) -> np.ndarray:
    """Interquartile range of each column of ``raw``, 1 where it (nearly) vanishes."""
    iqr = np.subtract(*np.percentile(raw, [75, 25], axis=0))
    median = np.abs(np.median(raw, axis=0))
    return np.where(iqr > 1e-12 * np.maximum(1.0, median), iqr, 1.0)


def channel_spread(raw: np.ndarray) -> np.ndarray:
    """Interquartile range of each column of ``raw``, made safe where it is noise.

    A column whose IQR is at most ``1e-4 * (1 + |median|)`` is *flat*: its
    values sit on one level up to float32 rounding (a channel constant in the
    fit series, or one that changes in a few windows only), and dividing by
    that IQR would blow rounding noise up into huge scores. A flat column
    gets 1.349 standard deviations (the IQR of a normal distribution) when
    those are not flat too, else the median spread of the other columns (1 if
    every column is flat). A column whose IQR is not flat is scaled as by
    :func:`robust_scale`.

    Parameters
    ----------
    raw : ndarray of shape (n_samples, n_columns)
        Scores of the fit series, one column per channel.

    Returns
    -------
    ndarray of shape (n_columns,)
        Positive scales.

    Examples
    --------
    >>> import numpy as np
    >>> raw = np.column_stack([np.arange(8.0), np.r_[np.zeros(7), 8.0], np.zeros(8)])
    >>> channel_spread(raw).round(3)
    array([3.5  , 3.569, 3.535])
    """
    tol = FLAT_TOLERANCE * (1.0 + np.abs(np.median(raw, axis=0)))
    iqr = np.subtract(*np.percentile(raw, [75, 25], axis=0))
    std = 1.349 * raw.std(axis=0)
    scale = np.where(iqr > tol, iqr, std)
    flat = (iqr <= tol) & (std <= tol)
    others = np.median(scale[~flat]) if (~flat).any() else 1.0
    return np.where(flat, others, scale)


# ------------------------------------------------------------ window length
_MIN_PERIOD, _MAX_PERIOD, _FALLBACK_PERIOD = 8, 128, 32


def estimate_period(values: np.ndarray) -> int:
    """Dominant period of a ``(n_timepoints, n_channels)`` series, clipped to 8..128.

    The autocorrelation (via FFT) is averaged over channels; the period is the
    lag of its highest peak after its first zero crossing. A series without
    such a peak (trend, noise, too short) gets 32.

    Parameters
    ----------
    values : ndarray of shape (n_timepoints, n_channels)
        The series.

    Returns
    -------
    int
        The period, in time points.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(2000)
    >>> estimate_period(np.sin(2 * np.pi * t / 50)[:, None])
    50
    """
    x = np.asarray(values, dtype=np.float64)
    x = x - x.mean(axis=0)
    n = x.shape[0]
    if n < 2 * _MIN_PERIOD:
        return _FALLBACK_PERIOD
    spectrum = np.fft.rfft(x, n=2 * n, axis=0)
    acf = np.fft.irfft(np.abs(spectrum) ** 2, axis=0)[:n]
    power = acf[0]
    acf = (
        (acf[:, power > 0] / power[power > 0]).mean(axis=1)
        if (power > 0).any()
        else acf[:, 0]
    )
    below = np.flatnonzero(acf[: n // 2] < 0)
    if below.size == 0:
        return _FALLBACK_PERIOD
    search = acf[below[0] : n // 2]
    if search.size == 0 or search.max() <= 0:
        return _FALLBACK_PERIOD
    period = int(below[0] + np.argmax(search))
    return int(np.clip(period, _MIN_PERIOD, _MAX_PERIOD))


def resolve_window(window: Any, values: np.ndarray) -> int:
    """The window length for ``window`` (an int, or ``"auto"`` = estimated period).

    The result never exceeds the series length, so tiny series still work.
    """
    if isinstance(window, str):
        check_choice("window", window, ("auto",))
        length = estimate_period(values)
    else:
        check_int("window", window, 2)
        length = int(window)
    return max(1, min(length, values.shape[0]))
