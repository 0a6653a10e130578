"""Anomaly-detection metrics on point scores: AUC, best F1 and VUS (numpy only).

All functions take ``y_true`` (0/1 per time point) and ``scores`` (higher = more
anomalous) of the same length, and need at least one anomalous and one normal point.

The VUS metrics follow Paparrizos et al., "Volume Under the Surface: a new accuracy
evaluation measure for time-series anomaly detection" (VLDB 2022), in the form the
TSB-AD benchmark (Liu & Paparrizos, NeurIPS 2024) computes them: for every buffer
width ``w = 0..sliding_window`` each labelled anomaly range gets soft labels
``sqrt(1 - d / w)`` on the ``w // 2`` points before and after it; range-aware TPR,
FPR and precision are evaluated at ``n_thresholds`` score thresholds taken evenly
from the sorted scores, and the areas under the range ROC and PR curves are averaged
over the widths. ``vus_pr(y, s, sliding_window=p)`` reproduces TSB-AD 1.5's
``get_metrics(s, y, slidingWindow=p)["VUS-PR"]``; TSB-AD sets ``p`` to the period
estimate that :func:`find_period` computes.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from sslts._params import check_choice, check_int

__all__ = [
    "auc_pr",
    "auc_roc",
    "best_f1",
    "find_period",
    "vus_pr",
    "vus_roc",
]


def _check_inputs(y_true, scores) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    s = np.asarray(scores, dtype=np.float64)
    if y.ndim != 1 or s.ndim != 1:
        raise ValueError(
            f"y_true and scores must be 1D, got shapes {y.shape} and {s.shape}"
        )
    if len(y) != len(s):
        raise ValueError(f"y_true has {len(y)} points but scores has {len(s)}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y_true must hold only 0 (normal) and 1 (anomaly) labels")
    y = y.astype(np.int64)
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == len(y):
        kind = "anomalous" if n_pos == 0 else "normal"
        raise ValueError(f"y_true has no {kind} point; the metric is undefined")
    if not np.isfinite(s).all():
        raise ValueError("scores contain NaN or infinite values")
    return y, s


def _curve(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative true and false positives at each distinct threshold, highest first."""
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s_sorted)), len(s) - 1]
    tps = np.cumsum(y_sorted)[last_of_tie]
    fps = last_of_tie + 1 - tps
    return tps.astype(np.float64), fps.astype(np.float64)


def auc_roc(y_true, scores) -> float:
    """Area under the ROC curve (ties handled as one threshold, trapezoidal rule).

    Parameters
    ----------
    y_true : array-like of shape (n_timepoints,)
        0/1 labels, 1 = anomaly.
    scores : array-like of shape (n_timepoints,)
        Anomaly scores, higher = more anomalous.

    Returns
    -------
    float
        Equal to ``sklearn.metrics.roc_auc_score``.

    Examples
    --------
    >>> auc_roc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    y, s = _check_inputs(y_true, scores)
    tps, fps = _curve(y, s)
    tpr = np.r_[0.0, tps / tps[-1]]
    fpr = np.r_[0.0, fps / fps[-1]]
    return float(np.trapezoid(tpr, fpr))


def auc_pr(y_true, scores) -> float:
    """Area under the precision-recall curve as average precision (step-wise sum).

    Parameters
    ----------
    y_true : array-like of shape (n_timepoints,)
        0/1 labels, 1 = anomaly.
    scores : array-like of shape (n_timepoints,)
        Anomaly scores, higher = more anomalous.

    Returns
    -------
    float
        ``sum_k (R_k - R_{k-1}) P_k`` over the distinct thresholds, equal to
        ``sklearn.metrics.average_precision_score``.

    Examples
    --------
    >>> round(auc_pr([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 4)
    0.8333
    """
    y, s = _check_inputs(y_true, scores)
    tps, fps = _curve(y, s)
    precision = tps / (tps + fps)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def best_f1(y_true, scores, kind: Literal["point", "event"] = "point") -> float:
    """Best F1 over all thresholds ``scores >= t``.

    Parameters
    ----------
    y_true : array-like of shape (n_timepoints,)
        0/1 labels, 1 = anomaly.
    scores : array-like of shape (n_timepoints,)
        Anomaly scores, higher = more anomalous.
    kind : {"point", "event"}, default="point"
        ``"point"``: precision and recall over points (TSB-AD's "Standard-F1").
        ``"event"``: recall over anomaly events (maximal runs of 1s; an event counts
        as found when any of its points is flagged) with precision over points, so
        one hit per event is enough for full recall while false alarms still cost.

    Returns
    -------
    float
        The highest F1 over every distinct score used as threshold.

    Notes
    -----
    TSB-AD computes ``2PR / (P + R + 1e-5)`` for the point F1; we use the exact
    ``2PR / (P + R)``, so TSB-AD's value is lower by about ``1e-5 * F1 / (P + R)``.

    Examples
    --------
    >>> round(best_f1([0, 1, 1, 0, 0, 1], [0.1, 0.9, 0.2, 0.3, 0.1, 0.8]), 4)
    0.8571
    >>> best_f1([0, 1, 1, 0, 0, 1], [0.1, 0.9, 0.2, 0.3, 0.1, 0.8], kind="event")
    1.0
    """
    check_choice("kind", kind, ("point", "event"))
    y, s = _check_inputs(y_true, scores)
    tps, fps = _curve(y, s)
    precision = tps / (tps + fps)
    if kind == "point":
        recall = tps / tps[-1]
    else:
        starts, ends = _runs(y)
        bounds = np.ravel(np.c_[starts, ends + 1])
        event_max = np.maximum.reduceat(s, bounds[bounds < len(s)])[::2]
        thresholds = np.unique(s)[::-1]
        found = np.searchsorted(np.sort(event_max), thresholds, side="left")
        recall = (len(event_max) - found) / len(event_max)
    denominator = precision + recall
    f1 = np.divide(
        2 * precision * recall,
        denominator,
        where=denominator > 0,
        out=np.zeros_like(denominator),
    )
    return float(f1.max())


def _runs(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inclusive ``(starts, ends)`` of the runs of 1s in a 0/1 array."""
    edges = np.diff(np.r_[0, y, 0])
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1


def _merged(starts: np.ndarray, ends: np.ndarray, half: int, n: int):
    """Ranges widened by ``half`` each side, overlapping/touching ones merged."""
    lo, hi = starts - half, ends + half
    new = np.r_[True, hi[:-1] < lo[1:]]
    group = np.cumsum(new) - 1
    merged_lo = np.maximum(lo[new], 0)
    merged_hi = np.minimum(np.maximum.reduceat(hi, np.flatnonzero(new)), n - 1)
    return merged_lo, merged_hi, group


def _soft_buffer(starts, ends, width: int, n: int) -> np.ndarray:
    """Soft labels ``sqrt(1 - d / width)`` on ``width // 2`` points either side of each range."""
    buffer = np.zeros(n)
    half = width // 2
    if half == 0:
        return buffer
    d = np.arange(1, half + 1)
    weight = np.sqrt(1 - d / width)
    after = (ends[:, None] + d).ravel()
    before = (starts[:, None] - d).ravel()
    w = np.tile(weight, len(starts))
    keep_after, keep_before = after < n, before >= 0
    np.add.at(buffer, after[keep_after], w[keep_after])
    np.add.at(buffer, before[keep_before], w[keep_before])
    return np.minimum(buffer, 1.0)


def _vus(y_true, scores, sliding_window: int, n_thresholds: int) -> tuple[float, float]:
    y, s = _check_inputs(y_true, scores)
    check_int("sliding_window", sliding_window, 0)
    check_int("n_thresholds", n_thresholds, 1)
    n, n_pos = len(y), float(y.sum())
    starts, ends = _runs(y)
    order = np.argsort(-s, kind="stable")
    s_desc = s[order]
    thresholds = s_desc[np.linspace(0, n - 1, n_thresholds).astype(int)]
    # points flagged at each threshold (ties included) and anomalous points among them
    n_pred = np.searchsorted(-s_desc, -thresholds, side="right")
    hit_anomaly = np.cumsum(y[order])[n_pred - 1]
    auc, ap = np.empty(sliding_window + 1), np.empty(sliding_window + 1)
    for width in range(sliding_window + 1):
        buffer = _soft_buffer(starts, ends, width, n) * (1 - y)
        hit_buffer = np.cumsum(buffer[order])[n_pred - 1]
        tp = hit_anomaly + hit_buffer
        p_range = n_pos + hit_buffer / 2
        lo, hi, _ = _merged(starts, ends, width // 2, n)
        segment_max = np.array([s[a : b + 1].max() for a, b in zip(lo, hi)])
        existence = (segment_max[None, :] >= thresholds[:, None]).mean(axis=1)
        tpr = np.r_[0.0, np.minimum(tp / p_range, 1.0) * existence, 1.0]
        fpr = np.r_[0.0, (n_pred - tp) / (n - p_range), 1.0]
        precision = tp / n_pred
        auc[width] = np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2)
        ap[width] = np.sum(np.diff(tpr[:-1]) * precision)
    return float(auc.mean()), float(ap.mean())


def vus_roc(
    y_true, scores, sliding_window: int = 100, n_thresholds: int = 250
) -> float:
    """Volume under the range-ROC surface over buffer widths ``0..sliding_window``.

    Parameters
    ----------
    y_true : array-like of shape (n_timepoints,)
        0/1 labels, 1 = anomaly.
    scores : array-like of shape (n_timepoints,)
        Anomaly scores, higher = more anomalous.
    sliding_window : int, default=100
        Largest buffer width ``L``; widths ``0..L`` are averaged. TSB-AD uses the
        estimated period of the series (see :func:`find_period`).
    n_thresholds : int, default=250
        Thresholds taken evenly (by rank) from the sorted scores.

    Returns
    -------
    float
        Mean range AUC-ROC over the widths, in [0, 1].

    See Also
    --------
    vus_pr : the precision-recall counterpart (the more discriminative one).

    Examples
    --------
    >>> y = np.zeros(200, dtype=int); y[100:110] = 1
    >>> round(vus_roc(y, y + 0.0, sliding_window=20), 3)
    1.0
    """
    return _vus(y_true, scores, sliding_window, n_thresholds)[0]


def vus_pr(y_true, scores, sliding_window: int = 100, n_thresholds: int = 250) -> float:
    """Volume under the range precision-recall surface over widths ``0..sliding_window``.

    Parameters
    ----------
    y_true : array-like of shape (n_timepoints,)
        0/1 labels, 1 = anomaly.
    scores : array-like of shape (n_timepoints,)
        Anomaly scores, higher = more anomalous.
    sliding_window : int, default=100
        Largest buffer width ``L``; widths ``0..L`` are averaged. TSB-AD uses the
        estimated period of the series (see :func:`find_period`).
    n_thresholds : int, default=250
        Thresholds taken evenly (by rank) from the sorted scores.

    Returns
    -------
    float
        Mean range average precision over the widths.

    Notes
    -----
    At width ``w``, with ``B(t)`` the soft buffer mass flagged at threshold ``t`` and
    ``A(t)`` the flagged anomalous points: ``TP = A + B``, ``P' = P + B / 2``,
    ``TPR = min(TP / P', 1) * (share of widened ranges with a flagged point)``,
    ``FPR = (flagged - TP) / (n - P')`` and precision ``TP / flagged``.

    Examples
    --------
    >>> y = np.zeros(200, dtype=int); y[100:110] = 1
    >>> round(vus_pr(y, y + 0.0, sliding_window=20), 3)
    1.0
    """
    return _vus(y_true, scores, sliding_window, n_thresholds)[1]


def find_period(x, max_lag: int = 400, default: int = 125) -> int:
    """Dominant period of a series from the highest local maximum of its autocorrelation.

    Parameters
    ----------
    x : array-like of shape (n_timepoints,)
        Univariate series (the first 20,000 points are used).
    max_lag : int, default=400
        Largest lag of the autocorrelation.
    default : int, default=125
        Returned when no local maximum lies at lags 6..303.

    Returns
    -------
    int
        The lag (>= 3) of the highest strict local maximum of the autocorrelation over
        lags ``3..max_lag``; ``default`` when there is none or it falls outside lags
        6..303. This is the sliding-window estimate of TSB-AD's ``find_length_rank``
        (rank 1) used to set the VUS window.

    Examples
    --------
    >>> t = np.arange(2000)
    >>> find_period(np.sin(2 * np.pi * t / 50))
    50
    """
    x = np.asarray(x, dtype=np.float64).squeeze()
    if x.ndim != 1:
        raise ValueError(f"find_period needs a univariate series, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("x contains NaN or infinite values")
    x = x[:20000] - x[:20000].mean()
    n = len(x)
    if n < 3:
        return default
    size = 1 << int(np.ceil(np.log2(2 * n - 1)))
    spectrum = np.fft.rfft(x, size)
    acov = np.fft.irfft(spectrum * np.conj(spectrum), size)[: min(max_lag, n - 1) + 1]
    if acov[0] <= 0:
        return default
    acf = (acov / acov[0])[3:]
    inner = acf[1:-1]
    peaks = np.flatnonzero((inner > acf[:-2]) & (inner > acf[2:])) + 1
    if peaks.size == 0:
        return default
    best = peaks[np.argmax(acf[peaks])]
    return int(best + 3) if 3 <= best <= 300 else default
