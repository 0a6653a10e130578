"""Window featurisers for the early-warning protocol: per-window statistics and detector scores."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.base import TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from sslts._base import BaseTorchEstimator
from sslts._params import HasMethods, Options
from sslts._validation import Panel

_REDUCTIONS = ("mean", "max")


class WindowStatistics(TransformerMixin, BaseTorchEstimator):
    """Per-channel summary statistics of each window: the simple baseline.

    For each channel: mean, standard deviation, minimum, maximum and the
    least-squares slope against the time index (value change per time step).
    Features are ordered statistic-major: all means, then all standard
    deviations, and so on.

    Attributes
    ----------
    n_features_in_ : int
        Number of channels seen in ``fit`` (1 for 2D input).
    n_timepoints_ : int
        Window length seen in ``fit`` (other lengths are accepted later).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[[0.0, 1.0, 2.0, 3.0]]])
    >>> WindowStatistics().fit_transform(X).round(3)
    array([[1.5  , 1.118, 0.   , 3.   , 1.   ]], dtype=float32)
    """

    _STATISTICS = ("mean", "std", "min", "max", "slope")

    _allow_nan = False

    def _fit(self, panel: Panel, y: None) -> None:
        """Nothing to learn: ``fit`` records the channel count and length."""

    def transform(self, X: Any) -> np.ndarray:
        """Compute the statistics.

        Parameters
        ----------
        X : array-like of shape (n_windows, n_timepoints) or (n_windows, n_channels, n_timepoints)
            Windows with the channel count seen in ``fit``.

        Returns
        -------
        ndarray of shape (n_windows, 5 * n_channels), float32
        """
        check_is_fitted(self)
        panel = self._check_X(X, reset=False)
        if panel.observed is not None:
            raise ValueError("WindowStatistics needs equal-length windows without NaN")
        values = panel.values.astype(np.float64)
        t = np.arange(values.shape[2], dtype=np.float64)
        t -= t.mean()
        denominator = max(float(t @ t), 1.0)
        slope = (values - values.mean(axis=2, keepdims=True)) @ t / denominator
        features = [
            values.mean(axis=2),
            values.std(axis=2),
            values.min(axis=2),
            values.max(axis=2),
            slope,
        ]
        return self._finite(np.concatenate(features, axis=1).astype(np.float32), "transform")

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names ``"<statistic>_<channel>"``, in output order.

        Parameters
        ----------
        input_features : ignored

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self)
        return np.array(
            [f"{s}_{c}" for s in self._STATISTICS for c in range(self.n_features_in_)],
            dtype=object,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.requires_fit = True
        return tags


class WindowScorer(TransformerMixin, BaseTorchEstimator):
    """Score each window with a point-level anomaly detector: one feature per window.

    The detector follows the series-in, point-scores-out convention of
    :mod:`sslts.anomaly` (``fit(series)``, ``decision_function(series)`` ->
    one score per time point, higher = more anomalous). ``fit`` trains a clone
    of it on the training windows joined end to end along time (the windows of
    the prediction protocol are consecutive, so this is the training stretch of
    the series); ``transform`` scores every window on its own and reduces its
    point scores to one value. Used as the ``encoder`` of
    :class:`AnomalyPredictor`, this is how detection baselines (K-Means,
    DeepSVDD) enter the early-warning protocol: the context window's
    abnormality is the warning score.

    Parameters
    ----------
    detector : estimator
        Unfitted point-level detector with ``fit`` and ``decision_function``
        taking ``(n_timepoints, n_channels)`` arrays.
    reduce : {"mean", "max"}, default="mean"
        How a window's point scores become one score.

    Attributes
    ----------
    detector_ : estimator
        The fitted clone.
    n_features_in_ : int
        Number of channels seen in ``fit``.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "detector": [HasMethods(("fit", "decision_function"))],
        "reduce": [Options(_REDUCTIONS)],
    }
    _allow_nan = False

    def __init__(self, detector: Any, reduce: str = "mean") -> None:
        self.detector = detector
        self.reduce = reduce

    def _fit(self, panel: Panel, y: None) -> None:
        """Fit the detector on the windows joined along time."""
        joined = np.concatenate(list(panel.values), axis=1).T  # (n * T, C)
        self.detector_ = clone(self.detector).fit(joined)

    def transform(self, X: Any) -> np.ndarray:
        """Score each window.

        Parameters
        ----------
        X : array-like of shape (n_windows, n_timepoints) or (n_windows, n_channels, n_timepoints)
            Windows.

        Returns
        -------
        ndarray of shape (n_windows, 1)
        """
        check_is_fitted(self)
        panel = self._check_X(X, reset=False)
        reduce = np.mean if self.reduce == "mean" else np.max
        scores = [reduce(self.detector_.decision_function(w.T)) for w in panel.values]
        return self._finite(np.asarray(scores, dtype=np.float64)[:, None], "transform")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags


