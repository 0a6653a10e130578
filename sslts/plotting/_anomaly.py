"""Anomaly scores drawn under the series they score."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["plot_anomaly_scores"]


def _ranges(labels: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` index ranges where ``labels`` is 1."""
    padded = np.concatenate([[0], (np.asarray(labels) > 0).astype(int), [0]])
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2], edges[1::2]))


def plot_anomaly_scores(
    series: Any,
    scores: Any,
    labels: Any = None,
    threshold: float | None = None,
    ax: Any = None,
    title: str | None = None,
) -> Any:
    """Plot a series (top) and its anomaly scores (bottom) on a shared time axis.

    Parameters
    ----------
    series : array-like of shape (n_timepoints,) or (n_timepoints, n_channels)
        The scored series; channels are drawn as separate lines.
    scores : array-like of shape (n_timepoints,)
        One score per point, higher = more anomalous.
    labels : array-like of shape (n_timepoints,), optional
        True anomalies (1); their ranges are shaded on both panels.
    threshold : float, optional
        Drawn as a horizontal line on the score panel (e.g. a detector's
        ``threshold_``).
    ax : matplotlib Axes, optional
        Where to draw the *score* panel; the series panel is then left out.
        By default a new figure with both panels is made.
    title : str, optional
        Title of the figure (or of ``ax``).

    Returns
    -------
    matplotlib.axes.Axes
        The score panel (its ``.figure`` holds both panels).

    Raises
    ------
    ValueError
        If the lengths of ``series``, ``scores`` and ``labels`` differ.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.sin(np.arange(200) / 5)
    >>> ax = plot_anomaly_scores(x, np.abs(x), labels=(x > 0.9), threshold=0.8)
    >>> len(ax.figure.axes)
    2
    """
    import matplotlib.pyplot as plt

    values = np.asarray(series, dtype=float)
    score = np.asarray(scores, dtype=float).ravel()
    n = values.shape[0]
    if values.ndim not in (1, 2):
        raise ValueError(
            f"series must be 1D or 2D (time first), got shape {values.shape}"
        )
    if score.shape[0] != n:
        raise ValueError(f"scores has {score.shape[0]} points, series has {n}")
    spans = []
    if labels is not None:
        labels = np.asarray(labels).ravel()
        if labels.shape[0] != n:
            raise ValueError(f"labels has {labels.shape[0]} points, series has {n}")
        spans = _ranges(labels)

    if ax is None:
        fig, (top, ax) = plt.subplots(
            2, 1, sharex=True, figsize=(11, 4.5), gridspec_kw={"height_ratios": [3, 2]}
        )
        top.plot(values, lw=0.8)
        top.set_ylabel("series")
        panels = [top, ax]
        if title:
            fig.suptitle(title)
    else:
        panels = [ax]
        if title:
            ax.set_title(title)
    ax.plot(score, color="tab:red", lw=0.8, label="score")
    ax.set_ylabel("anomaly score")
    ax.set_xlabel("time")
    if threshold is not None:
        ax.axhline(threshold, color="black", ls="--", lw=0.8, label="threshold")
    for panel in panels:
        for i, (start, stop) in enumerate(spans):
            panel.axvspan(
                start - 0.5,
                stop - 0.5,
                color="tab:orange",
                alpha=0.25,
                label="true anomaly" if i == 0 and panel is ax else None,
            )
    ax.legend(loc="upper left", fontsize="small")
    return ax
