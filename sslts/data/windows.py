"""Length policy: fit any series to an encoder's fixed context.

Three policies (``policy=`` of :func:`context_windows`), named by what they
do to a series shorter and to one longer than the context:

* ``"pad+windows"``: a **shorter** series is left-padded: it ends at the end
  of the window, and the padding is marked unobserved, so the encoder treats
  it as masked (RevIN statistics ignore it, whole padded patches become the
  mask token). A **longer** series is cut into ``ceil(length / context)``
  windows spread evenly from the start to the end (the first starts at 0, the
  last ends at the last point; neighbours overlap when the length is not a
  multiple of the context), whose embeddings are averaged
  (:func:`pool_windows`).
* ``"pad+resample"``: shorter series padded as above, longer ones linearly
  resampled to the context (one window).
* ``"resample"``: every series linearly resampled to the context.

A point of a resampled series is observed when the points it interpolates
are. Windows keep the data at the sampling rate seen in pretraining and lose
no detail, which is what reconstruction (anomaly scores, imputation) needs;
they are the policy of every point-wise estimator. A whole-series
*embedding* is another matter: on the 36 selection sets
(``benchmarks/dev_embedding_readout.py``) resampling tied with padding on
series shorter than the context and beat windows on longer ones by 6 points
of frozen-probe accuracy, so :class:`sslts.TSPulseEmbedder` defaults to
``"pad+resample"``.
"""

from __future__ import annotations

import numpy as np

from sslts._validation import Panel, Series

__all__ = [
    "LENGTH_POLICIES",
    "ContextWindows",
    "SlidingWindows",
    "context_windows",
    "points_from_windows",
    "pool_windows",
    "sliding_windows",
]


class ContextWindows:
    """Windows of a panel at the encoder's context length.

    The arguments are kept as attributes of the same names.

    Parameters
    ----------
    values : ndarray of shape (n_windows, n_channels, context), float32
        The windows.
    observed : ndarray of bool, same shape
        False where a value is missing or is left padding.
    owner : ndarray of int of shape (n_windows,)
        Index of the series each window comes from.
    """

    def __init__(self, values: np.ndarray, observed: np.ndarray, owner: np.ndarray):
        self.values = values
        self.observed = observed
        self.owner = owner

    def __len__(self) -> int:
        return len(self.owner)


def window_starts(length: int, context: int) -> np.ndarray:
    """Start indices of the windows covering a series of ``length`` points."""
    if length <= context:
        return np.zeros(1, dtype=int)
    n_windows = -(-length // context)
    return np.round(np.linspace(0, length - context, n_windows)).astype(int)


#: The policies of :func:`context_windows`.
LENGTH_POLICIES = ("pad+resample", "pad+windows", "resample")


def _resampled(
    values: np.ndarray, observed: np.ndarray, length: int, context: int
) -> tuple[np.ndarray, np.ndarray]:
    """Series of ``length`` points linearly resampled to ``context``: (n, 1, C, context)."""
    values, observed = values[..., :length], observed[..., :length]
    position = np.linspace(0, length - 1, context)
    left = np.floor(position).astype(int)
    right = np.minimum(left + 1, length - 1)
    weight = (position - left).astype(np.float32)
    out_v = values[..., left] * (1 - weight) + values[..., right] * weight
    # An interpolated point is observed when both of its neighbours are (or it
    # falls exactly on an observed point).
    out_o = observed[..., left] & (observed[..., right] | (weight == 0))
    return out_v[:, None].astype(np.float32), out_o[:, None]


def _group_windows(
    values: np.ndarray, observed: np.ndarray, length: int, context: int
) -> tuple[np.ndarray, np.ndarray]:
    """Windows of series that all have ``length`` points: (n, w, C, context)."""
    n, channels = values.shape[:2]
    values, observed = values[..., :length], observed[..., :length]
    if length <= context:
        pad = context - length
        out_v = np.zeros((n, 1, channels, context), np.float32)
        out_o = np.zeros((n, 1, channels, context), bool)
        out_v[:, 0, :, pad:] = values
        out_o[:, 0, :, pad:] = observed
        return out_v, out_o
    starts = window_starts(length, context)
    index = starts[:, None] + np.arange(context)
    return (
        np.moveaxis(values[..., index], 2, 1),
        np.moveaxis(observed[..., index], 2, 1),
    )


def context_windows(panel: Panel, context: int, policy: str = "pad+windows") -> ContextWindows:
    """Apply a length policy to every series of ``panel``.

    Parameters
    ----------
    panel : Panel
        A checked panel (from :mod:`sslts._validation`).
    context : int
        Window length: the encoder's context length.
    policy : {"pad+windows", "pad+resample", "resample"}, default="pad+windows"
        ``"pad+windows"``: series of at most ``context`` points become one
        left-padded window, longer ones are cut into ``ceil(length /
        context)`` windows spread evenly from their first to their last
        point. ``"pad+resample"``: longer ones are resampled to the context
        instead. ``"resample"``: every series becomes one window, linearly
        resampled (see the module docstring).

    Returns
    -------
    ContextWindows
        The windows of every series, in series order.

    Examples
    --------
    >>> import numpy as np
    >>> from sslts._validation import Panel, Series
    >>> panel = Panel(np.ones((2, 1, 10), np.float32), None, np.array([10, 10]))
    >>> w = context_windows(panel, context=4)
    >>> w.values.shape, w.owner.tolist()
    ((6, 1, 4), [0, 0, 0, 1, 1, 1])
    >>> context_windows(panel, context=4, policy="resample").values.shape
    (2, 1, 4)
    """
    if policy not in LENGTH_POLICIES:
        raise ValueError(f"policy must be one of {LENGTH_POLICIES}, got {policy!r}")
    observed = (
        np.ones(panel.values.shape, bool) if panel.observed is None else panel.observed
    )
    parts_v, parts_o, parts_owner = [], [], []
    for length in np.unique(panel.lengths):
        rows = np.flatnonzero(panel.lengths == length)
        resample = policy == "resample" or (policy == "pad+resample" and length > context)
        make = _resampled if resample else _group_windows
        v, o = make(panel.values[rows], observed[rows], int(length), context)
        parts_v.append(v.reshape(-1, *v.shape[2:]))
        parts_o.append(o.reshape(-1, *o.shape[2:]))
        parts_owner.append(np.repeat(rows, v.shape[1]))
    owner = np.concatenate(parts_owner)
    order = np.argsort(owner, kind="stable")
    return ContextWindows(
        np.ascontiguousarray(np.concatenate(parts_v)[order]),
        np.ascontiguousarray(np.concatenate(parts_o)[order]),
        owner[order],
    )


def pool_windows(embeddings: np.ndarray, owner: np.ndarray, n_instances: int) -> np.ndarray:
    """Average window embeddings per series: ``(n_windows, ...) -> (n_instances, ...)``.

    Parameters
    ----------
    embeddings : ndarray of shape (n_windows, ...)
        One row per window.
    owner : ndarray of int of shape (n_windows,)
        Index of the series each window comes from (``ContextWindows.owner``).
    n_instances : int
        Number of series.

    Returns
    -------
    ndarray of shape (n_instances, ...), float32
        The mean of each series' window rows.
    """
    sums = np.zeros((n_instances, *embeddings.shape[1:]), dtype=np.float64)
    np.add.at(sums, owner, embeddings)
    counts = np.bincount(owner, minlength=n_instances).reshape(-1, *[1] * (embeddings.ndim - 1))
    return (sums / counts).astype(np.float32)


class SlidingWindows:
    """Sliding windows over one series, channel-major for the encoders.

    The arguments are kept as attributes of the same names.

    Parameters
    ----------
    values : ndarray of shape (n_windows, n_channels, length), float32
        The windows.
    observed : ndarray of bool, same shape
        False where the series is missing or where a window reaches before
        the start of a series shorter than ``length`` (left padding).
    starts : ndarray of int (n_windows,)
        Index in the series of each window's first point (negative when the
        window is left-padded).
    n_timepoints : int
        Length of the series.
    """

    def __init__(
        self, values: np.ndarray, observed: np.ndarray, starts: np.ndarray, n_timepoints: int
    ):
        self.values = values
        self.observed = observed
        self.starts = starts
        self.n_timepoints = n_timepoints

    def __len__(self) -> int:
        return len(self.starts)

    @property
    def length(self) -> int:
        return self.values.shape[-1]

    def without_last(self, n_points: int) -> SlidingWindows:
        """The same windows without their last ``n_points`` points (same starts).

        Left-padded into the encoder's context, a shortened window meets the
        patch grid ``n_points`` later (one of the patch phases the embedding
        read-outs average over).

        Parameters
        ----------
        n_points : int
            Points dropped from the end of every window, in ``[0, length)``.

        Returns
        -------
        SlidingWindows
            Windows of ``length - n_points`` points with the same starts.

        Raises
        ------
        ValueError
            If ``n_points`` is outside ``[0, length)``.
        """
        if not 0 <= n_points < self.length:
            raise ValueError(
                f"n_points must be in [0, {self.length}) for windows of "
                f"{self.length} points, got {n_points}"
            )
        end = self.length - n_points
        return SlidingWindows(
            self.values[..., :end], self.observed[..., :end], self.starts, self.n_timepoints
        )


def sliding_windows(series: Series, length: int, stride: int) -> SlidingWindows:
    """Cut ``series`` into windows of ``length`` points, ``stride`` apart.

    Every point is covered: the last window always ends at the last point
    (so the final stride may be shorter). A series shorter than ``length``
    gives one left-padded window, its padding unobserved.

    Parameters
    ----------
    series : Series
        A checked series (from :mod:`sslts._validation`).
    length : int
        Points per window.
    stride : int
        Points between the starts of consecutive windows.

    Returns
    -------
    SlidingWindows
        The windows, their observed masks and start indices.

    Examples
    --------
    >>> import numpy as np
    >>> from sslts._validation import Series
    >>> w = sliding_windows(Series(np.zeros((10, 1), np.float32), None), length=4, stride=3)
    >>> w.starts.tolist(), w.values.shape
    ([0, 3, 6], (3, 1, 4))
    """
    if length < 1 or stride < 1:
        raise ValueError(f"length and stride must be >= 1, got {length} and {stride}")
    n = series.n_timepoints
    values = np.ascontiguousarray(series.values.T)
    observed = np.ones(values.shape, bool) if series.observed is None else series.observed.T
    if n < length:
        pad = length - n
        out_v = np.zeros((1, values.shape[0], length), np.float32)
        out_o = np.zeros((1, values.shape[0], length), bool)
        out_v[0, :, pad:], out_o[0, :, pad:] = values, observed
        return SlidingWindows(out_v, out_o, np.array([-pad]), n)
    starts = np.arange(0, n - length + 1, stride)
    if starts[-1] != n - length:
        starts = np.append(starts, n - length)
    index = starts[:, None] + np.arange(length)
    return SlidingWindows(
        np.ascontiguousarray(np.moveaxis(values[:, index], 1, 0)),
        np.ascontiguousarray(np.moveaxis(observed[:, index], 1, 0)),
        starts,
        n,
    )


def points_from_windows(
    window_values: np.ndarray,
    windows: SlidingWindows,
    *,
    per: str,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Average window values back onto the series' time points.

    Parameters
    ----------
    window_values : ndarray
        With ``per="point"``: shape ``(n_windows, ..., length)``, one value
        per window point, placed where the window lies. With
        ``per="window"``: shape ``(n_windows, ...)``, one value per window
        (and per trailing index, e.g. channel), spread over every point the
        window covers.
    windows : SlidingWindows
        The windows the values belong to.
    per : {"window", "point"}
        What ``window_values`` holds. The caller says it: a shape cannot
        tell, e.g. one value per window and channel for 16 channels looks
        like one value per point of a 16-point window.
    weights : ndarray of shape (n_windows, length), optional
        Per-window-point weights (e.g. ``windows.observed.any(axis=1)`` to
        count only observed points); uniform when omitted.

    Returns
    -------
    ndarray of shape (n_timepoints, ...), float64
        Mean over the windows covering each point (NaN where no window with a
        positive weight covers a point).

    Raises
    ------
    ValueError
        For an unknown ``per``, or ``window_values`` whose shape does not
        match it (not one row per window; with ``per="point"``, a last axis
        other than the window length).

    Examples
    --------
    >>> import numpy as np
    >>> from sslts._validation import Series
    >>> w = sliding_windows(Series(np.zeros((6, 1), np.float32), None), length=4, stride=2)
    >>> points_from_windows(np.array([1.0, 3.0]), w, per="window").tolist()
    [1.0, 1.0, 2.0, 2.0, 3.0, 3.0]
    """
    length, n = windows.length, windows.n_timepoints
    values = np.asarray(window_values, dtype=np.float64)
    if per not in ("window", "point"):
        raise ValueError(f"per must be 'window' or 'point', got {per!r}")
    if values.ndim == 0 or values.shape[0] != len(windows):
        raise ValueError(
            f"window_values must hold one row per window ({len(windows)}); "
            f"got shape {values.shape}"
        )
    if per == "window":
        values = np.repeat(values[..., None], length, axis=-1)
    elif values.ndim < 2 or values.shape[-1] != length:
        raise ValueError(
            f"per='point' needs window_values of shape (n_windows, ..., {length}) "
            f"(last axis = window length); got shape {values.shape}"
        )
    values = np.moveaxis(values, -1, 1)  # (n_windows, length, ...)
    w = np.ones((len(windows), length)) if weights is None else np.asarray(weights, float)
    index = windows.starts[:, None] + np.arange(length)
    keep = index >= 0
    extra = (1,) * (values.ndim - 2)
    sums = np.zeros((n, *values.shape[2:]))
    counts = np.zeros((n, *extra))
    np.add.at(sums, index[keep], values[keep] * w[keep].reshape(-1, *extra))
    np.add.at(counts, index[keep], w[keep].reshape(-1, *extra))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.where(counts > 0, counts, 1), np.nan)
