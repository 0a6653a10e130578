"""Small torch helpers shared by the estimators: device choice, seeding, batching."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from sklearn.utils import check_random_state

__all__ = ["resolve_device", "seeded", "tensor_batches", "torch_seed"]


def resolve_device(device: str | torch.device) -> torch.device:
    """Turn ``"auto"`` into CUDA when available, else CPU; validate the rest."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"invalid device {device!r}: {exc}") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was requested but CUDA is not available")
    return resolved


def torch_seed(random_state: int | np.random.RandomState | None) -> int:
    """A torch seed drawn from a scikit-learn ``random_state``."""
    return int(check_random_state(random_state).randint(0, 2**31 - 1))


@contextlib.contextmanager
def seeded(random_state: int | np.random.RandomState | None) -> Iterator[None]:
    """Run a block with torch's RNGs seeded, restoring the caller's RNG state after.

    The global torch generator (and the CUDA ones when CUDA is in use) is
    forked, so fitting an estimator never disturbs the user's random streams.
    """
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(torch_seed(random_state))
        yield


def tensor_batches(
    arrays: Sequence[np.ndarray], batch_size: int, device: torch.device
) -> Iterator[tuple[torch.Tensor, ...]]:
    """Consecutive ``batch_size`` row slices of ``arrays`` as tensors on ``device``.

    Yields one tuple per batch, a tensor (sharing memory with the array on the
    CPU) for every array in ``arrays``; all arrays must have the same number
    of rows. The last batch may be shorter.
    """
    for start in range(0, len(arrays[0]), batch_size):
        stop = start + batch_size
        yield tuple(torch.from_numpy(a[start:stop]).to(device) for a in arrays)
