"""Run the numpy view recipes of :mod:`sslts.augment` on torch batches.

The recipes draw their randomness from a numpy ``Generator``; here it is
seeded, once per batch, from the fit's torch generator
(:func:`sslts.models._random.active_generator`), so a fit makes the same
views for the same ``random_state`` whatever runs beside it. Outside a fit
the seed comes from torch's global generator.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from sslts.augment import random_crop
from sslts.models._random import active_generator

__all__ = ["local_crops", "numpy_rng", "view"]


def numpy_rng() -> np.random.Generator:
    """A numpy generator seeded from the fit's torch generator (the global one outside a fit)."""
    seed = torch.randint(0, 2**62, (), generator=active_generator())
    return np.random.default_rng(int(seed.item()))


def view(
    pipeline: Callable[[np.ndarray, np.random.Generator], np.ndarray],
    x: torch.Tensor,
    rng: np.random.Generator,
) -> torch.Tensor:
    """Augment ``x`` ``(B, C, T)`` with ``pipeline``; same device and dtype."""
    out = pipeline(x.detach().cpu().numpy(), rng)
    return torch.as_tensor(np.ascontiguousarray(out), dtype=x.dtype, device=x.device)


def local_crops(
    x: torch.Tensor,
    observed: torch.Tensor,
    n_crops: int,
    length: int,
    pipeline: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None,
    rng: np.random.Generator,
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``n_crops`` random crops of ``length`` points per series, with their masks.

    Values and the observed mask are cropped at the same start (all channels
    together), then only the values go through ``pipeline``.
    """
    n, channels, total = x.shape
    if not 1 <= length <= total:
        raise ValueError(f"crop length must be in [1, {total}], got {length}")
    stacked = torch.cat([x, observed.to(x.dtype)], dim=1).detach().cpu().numpy()
    tiled = np.concatenate([stacked] * n_crops, axis=0)
    crops = random_crop(tiled, rng, fraction=length / total)
    values, masks = crops[:, :channels], crops[:, channels:] > 0.5
    if pipeline is not None:
        values = pipeline(values, rng)
    values_t = torch.as_tensor(np.ascontiguousarray(values), dtype=x.dtype, device=x.device)
    masks_t = torch.as_tensor(np.ascontiguousarray(masks), device=x.device)
    return [(values_t[i * n : (i + 1) * n], masks_t[i * n : (i + 1) * n]) for i in range(n_crops)]
