"""The early-warning protocol: (context, next-window label) pairs and chronological splits."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array

from sslts._params import check_int


def make_prediction_windows(
    series: Any,
    labels: Any,
    context: int = 100,
    horizon: int = 100,
    stride: int = 100,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut a labelled series into (context window, next-window label) pairs.

    Pair ``i`` starts at ``s = i * stride``: its context window is
    ``series[s : s + context]`` and its label is 1 if any point of
    ``labels[s + context : s + context + horizon]`` is anomalous. With the
    defaults (100/100/100) the context windows are consecutive and
    non-overlapping and each label belongs to the next context window, as in
    the MTS-JEPA protocol. Trailing points that do not fill a whole pair are
    dropped.

    Parameters
    ----------
    series : array-like of shape (n_timepoints,) or (n_timepoints, n_channels)
        The series, time along the first axis. NaN is kept (for encoders that
        mask missing values); infinite values are rejected.
    labels : array-like of shape (n_timepoints,)
        Point labels, 0 (normal) or 1 (anomalous), aligned with ``series``.
    context : int, default=100
        Length of the context (input) window.
    horizon : int, default=100
        Length of the target window whose label is predicted.
    stride : int, default=100
        Step between the starts of consecutive pairs.

    Returns
    -------
    X : ndarray of shape (n_pairs, n_channels, context), float32
        Context windows as a panel.
    y : ndarray of shape (n_pairs,), int64
        1 where the target window following the context holds an anomaly.

    Raises
    ------
    ValueError
        For a series of more than 2 dimensions, labels that are not a 1D 0/1
        array of the series' length, non-positive window sizes, or a series
        shorter than ``context + horizon``.

    Examples
    --------
    >>> import numpy as np
    >>> series = np.arange(10.0)
    >>> labels = np.array([0, 0, 0, 0, 0, 1, 0, 0, 0, 0])
    >>> X, y = make_prediction_windows(series, labels, context=2, horizon=2, stride=2)
    >>> X[:, 0]
    array([[0., 1.],
           [2., 3.],
           [4., 5.],
           [6., 7.]], dtype=float32)
    >>> y
    array([0, 1, 0, 0])
    """
    for name, value in (("context", context), ("horizon", horizon), ("stride", stride)):
        check_int(name, value, 1)
    values = np.asarray(series)
    if values.ndim not in (1, 2):
        raise ValueError(
            "series must have shape (n_timepoints,) or (n_timepoints, n_channels); "
            f"got shape {values.shape}"
        )
    values = check_array(
        values.reshape(len(values), -1),
        dtype=np.float32,
        ensure_all_finite="allow-nan",
        ensure_min_samples=1,
        input_name="series",
    )
    y_points = np.asarray(labels)
    if y_points.ndim != 1 or len(y_points) != len(values):
        raise ValueError(
            f"labels must be a 1D array with one label per time point ({len(values)}); "
            f"got shape {y_points.shape}"
        )
    if not np.isin(y_points, (0, 1)).all():
        raise ValueError("labels must hold only 0 (normal) and 1 (anomalous)")
    n_timepoints = len(values)
    n_pairs = (n_timepoints - context - horizon) // stride + 1
    if n_timepoints < context + horizon:
        raise ValueError(
            f"the series has {n_timepoints} time points, fewer than one context + "
            f"horizon pair ({context} + {horizon})"
        )
    starts = np.arange(n_pairs) * stride
    X = np.stack([values[s : s + context].T for s in starts])
    y = np.array(
        [int(y_points[s + context : s + context + horizon].any()) for s in starts],
        dtype=np.int64,
    )
    return X, y


def chronological_split(
    X: Any, y: Any, ratios: tuple[float, float, float] = (0.6, 0.2, 0.2)
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split examples into train, validation and test parts in time order.

    Nothing is shuffled: the first ``ratios[0]`` of the examples train, the
    next ``ratios[1]`` validate, the rest test. The boundaries are
    ``round(n * ratios[0])`` and ``round(n * (ratios[0] + ratios[1]))``.

    Parameters
    ----------
    X : array-like of shape (n_examples, ...)
        Examples in time order (e.g. from :func:`make_prediction_windows`).
    y : array-like of shape (n_examples,)
        Their labels.
    ratios : tuple of three positive floats summing to 1, default=(0.6, 0.2, 0.2)
        Fractions for train, validation and test.

    Returns
    -------
    X_train, X_val, X_test, y_train, y_val, y_test : ndarray
        Ordered like :func:`sklearn.model_selection.train_test_split`.

    Raises
    ------
    ValueError
        If ``X`` and ``y`` differ in length, the ratios are not three positive
        numbers summing to 1, or a part would be empty.

    Examples
    --------
    >>> import numpy as np
    >>> X_tr, X_va, X_te, y_tr, y_va, y_te = chronological_split(np.arange(10), np.arange(10))
    >>> X_tr, X_va, X_te
    (array([0, 1, 2, 3, 4, 5]), array([6, 7]), array([8, 9]))
    """
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X and y differ in length: {len(X)} vs {len(y)}")
    if (
        len(ratios) != 3
        or not all(isinstance(r, numbers.Real) and r > 0 for r in ratios)
        or not np.isclose(sum(ratios), 1.0)
    ):
        raise ValueError(
            f"ratios must be three positive numbers summing to 1, got {ratios!r}"
        )
    n = len(X)
    first = int(round(n * ratios[0]))
    second = int(round(n * (ratios[0] + ratios[1])))
    if not 0 < first < second < n:
        raise ValueError(
            f"{n} examples are too few to split by {tuple(ratios)}: a part would be empty"
        )
    return (
        X[:first],
        X[first:second],
        X[second:],
        y[:first],
        y[first:second],
        y[second:],
    )


def make_precursor_series(
    n_timepoints: int = 20_000,
    n_channels: int = 2,
    anomaly_every: int = 500,
    precursor_length: int = 100,
    random_state: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic series whose anomalies are announced by a variance rise.

    Every channel is a slow sine plus Gaussian noise. Anomalies (a level shift
    of 20 to 50 points on every channel) start at random times, on average one
    per ``anomaly_every`` points and at least ``2 * precursor_length + 50``
    apart. During the ``precursor_length`` points before each anomaly the
    noise of every channel grows fourfold and a fast oscillation appears: the
    planted early warning.

    Parameters
    ----------
    n_timepoints : int, default=20_000
        Length of the series.
    n_channels : int, default=2
        Number of channels.
    anomaly_every : int, default=500
        Mean spacing of anomaly starts.
    precursor_length : int, default=100
        Points of precursor before each anomaly.
    random_state : int, RandomState instance or None, default=None
        Seeds the series.

    Returns
    -------
    series : ndarray of shape (n_timepoints, n_channels), float32
    labels : ndarray of shape (n_timepoints,), int64
        1 on anomalous points (the precursors are labelled 0).

    Examples
    --------
    >>> series, labels = make_precursor_series(2_000, random_state=0)
    >>> series.shape, labels.shape, bool(labels.any())
    ((2000, 2), (2000,), True)
    """
    for name, value in (
        ("n_timepoints", n_timepoints),
        ("n_channels", n_channels),
        ("anomaly_every", anomaly_every),
        ("precursor_length", precursor_length),
    ):
        check_int(name, value, 1)
    rng = check_random_state(random_state)
    t = np.arange(n_timepoints)
    phases = rng.uniform(0, 2 * np.pi, n_channels)
    periods = rng.uniform(150, 400, n_channels)
    series = np.sin(2 * np.pi * t[:, None] / periods + phases)
    noise = 0.3 * rng.normal(size=(n_timepoints, n_channels))
    labels = np.zeros(n_timepoints, dtype=np.int64)
    gap = 2 * precursor_length + 50
    start = precursor_length + rng.randint(anomaly_every)
    while start + 50 < n_timepoints:
        duration = rng.randint(20, 51)
        pre = slice(start - precursor_length, start)
        noise[pre] *= 4.0
        series[pre] += 0.8 * np.sin(2 * np.pi * t[pre, None] / 7.0)
        series[start : start + duration] += rng.choice([-3.0, 3.0])
        labels[start : start + duration] = 1
        start += gap + rng.randint(max(1, 2 * (anomaly_every - gap)))
    return (series + noise).astype(np.float32), labels


