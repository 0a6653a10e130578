"""Small torch helpers shared by the estimators: device choice, precision, seeding, batching."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from sklearn.utils import check_random_state

from sslts.models._random import RandomSource, using

__all__ = ["bf16_autocast", "resolve_device", "seeded", "tensor_batches", "torch_seed"]


def bf16_autocast(device: str | torch.device, enabled: bool) -> torch.autocast:
    """bfloat16 autocast on ``device``'s type when ``enabled`` (a no-op context otherwise).

    Matrix products run in bfloat16, weights and the ops autocast keeps in
    float32 stay there; no loss scaling is needed with bfloat16. It pays on
    GPUs and on CPUs with native bfloat16 instructions (AVX512_BF16 or AMX);
    on other CPUs it is several times slower.
    """
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=enabled)


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
def seeded(random_state: int | np.random.RandomState | None) -> Iterator[RandomSource]:
    """Run a block (a fit) with its own random generators, seeded from ``random_state``.

    The block gets a :class:`~sslts.models._random.RandomSource` (a
    ``torch.Generator`` per device, seeded with :func:`torch_seed`), active
    in this thread only: weight initialisation, masks, dropout, views and
    batch shuffling inside the block draw from it (see
    :mod:`sslts.models._random`). Torch's and numpy's global generators are
    neither used nor reseeded, so fits running in parallel threads give the
    results they give alone, and the caller's random streams are untouched.
    As everywhere in scikit-learn, ``random_state=None`` draws the seed from
    numpy's global generator, and a ``RandomState`` instance is advanced.

    Yields
    ------
    RandomSource
        The block's source (:meth:`~sslts.models._random.RandomSource.reseed`
        restarts it).

    Examples
    --------
    >>> import torch
    >>> from sslts.models import TSPulse, TSPulseConfig
    >>> before = torch.get_rng_state()
    >>> with seeded(0):
    ...     a = TSPulse(TSPulseConfig(context_length=32, n_layers=1, n_registers=2))
    >>> with seeded(0):
    ...     b = TSPulse(TSPulseConfig(context_length=32, n_layers=1, n_registers=2))
    >>> torch.equal(a.registers, b.registers), torch.equal(torch.get_rng_state(), before)
    (True, True)
    """
    with using(RandomSource(torch_seed(random_state))) as source:
        yield source


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
