"""Shape anomalies in quasi-periodic series spliced from a classification data set.

The UCR anomaly archive's kind of problem, built with exactly known labels: a
run of instances of one class (each instance one "period") in which a few
instances are replaced by anomalous ones. The fit part is made of training
instances of that class only; the evaluation part of test instances, so no
instance is seen in both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.utils import check_random_state

from sslts.data.datasets import AnomalySeries

__all__ = ["SHAPE_ANOMALY_KINDS", "make_shape_anomaly_series"]

#: Kinds of spliced anomaly (see :func:`make_shape_anomaly_series`).
SHAPE_ANOMALY_KINDS = ("class", "warp", "noise")
_SEGMENT = 0.25  # warped / noised fraction of an instance
_WARP_POWER = 2.0  # exponent of the local time warp
_NOISE_STD = 0.5  # noise standard deviation, in units of the instance's


def _instances(X: np.ndarray) -> list[np.ndarray]:
    """Univariate instances without their NaN padding (a NaN-free prefix each)."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 3:
        if X.shape[1] != 1:
            raise ValueError(
                f"X must hold univariate instances; got {X.shape[1]} channels"
            )
        X = X[:, 0]
    if X.ndim != 2:
        raise ValueError(
            f"X must be (n_instances, n_timepoints) or (n_instances, 1, n_timepoints); "
            f"got shape {X.shape}"
        )
    rows = []
    for row in X:
        missing = np.flatnonzero(np.isnan(row))
        rows.append(row[: missing[0]] if missing.size else row)
    return rows


def _segment(length: int, rng: np.random.Generator) -> tuple[int, int]:
    width = max(4, int(round(_SEGMENT * length)))
    start = int(rng.integers(0, max(1, length - width + 1)))
    return start, min(length, start + width)


def _warp(instance: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, slice]:
    """The instance with one segment locally time-warped (ends kept in place)."""
    start, stop = _segment(len(instance), rng)
    t = np.arange(len(instance), dtype=np.float64)
    u = (t[start:stop] - start) / max(1, stop - 1 - start)
    power = _WARP_POWER if rng.random() < 0.5 else 1.0 / _WARP_POWER
    warped_t = t.copy()
    warped_t[start:stop] = start + u**power * (stop - 1 - start)
    return np.interp(warped_t, t, instance), slice(start, stop)


def _noise(instance: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, slice]:
    """The instance with Gaussian noise added on one segment."""
    start, stop = _segment(len(instance), rng)
    scale = _NOISE_STD * (instance.std() if instance.std() > 0 else 1.0)
    out = instance.copy()
    out[start:stop] += rng.normal(0.0, scale, stop - start)
    return out, slice(start, stop)


def make_shape_anomaly_series(
    X_train: Any,
    y_train: Any,
    X_test: Any,
    y_test: Any,
    kind: str = "class",
    n_anomalies: int = 3,
    max_fit_points: int = 4000,
    max_eval_points: int = 8000,
    normal_class: Any = None,
    name: str = "spliced",
    random_state: Any = None,
) -> AnomalySeries:
    """Splice a labelled shape-anomaly series from a classification data set.

    The series is a run of instances of ``normal_class`` laid end to end (one
    instance is one quasi-period). Its fit part, ``[0, train_end)``, holds
    training instances of that class only; its evaluation part holds test
    instances of that class with ``n_anomalies`` anomalous instances in place
    of normal ones, never first, last nor next to another anomaly:

    * ``"class"``: a test instance of another class (the whole instance is
      labelled);
    * ``"warp"``: a test instance of the normal class whose quarter-long
      segment is time-warped (``t -> t**2`` or ``t**0.5`` inside the segment,
      its ends kept in place, so the series stays continuous); the segment is
      labelled;
    * ``"noise"``: a test instance of the normal class with Gaussian noise of
      half its standard deviation added on a quarter-long segment; the segment
      is labelled.

    Parameters
    ----------
    X_train, X_test : array-like of shape (n_instances, n_timepoints) or \
            (n_instances, 1, n_timepoints)
        Univariate instances; trailing NaN (unequal lengths) are dropped.
    y_train, y_test : array-like of shape (n_instances,)
        Their classes.
    kind : {"class", "warp", "noise"}, default="class"
        Kind of anomalous instance.
    n_anomalies : int, default=3
        Anomalous instances in the evaluation part.
    max_fit_points, max_eval_points : int, default=4000, 8000
        Length caps of the two parts (whole instances are kept; at least two
        fit instances and ``2 * n_anomalies + 1`` evaluation instances).
    normal_class : label, optional
        The class of the normal instances; default: the most frequent class of
        ``y_train`` (the first in sorted order on a tie).
    name : str, default="spliced"
        The ``name`` of the returned series.
    random_state : int, RandomState instance or None, default=None
        Seeds the choice and order of instances and the anomalies.

    Returns
    -------
    AnomalySeries
        ``values`` of shape ``(n_timepoints, 1)``, 0/1 ``labels`` (zero on the
        fit part), ``train_end`` = length of the fit part, ``source="UCR-splice"``.

    Raises
    ------
    ValueError
        On an unknown ``kind``, a ``normal_class`` absent from either split,
        fewer than two training or ``2 * n_anomalies + 1`` test instances of the
        normal class, or (``kind="class"``) no test instance of another class.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.linspace(0, 2 * np.pi, 50)
    >>> X = np.stack([np.sin(t)] * 12 + [np.sign(np.sin(t))] * 4)
    >>> y = np.array([0] * 12 + [1] * 4)
    >>> s = make_shape_anomaly_series(X, y, X, y, kind="class", n_anomalies=2,
    ...                               random_state=0)
    >>> s.values.shape, s.train_end, int(s.labels.sum())
    ((1200, 1), 600, 100)
    """
    if kind not in SHAPE_ANOMALY_KINDS:
        raise ValueError(f"kind must be one of {SHAPE_ANOMALY_KINDS}; got {kind!r}")
    if int(n_anomalies) != n_anomalies or n_anomalies < 1:
        raise ValueError(f"n_anomalies must be a positive int; got {n_anomalies!r}")
    rng = np.random.default_rng(check_random_state(random_state).randint(2**31))
    train, test = _instances(X_train), _instances(X_test)
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    if len(train) != len(y_train) or len(test) != len(y_test):
        raise ValueError("X_train/y_train or X_test/y_test differ in length")
    if normal_class is None:
        classes, counts = np.unique(y_train, return_counts=True)
        normal_class = classes[np.argmax(counts)]
    normal_fit = [
        train[i] for i in rng.permutation(np.flatnonzero(y_train == normal_class))
    ]
    normal_eval = [
        test[i] for i in rng.permutation(np.flatnonzero(y_test == normal_class))
    ]
    others = [test[i] for i in rng.permutation(np.flatnonzero(y_test != normal_class))]
    need = 2 * n_anomalies + 1
    if len(normal_fit) < 2 or len(normal_eval) < need:
        raise ValueError(
            f"class {normal_class!r} has {len(normal_fit)} training and "
            f"{len(normal_eval)} test instances; need at least 2 and {need}"
        )
    if kind == "class" and not others:
        raise ValueError("kind='class' needs test instances of another class")
    fit = _take(normal_fit, max_fit_points, 2)
    run = _take(normal_eval, max_eval_points, need)
    slots = _anomaly_slots(len(run), n_anomalies, rng)
    pieces, labels = [], []
    for i, instance in enumerate(run):
        label = np.zeros(len(instance), dtype=np.int64)
        if i in slots:
            if kind == "class":
                instance = others[len(labels) % len(others)]
                label = np.ones(len(instance), dtype=np.int64)
            else:
                instance, where = (_warp if kind == "warp" else _noise)(instance, rng)
                label[where] = 1
        pieces.append(instance)
        labels.append(label)
    fit_values = np.concatenate(fit)
    values = np.concatenate([fit_values, *pieces])[:, None]
    all_labels = np.concatenate([np.zeros(len(fit_values), dtype=np.int64), *labels])
    return AnomalySeries(name, "UCR-splice", values, all_labels, len(fit_values))


def _take(instances: Sequence[np.ndarray], max_points: int, at_least: int) -> list:
    """The first instances within ``max_points`` (never fewer than ``at_least``)."""
    lengths = np.cumsum([len(x) for x in instances])
    count = max(at_least, int(np.searchsorted(lengths, max_points, side="right")))
    return list(instances[:count])


def _anomaly_slots(n: int, k: int, rng: np.random.Generator) -> set[int]:
    """``k`` positions in ``1..n-2``, no two adjacent, drawn uniformly."""
    # choose k gaps among the n - 2 inner positions with at least one normal
    # instance between anomalies: stars and bars on n - 2 - (k - 1) slots
    free = n - 2 - (k - 1)
    picks = np.sort(rng.choice(free, size=k, replace=False))
    return {int(p) + 1 + j for j, p in enumerate(picks)}
