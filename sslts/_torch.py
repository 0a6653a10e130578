"""Small torch helpers shared by the estimators: device choice and seeding."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
from sklearn.utils import check_random_state

__all__ = ["resolve_device", "seeded", "torch_seed"]


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
