"""Imputed-versus-true figure: the series, its missing segments and what filled them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["plot_imputation"]


def _as_2d(name: str, values: Any) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be (n_timepoints,) or (n_timepoints, n_channels); "
            f"got shape {arr.shape}"
        )
    return arr


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` of each run of True in a 1D boolean array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def plot_imputation(
    true: Any,
    imputed: Any,
    missing_mask: Any,
    ax: Any = None,
    channels: Sequence[int] | None = None,
    title: str | None = None,
) -> Any:
    """Draw a series, shade its missing segments and mark the imputed values.

    Parameters
    ----------
    true : array-like of shape (n_timepoints,) or (n_timepoints, n_channels)
        The complete series (ground truth where it is known).
    imputed : array-like, same shape
        The series after imputation.
    missing_mask : array-like of bool, same shape
        True where the value was missing and had to be filled.
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made when omitted.
    channels : sequence of int, optional
        Channels to draw (all by default), each in its own colour.
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import numpy as np
    >>> true = np.sin(np.arange(100) / 5)
    >>> mask = np.zeros(100, bool); mask[40:50] = True
    >>> ax = plot_imputation(true, np.where(mask, 0.0, true), mask)
    """
    import matplotlib.pyplot as plt

    true_2d, imputed_2d = _as_2d("true", true), _as_2d("imputed", imputed)
    mask_2d = _as_2d("missing_mask", missing_mask).astype(bool)
    if not true_2d.shape == imputed_2d.shape == mask_2d.shape:
        raise ValueError(
            "true, imputed and missing_mask must have the same shape; got "
            f"{true_2d.shape}, {imputed_2d.shape} and {mask_2d.shape}"
        )
    n_channels = true_2d.shape[1]
    channels = list(range(n_channels)) if channels is None else list(channels)
    bad = [c for c in channels if not 0 <= c < n_channels]
    if bad:
        raise ValueError(f"channels {bad} out of range for {n_channels} channel(s)")
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3))
    t = np.arange(true_2d.shape[0])
    shaded = mask_2d[:, channels].any(axis=1)
    for i, (start, stop) in enumerate(_runs(shaded)):
        ax.axvspan(start - 0.5, stop - 0.5, color="0.85", lw=0,
                   label="missing" if i == 0 else None)
    for k, c in enumerate(channels):
        colour = f"C{k % 10}"
        suffix = f" (channel {c})" if len(channels) > 1 else ""
        ax.plot(t, true_2d[:, c], color=colour, lw=1, label=f"true{suffix}")
        # imputed values only on missing points; NaN breaks the line between segments
        shown = np.where(mask_2d[:, c], imputed_2d[:, c], np.nan)
        ax.plot(t, shown, color="k" if len(channels) == 1 else colour, lw=1.6, ls="--",
                marker=".", ms=3, label=f"imputed{suffix}")
    ax.set_xlabel("time")
    if title is not None:
        ax.set_title(title)
    ax.legend(fontsize=7, loc="upper right")
    return ax
