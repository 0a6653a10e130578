"""Length policy: fit any series to an encoder's fixed context.

* **Shorter than the context**: left-padded. The series ends at the end of the
  window, and the padding is marked unobserved, so the encoder treats it as
  masked (RevIN statistics ignore it, whole padded patches become the mask
  token).
* **Longer than the context**: cut into ``ceil(length / context)`` windows
  spread evenly from the start to the end (the first starts at 0, the last
  ends at the last point; neighbours overlap when the length is not a multiple
  of the context). Their embeddings are averaged (:func:`pool_windows`).

Why windows and not resampling: the encoder was pretrained at its native
sampling rate, and its FFT heads and patch size are tied to it; resampling a
long series to the context would change every period and drop fine detail,
while windows keep the data as seen in pretraining, lose nothing, and cost time
linear in the length.
"""

from __future__ import annotations

import numpy as np

from sslts._validation import Panel, Series

__all__ = [
    "ContextWindows",
    "SlidingWindows",
    "context_windows",
    "points_from_windows",
    "pool_windows",
    "sliding_windows",
]


class ContextWindows:
    """Windows of a panel at the encoder's context length.

    Attributes
    ----------
    values : ndarray (n_windows, n_channels, context), float32
    observed : ndarray of bool, same shape
    owner : ndarray of int (n_windows,)
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


def context_windows(panel: Panel, context: int) -> ContextWindows:
    """Apply the length policy to every series of ``panel``.

    Examples
    --------
    >>> import numpy as np
    >>> from sslts._validation import Panel, Series
    >>> panel = Panel(np.ones((2, 1, 10), np.float32), None, np.array([10, 10]))
    >>> w = context_windows(panel, context=4)
    >>> w.values.shape, w.owner.tolist()
    ((6, 1, 4), [0, 0, 0, 1, 1, 1])
    """
    observed = (
        np.ones(panel.values.shape, bool) if panel.observed is None else panel.observed
    )
    parts_v, parts_o, parts_owner = [], [], []
    for length in np.unique(panel.lengths):
        rows = np.flatnonzero(panel.lengths == length)
        v, o = _group_windows(panel.values[rows], observed[rows], int(length), context)
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
    """Average window embeddings per series: ``(n_windows, ...) -> (n_instances, ...)``."""
    sums = np.zeros((n_instances, *embeddings.shape[1:]), dtype=np.float64)
    np.add.at(sums, owner, embeddings)
    counts = np.bincount(owner, minlength=n_instances).reshape(-1, *[1] * (embeddings.ndim - 1))
    return (sums / counts).astype(np.float32)


class SlidingWindows:
    """Sliding windows over one series, channel-major for the encoders.

    Attributes
    ----------
    values : ndarray (n_windows, n_channels, length), float32
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


def sliding_windows(series: Series, length: int, stride: int) -> SlidingWindows:
    """Cut ``series`` into windows of ``length`` points, ``stride`` apart.

    Every point is covered: the last window always ends at the last point
    (so the final stride may be shorter). A series shorter than ``length``
    gives one left-padded window, its padding unobserved.

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
