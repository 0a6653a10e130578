"""The one place that turns user input into a float32 panel, or raises.

Accepted input
--------------
* a 2D array-like ``(n_instances, n_timepoints)``: a univariate panel;
* a 3D array-like ``(n_instances, n_channels, n_timepoints)``;
* a list or tuple of 1D ``(n_timepoints_i,)`` or 2D ``(n_channels, n_timepoints_i)``
  arrays of possibly unequal length (a ragged panel).

``n_features_in_`` of a fitted estimator counts *channels* (1 for 2D input),
because the columns of a 2D panel are time points, not features; series
lengths may differ between ``fit`` and ``transform`` (see
:func:`sslts.data.windows.context_windows` for the length policy).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_array

__all__ = ["Panel", "Series", "check_panel", "check_series"]


@dataclass(frozen=True)
class Panel:
    """A validated panel, right-padded to its longest series.

    Attributes
    ----------
    values : ndarray of shape (n_instances, n_channels, max_length), float32
        Series values; missing or padded points hold 0.
    observed : ndarray of bool, same shape, or None
        False where a value is missing (NaN) or padding; None when every
        point is observed.
    lengths : ndarray of int, shape (n_instances,)
        Length of each series (padding excluded).
    """

    values: np.ndarray
    observed: np.ndarray | None
    lengths: np.ndarray

    @property
    def n_instances(self) -> int:
        return self.values.shape[0]

    @property
    def n_channels(self) -> int:
        return self.values.shape[1]


@dataclass(frozen=True)
class Series:
    """A validated single (possibly multivariate) series, time-major.

    Attributes
    ----------
    values : ndarray of shape (n_timepoints, n_channels), float32
        Missing points hold 0.
    observed : ndarray of bool, same shape, or None
        False where a value is missing (NaN); None when all are observed.
    """

    values: np.ndarray
    observed: np.ndarray | None

    @property
    def n_timepoints(self) -> int:
        return self.values.shape[0]

    @property
    def n_channels(self) -> int:
        return self.values.shape[1]


def _estimator_name(estimator: Any) -> str:
    return type(estimator).__name__


def _check_one(x: Any, allow_nan: bool, estimator: Any) -> np.ndarray:
    """Validate one series of a ragged panel and return it as (channels, time)."""
    if sp.issparse(x):
        raise TypeError(
            "Sparse data was passed, but dense data is required. "
            "Use '.toarray()' to convert to a dense numpy array."
        )
    arr = np.asarray(x)
    if arr.ndim not in (1, 2):
        raise ValueError(
            "each series in a list must be 1D (n_timepoints,) or 2D "
            f"(n_channels, n_timepoints); got an array with shape {arr.shape}"
        )
    arr = check_array(
        np.atleast_2d(arr),
        dtype=np.float32,
        ensure_all_finite="allow-nan" if allow_nan else True,
        ensure_min_samples=1,
        ensure_min_features=1,
        estimator=estimator,
        input_name="X",
    )
    return arr


def _is_ragged(X: Any) -> bool:
    """True for a list/tuple of series whose shapes differ."""
    if not isinstance(X, (list, tuple)) or not X:
        return False
    if not all(isinstance(x, (np.ndarray, list, tuple)) or sp.issparse(x) for x in X):
        return False
    try:
        shapes = {np.shape(x) for x in X}
    except ValueError:  # a series that is itself ragged
        return True
    return len(shapes) > 1


def _from_list(X: list | tuple, allow_nan: bool, estimator: Any) -> list[np.ndarray]:
    series = [_check_one(x, allow_nan, estimator) for x in X]
    channels = {s.shape[0] for s in series}
    if len(channels) > 1:
        raise ValueError(
            f"all series must have the same number of channels; got {sorted(channels)}"
        )
    return series


def check_panel(
    X: Any,
    *,
    estimator: Any,
    reset: bool,
    allow_nan: bool = False,
) -> Panel:
    """Validate ``X`` and return it as a :class:`Panel`.

    Parameters
    ----------
    X : array-like or list of array-like
        See the module docstring.
    estimator : estimator instance
        Named in error messages; with ``reset=True`` its ``n_features_in_``
        (channels) and ``n_timepoints_`` (longest series) are set, with
        ``reset=False`` the channel count is checked against them.
    reset : bool
        True in ``fit``, False in ``transform``/``predict``.
    allow_nan : bool
        Whether NaN marks missing values (they become unobserved points).
        Infinite values are always rejected.

    Returns
    -------
    Panel

    Raises
    ------
    TypeError
        For sparse input.
    ValueError
        For 1D or >3D arrays, empty input, zero-length series, non-numeric
        values, infinite values, NaN when not allowed, series with no
        observed value, or a channel count different from the one seen in fit.
    """
    name = _estimator_name(estimator)
    if _is_ragged(X):
        series = _from_list(X, allow_nan, estimator)
    else:
        if sp.issparse(X):
            raise TypeError(
                "Sparse data was passed for X, but dense data is required. "
                "Use '.toarray()' to convert to a dense numpy array."
            )
        arr = check_array(
            X,
            dtype=np.float32,
            allow_nd=True,
            ensure_all_finite="allow-nan" if allow_nan else True,
            ensure_min_samples=1,
            ensure_min_features=1,
            estimator=estimator,
            input_name="X",
        )
        if arr.ndim == 2:
            arr = arr[:, None, :]
        elif arr.ndim != 3:
            raise ValueError(
                f"{name} expects a 2D (n_instances, n_timepoints) or 3D "
                f"(n_instances, n_channels, n_timepoints) array; got shape {arr.shape}"
            )
        if arr.shape[1] == 0 or arr.shape[2] == 0:
            raise ValueError(
                f"{name} got zero-length series or zero channels: shape {arr.shape}"
            )
        series = arr
    panel = _to_panel(series)
    _check_observed(panel, name)
    _check_channels(panel, estimator, reset)
    return panel


def _to_panel(series: np.ndarray | list[np.ndarray]) -> Panel:
    if isinstance(series, np.ndarray):
        values = np.ascontiguousarray(series, dtype=np.float32)
        lengths = np.full(values.shape[0], values.shape[2])
        observed = None
    else:
        lengths = np.array([s.shape[1] for s in series])
        values = np.zeros((len(series), series[0].shape[0], lengths.max()), np.float32)
        observed = np.zeros(values.shape, dtype=bool)
        for i, s in enumerate(series):
            values[i, :, : s.shape[1]] = s
            observed[i, :, : s.shape[1]] = True
    nan = np.isnan(values)
    if nan.any():
        observed = ~nan if observed is None else observed & ~nan
        values = np.where(nan, np.float32(0), values)
    return Panel(values=values, observed=observed, lengths=lengths)


def _check_observed(panel: Panel, name: str) -> None:
    if panel.observed is None:
        return
    empty = ~panel.observed.any(axis=2)
    if empty.any():
        i, c = np.argwhere(empty)[0]
        raise ValueError(
            f"{name} got a series with no observed value (instance {i}, channel {c}); "
            "drop it or fill it before calling"
        )


def _check_channels(panel: Panel, estimator: Any, reset: bool) -> None:
    if reset:
        estimator.n_features_in_ = panel.n_channels
        estimator.n_timepoints_ = int(panel.lengths.max())
        return
    expected = getattr(estimator, "n_features_in_", None)
    if expected is not None and panel.n_channels != expected:
        raise ValueError(
            f"X has {panel.n_channels} channel(s), but {_estimator_name(estimator)} "
            f"was fitted with {expected} channel(s)"
        )


def check_series(
    X: Any,
    *,
    estimator: Any,
    reset: bool,
    allow_nan: bool = False,
    min_length: int = 1,
) -> Series:
    """Validate one series for anomaly detection or imputation.

    Parameters
    ----------
    X : array-like of shape (n_timepoints,) or (n_timepoints, n_channels)
        Time runs along the first axis (pyod / pandas convention). A pandas
        Series or DataFrame is accepted.
    estimator : estimator instance
        Named in errors; with ``reset=True`` its ``n_features_in_`` is set to
        the channel count, otherwise the channel count is checked against it.
    reset : bool
        True in ``fit``, False afterwards.
    allow_nan : bool
        Whether NaN marks missing values (kept in ``observed``).
    min_length : int
        Fewest time points accepted.

    Returns
    -------
    Series

    Raises
    ------
    TypeError
        For sparse input.
    ValueError
        For a 3D array, a series shorter than ``min_length``, zero channels,
        non-numeric or infinite values, NaN when not allowed, a channel that
        is entirely missing, or a channel count different from ``fit``.
    """
    name = _estimator_name(estimator)
    if sp.issparse(X):
        raise TypeError(
            "Sparse data was passed for X, but dense data is required. "
            "Use '.toarray()' to convert to a dense numpy array."
        )
    if hasattr(X, "ndim") and X.ndim == 3 or (
        not hasattr(X, "ndim") and np.ndim(X) == 3
    ):
        raise ValueError(
            f"{name} takes one series of shape (n_timepoints,) or "
            f"(n_timepoints, n_channels); got a 3D array. Call it once per series."
        )
    arr = check_array(
        X,
        dtype=np.float32,
        ensure_2d=False,
        ensure_all_finite="allow-nan" if allow_nan else True,
        ensure_min_samples=1,
        estimator=estimator,
        input_name="X",
    )
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.shape[1] == 0:
        raise ValueError(f"{name} got a series with zero channels: shape {arr.shape}")
    if arr.shape[0] < min_length:
        raise ValueError(
            f"{name} needs a series of at least {min_length} time points; "
            f"got {arr.shape[0]}"
        )
    observed = None
    nan = np.isnan(arr)
    if nan.any():
        empty = nan.all(axis=0)
        if empty.any():
            raise ValueError(
                f"{name} got channel {int(np.flatnonzero(empty)[0])} with no observed value"
            )
        observed = ~nan
        arr = np.where(nan, np.float32(0), arr)
    if reset:
        estimator.n_features_in_ = arr.shape[1]
    else:
        expected = getattr(estimator, "n_features_in_", None)
        if expected is not None and arr.shape[1] != expected:
            raise ValueError(
                f"X has {arr.shape[1]} channel(s), but {name} was fitted with "
                f"{expected} channel(s)"
            )
    return Series(values=np.ascontiguousarray(arr), observed=observed)
