"""The one gate between user input and the estimators: any supported layout in,
a float32 panel or series (plus an observed-mask) out, or a clear error.

Panels (embedders, classifiers, early warning)
----------------------------------------------
* numpy: 3D ``(n_instances, n_channels, n_timepoints)``, or 2D
  ``(n_instances, n_timepoints)`` -- a univariate panel;
* a list or tuple of 1D ``(n_timepoints_i,)`` or 2D ``(n_channels,
  n_timepoints_i)`` arrays, possibly of unequal length (a ragged panel);
* sktime's pandas panel layouts, recognised and converted by
  :mod:`sktime.datatypes`: ``nested_univ`` (one row per instance, one column
  of ``pd.Series`` per channel), ``pd-multiindex`` (rows indexed by
  ``(instance, time)``, one column per channel) and ``df-list`` (a list of
  time-major DataFrames); a list of ``pd.Series`` is a univariate ``df-list``;
* a plain (not nested, not multi-indexed) DataFrame is a 2D table, read like
  a 2D array: one row per instance, one column per time point.

Series (anomaly detection, imputation)
--------------------------------------
One series, time running along the first axis (the pyod / pandas / sktime
convention): ``(n_timepoints,)``, ``(n_timepoints, n_channels)``, a
``pd.Series`` or a time-major ``pd.DataFrame``. A 2D input with more columns
than rows would be a series with more channels than time points -- almost
always a panel or a transposed series -- and is refused with a message that
says how to pass either.

For every layout, NaN marks a missing value (where the estimator allows it),
infinite, complex, date/time and non-numeric values are refused, and so are magnitudes
above :data:`MAX_ABS_VALUE`, beyond which the float32 arithmetic of the
models (RevIN squares values; window statistics sum squares) would overflow.
``n_features_in_`` of a fitted estimator counts *channels*.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils.validation import check_array

__all__ = [
    "MAX_ABS_VALUE",
    "Panel",
    "Series",
    "check_finite_output",
    "check_panel",
    "check_series",
]

#: Largest accepted magnitude of an input value. Window statistics square and
#: sum values in float32 (largest finite value about 3.4e38): at 1e15, sums of
#: squares over ten million points stay finite.
MAX_ABS_VALUE = 1e15


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

    def to_input(self) -> np.ndarray | list[np.ndarray]:
        """The panel as an estimator input again, unobserved points back to NaN.

        A 3D array when every series has the full length, otherwise a list of
        ``(n_channels, length_i)`` arrays; used to hand a validated panel to
        another estimator (an embedder inside a retriever or predictor).
        """
        values = (
            self.values
            if self.observed is None
            else np.where(self.observed, self.values, np.float32(np.nan))
        )
        if (self.lengths == values.shape[2]).all():
            return values
        return [v[:, :length] for v, length in zip(values, self.lengths)]

    def subset(self, rows: np.ndarray) -> Panel:
        """The panel of the instances ``rows``."""
        observed = None if self.observed is None else self.observed[rows]
        return Panel(self.values[rows], observed, self.lengths[rows])


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


def _name(estimator: Any) -> str:
    return type(estimator).__name__


# ------------------------------------------------------------ value checks
def _refuse_sparse(X: Any) -> None:
    if sp.issparse(X):
        raise TypeError(
            "Sparse data was passed for X, but dense data is required. "
            "Use '.toarray()' to convert to a dense numpy array."
        )


def _numeric(X: Any, name: str, allow_nan: bool, ensure_2d: bool, estimator: Any) -> np.ndarray:
    """``X`` as float64 with sklearn's checks, complex and huge values refused."""
    _refuse_sparse(X)
    raw = X if isinstance(X, (pd.DataFrame, pd.Series)) else _as_array(X, name)
    dtype = getattr(raw, "dtypes", getattr(raw, "dtype", None))
    kinds = [d.kind for d in dtype] if isinstance(dtype, pd.Series) else [getattr(dtype, "kind", "")]
    if "c" in kinds:
        raise ValueError(
            f"Complex data not supported: {name} got complex values. Pass the real part, "
            "the magnitude, or both as separate channels."
        )
    if "M" in kinds or "m" in kinds:
        raise ValueError(
            f"{name} got dates or time spans (datetime64/timedelta64) as values; pass "
            "the measurements as numbers (time stamps belong in the index)."
        )
    try:
        arr = check_array(
            X,
            dtype=np.float64,
            allow_nd=True,
            ensure_2d=ensure_2d,
            ensure_all_finite="allow-nan" if allow_nan else True,
            ensure_min_samples=1,
            ensure_min_features=1,
            estimator=estimator,
            input_name="X",
        )
    except OverflowError as exc:  # Python integers beyond the float range
        raise ValueError(
            f"{name} got a value too large for a float ({exc}); the models accept "
            f"magnitudes up to {MAX_ABS_VALUE:.0e}. Rescale X."
        ) from exc
    with np.errstate(invalid="ignore"):
        peak = np.nanmax(np.abs(arr)) if arr.size and not np.isnan(arr).all() else 0.0
    if peak > MAX_ABS_VALUE:
        raise ValueError(
            f"{name} got values of magnitude up to {peak:.3g}; the models compute in "
            f"float32 and accept magnitudes up to {MAX_ABS_VALUE:.0e} (beyond, squares "
            "and sums overflow). Rescale X, e.g. divide it by a power of ten."
        )
    return arr


def _as_array(X: Any, name: str) -> np.ndarray:
    """``np.asarray(X)``, with a clear message for nested sequences of unequal lengths."""
    try:
        return np.asarray(X)
    except ValueError as exc:
        if "inhomogeneous" not in str(exc):
            raise
        raise ValueError(
            f"{name} could not read X as an array: its nested sequences differ in length "
            f"({exc}). Series of different lengths are passed as a list of 1D "
            "(n_timepoints,) or 2D (n_channels, n_timepoints) arrays, whose channels "
            "have one length per series."
        ) from exc


# ---------------------------------------------------------------- layouts
def _is_pandas_panel(X: Any) -> bool:
    """A nested or multi-indexed DataFrame, or a list of pandas objects."""
    if isinstance(X, pd.DataFrame):
        if isinstance(X.index, pd.MultiIndex):
            return True
        objects = [c for c, dtype in X.dtypes.items() if dtype == object]
        return bool(objects) and len(X) > 0 and isinstance(X[objects[0]].iloc[0], pd.Series)
    if isinstance(X, (list, tuple)) and X:
        return any(isinstance(x, (pd.Series, pd.DataFrame)) for x in X)
    return False


def _from_pandas_panel(X: Any, name: str) -> np.ndarray | list[np.ndarray]:
    """Convert an sktime pandas panel layout through :mod:`sktime.datatypes`.

    Returns a 3D array, or a list of ``(n_channels, n_timepoints_i)`` arrays
    when the series differ in length.
    """
    from sktime.datatypes import check_is_mtype, convert_to

    if isinstance(X, (list, tuple)):
        if not all(isinstance(x, (pd.Series, pd.DataFrame)) for x in X):
            raise TypeError(
                f"{name} got a list mixing pandas objects with other types; pass a list "
                "of pd.Series (univariate) or of time-major pd.DataFrame (df-list)"
            )
        X = [x.to_frame() if isinstance(x, pd.Series) else x for x in X]
        candidates = ["df-list"]
    elif isinstance(X.index, pd.MultiIndex):
        candidates = ["pd-multiindex"]
        _check_multiindex(X, name)
    else:
        candidates = ["nested_univ"]
        _check_nested_cells(X, name)
    try:
        valid, messages, metadata = check_is_mtype(
            X, mtype=candidates, scitype="Panel", return_metadata=["is_equal_length"],
            msg_return_dict="dict",
        )
        if not valid:
            details = "; ".join(f"{k}: {v}" for k, v in dict(messages).items())
            raise ValueError(details)
        if metadata["is_equal_length"]:
            return np.asarray(convert_to(X, to_type="numpy3D", as_scitype="Panel"))
        frames = convert_to(X, to_type="df-list", as_scitype="Panel")
    except Exception as exc:  # sktime fails on malformed input in many ways
        raise ValueError(
            f"{name} could not read X as the sktime panel layout {candidates[0]!r}: "
            f"{exc}"
        ) from exc
    return [frame.to_numpy().T for frame in frames]


def _check_multiindex(X: pd.DataFrame, name: str) -> None:
    """A ``pd-multiindex`` frame has two index levels (instance, time), none missing."""
    layout = (
        f"{name} read X as the sktime panel layout 'pd-multiindex' (rows indexed by "
        "(instance, time), one column per channel)"
    )
    if X.index.nlevels != 2:
        raise ValueError(f"{layout}, but its index has {X.index.nlevels} levels, not 2")
    if X.index.to_frame().isna().to_numpy().any():
        raise ValueError(f"{layout}, but some instance or time labels are missing (NaN)")


def _check_nested_cells(X: pd.DataFrame, name: str) -> None:
    """Every cell of a ``nested_univ`` frame is a ``pd.Series``, one length per row.

    sktime checks neither, and converts channels of different lengths by
    cutting them to the first channel's length.
    """
    layout = (
        f"{name} read X as the sktime panel layout 'nested_univ' (one row per "
        "instance, one pd.Series per channel)"
    )
    lengths = []
    for column in X.columns:
        cells = X[column].tolist()
        for row, cell in enumerate(cells):
            if not isinstance(cell, pd.Series):
                raise TypeError(
                    f"{layout}, but the cell in row {row}, column {column!r} is a "
                    f"{type(cell).__name__}, not a pd.Series"
                )
        lengths.append([len(cell) for cell in cells])
    by_row = np.array(lengths).T  # (rows, channels)
    uneven = np.flatnonzero(by_row.min(axis=1) != by_row.max(axis=1))
    if uneven.size:
        row = int(uneven[0])
        raise ValueError(
            f"{layout}, but the channels of row {row} differ in length "
            f"({by_row[row].tolist()}); give the channels of one instance equal "
            "lengths (NaN marks missing values)"
        )


def _refuse_panel_shape(X: Any, name: str) -> None:
    if isinstance(X, (list, tuple)) and len(X) == 0:
        raise ValueError(f"{name} got an empty list: X holds no series")
    if isinstance(X, (list, tuple)):
        one_d = all(np.isscalar(x) for x in X)
    else:
        one_d = isinstance(X, pd.Series) or np.asarray(X).ndim == 1
    if one_d:
        raise ValueError(
            f"{name} expects a panel of series, but X is 1D (shape {np.shape(X)}). "
            "Reshape your data: X[None, :] for one series (one instance), or a 2D array "
            "(n_instances, n_timepoints) for many univariate series of equal length."
        )


def _panel_series(X: Any, name: str, allow_nan: bool, estimator: Any) -> np.ndarray | list:
    """``X`` as a float64 3D array or a list of float64 ``(n_channels, n_i)`` arrays."""
    _refuse_sparse(X)
    _refuse_panel_shape(X, name)
    if _is_pandas_panel(X):
        X = _from_pandas_panel(X, name)
    if isinstance(X, (list, tuple)) and _is_ragged(X):
        series = []
        for i, x in enumerate(X):
            _refuse_sparse(x)
            x = _as_array(x, f"{name} (series {i})")
            if np.ndim(x) not in (1, 2):
                raise ValueError(
                    f"{name}: each series in a list must be 1D (n_timepoints,) or 2D "
                    f"(n_channels, n_timepoints); series {i} has shape {np.shape(x)}"
                )
            series.append(_numeric(np.atleast_2d(x), name, allow_nan, True, estimator))
        channels = sorted({s.shape[0] for s in series})
        if len(channels) > 1:
            raise ValueError(
                f"{name}: all series must have the same number of channels; got {channels}"
            )
        return series
    arr = _numeric(X, name, allow_nan, True, estimator)
    if arr.ndim == 2:
        arr = arr[:, None, :]
    elif arr.ndim != 3:
        raise ValueError(
            f"{name} expects a 2D (n_instances, n_timepoints) or 3D "
            f"(n_instances, n_channels, n_timepoints) array; got shape {arr.shape}"
        )
    if 0 in arr.shape:
        raise ValueError(f"{name} got zero-length series or zero channels: shape {arr.shape}")
    return arr


def _is_ragged(X: list | tuple) -> bool:
    """True for a list/tuple of series whose shapes differ."""
    if not all(isinstance(x, (np.ndarray, list, tuple)) or sp.issparse(x) for x in X):
        return False
    try:
        shapes = {np.shape(x) for x in X}
    except ValueError:  # a series that is itself ragged
        return True
    return len(shapes) > 1


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


def check_panel(X: Any, *, estimator: Any, reset: bool, allow_nan: bool = False) -> Panel:
    """Validate ``X`` and return it as a :class:`Panel`.

    Parameters
    ----------
    X : array-like, list of arrays, or sktime pandas panel
        See the module docstring for the layouts.
    estimator : estimator instance
        Named in error messages; with ``reset=True`` its ``n_features_in_``
        (channels) and ``n_timepoints_`` (longest series) are set, with
        ``reset=False`` the channel count is checked against them.
    reset : bool
        True in ``fit``, False in ``transform``/``predict``.
    allow_nan : bool
        Whether NaN marks missing values (they become unobserved points).

    Returns
    -------
    Panel

    Raises
    ------
    TypeError
        For sparse input, a list mixing pandas and other objects, or a
        ``nested_univ`` frame with a cell that is not a ``pd.Series``.
    ValueError
        For 1D input, empty lists, arrays of more than 3 dimensions, empty or
        zero-length series, non-numeric, complex, date/time, infinite or too
        large values, NaN when not allowed, series with no observed value, a
        pandas layout sktime does not recognise (or a ``nested_univ`` row
        whose channels differ in length), or a channel count different from
        the one seen in fit.
    """
    name = _name(estimator)
    panel = _to_panel(_panel_series(X, name, allow_nan, estimator))
    if panel.observed is not None:
        empty = ~panel.observed.any(axis=2)
        if empty.any():
            i, c = np.argwhere(empty)[0]
            raise ValueError(
                f"{name} got a series with no observed value (instance {i}, channel {c}); "
                "drop it or fill it before calling"
            )
    _check_channels(panel.n_channels, estimator, reset)
    if reset:
        estimator.n_timepoints_ = int(panel.lengths.max())
    return panel


def _check_channels(n_channels: int, estimator: Any, reset: bool) -> None:
    if reset:
        estimator.n_features_in_ = n_channels
        return
    expected = getattr(estimator, "n_features_in_", None)
    if expected is not None and n_channels != expected:
        raise ValueError(
            f"X has {n_channels} channel(s), but {_name(estimator)} was fitted with "
            f"{expected} channel(s)"
        )


def _looks_like_panel(X: Any) -> bool:
    if _is_pandas_panel(X):
        return True
    if isinstance(X, (pd.DataFrame, pd.Series)):
        return False
    if isinstance(X, (list, tuple)) and X and _is_ragged(X):
        return True
    return np.asarray(X).ndim == 3


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
        Time runs along the first axis; a ``pd.Series`` or a time-major
        ``pd.DataFrame`` is accepted.
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
        For panel layouts (3D arrays, lists of series, nested or
        multi-indexed DataFrames), 2D input with more columns than rows, a
        series shorter than ``min_length``, zero channels, non-numeric,
        complex, date/time, infinite or too large values, NaN when not allowed, a
        channel that is entirely missing, or a channel count different from
        ``fit``.
    """
    name = _name(estimator)
    _refuse_sparse(X)
    if _looks_like_panel(X):
        raise ValueError(
            f"{name} takes one series, (n_timepoints,) or (n_timepoints, n_channels), "
            "but X is a panel of several series. Call it once per series."
        )
    arr = _numeric(X, name, allow_nan, False, estimator)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(
            f"{name} takes one series of shape (n_timepoints,) or (n_timepoints, "
            f"n_channels); got shape {arr.shape}"
        )
    n_timepoints, n_channels = arr.shape
    if n_channels == 0:
        raise ValueError(f"{name} got a series with zero channels: shape {arr.shape}")
    if n_channels > n_timepoints:
        raise ValueError(
            f"{name} read X of shape {arr.shape} as one series of {n_timepoints} time "
            f"point(s) and {n_channels} channels (time runs along the first axis), which "
            "has more channels than time points. For one series stored channels-first "
            "pass X.T; for a panel of series call the detector once per series."
        )
    if n_timepoints < min_length:
        raise ValueError(
            f"{name} needs a series of at least {min_length} time points; got {n_timepoints}"
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
        arr = np.where(nan, 0.0, arr)
    _check_channels(n_channels, estimator, reset)
    return Series(values=np.ascontiguousarray(arr, dtype=np.float32), observed=observed)


def check_finite_output(values: np.ndarray, estimator: Any, method: str) -> np.ndarray:
    """Return ``values`` unchanged, or raise if any is NaN or infinite.

    The last line of every estimator's output path: no estimator returns
    non-finite numbers silently.

    Raises
    ------
    FloatingPointError
        Naming the estimator and the method.
    """
    values = np.asarray(values)
    if np.issubdtype(values.dtype, np.number) and not np.isfinite(values).all():
        bad = int(np.size(values) - np.isfinite(values).sum())
        raise FloatingPointError(
            f"{_name(estimator)}.{method} produced {bad} non-finite value(s); the input "
            "is probably outside the range the model can represent (extreme magnitudes "
            "or a degenerate series). Rescale or clean X."
        )
    return values
