"""Indexed series sources for pretraining: synthetic generators or a user panel.

A source produces the series of indices ``start .. start + n - 1`` through
``generate(n, start=start)``; sample ``i`` is fixed by the source's seed and
``i`` alone, so a pretraining run that stops and resumes sees exactly the
data stream of an uninterrupted run.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from sslts.data.synthetic import CauKer, KernelSynth

__all__ = ["SeriesSource", "ArraySource", "InterleavedSource", "make_source"]

SYNTHETIC = {"cauker": CauKer, "kernelsynth": KernelSynth}


class SeriesSource(Protocol):
    """Anything with ``generate(n_samples, n_jobs=1, start=0) -> (n, length)``."""

    length: int

    def generate(self, n_samples: int, n_jobs: int | None = 1, start: int = 0) -> np.ndarray:
        ...


class ArraySource:
    """Random windows of ``length`` points cut from a user panel.

    Sample ``i`` is channel ``c`` of instance ``k`` from offset ``o``, with
    ``(k, c, o)`` drawn from a generator seeded by ``(random_state, i)``.
    Series shorter than ``length`` are rejected: pretraining needs full windows.

    Parameters
    ----------
    X : ndarray of shape (n_instances, n_timepoints) or (n_instances, n_channels, n_timepoints)
        Finite values.
    length : int
        Window length (context plus forecast horizon).
    random_state : int
        Seed of the window draws.
    """

    def __init__(self, X: np.ndarray, length: int, random_state: int = 0) -> None:
        X = np.asarray(X, dtype=np.float32)
        if X.ndim == 2:
            X = X[:, None, :]
        if X.ndim != 3 or X.shape[0] == 0:
            raise ValueError(f"expected a non-empty 2D or 3D array, got shape {X.shape}")
        if X.shape[-1] < length:
            raise ValueError(
                f"series of length {X.shape[-1]} are shorter than the {length} points "
                "a pretraining window needs"
            )
        if not np.isfinite(X).all():
            raise ValueError("pretraining data must be finite (no NaN or inf)")
        self.X = X
        self.length = length
        self.random_state = random_state

    def generate(self, n_samples: int, n_jobs: int | None = 1, start: int = 0) -> np.ndarray:
        n, channels, total = self.X.shape
        out = np.empty((n_samples, self.length), np.float32)
        for j in range(n_samples):
            rng = np.random.default_rng([self.random_state, start + j])
            k, c = rng.integers(n), rng.integers(channels)
            offset = rng.integers(total - self.length + 1)
            out[j] = self.X[k, c, offset : offset + self.length]
        return out


class InterleavedSource:
    """Round-robin over several sources: sample ``i`` is ``sources[i % k]`` at ``i // k``.

    Parameters
    ----------
    sources : sequence of SeriesSource
        ``k`` sources of one sample length.
    """

    def __init__(self, sources: Sequence[SeriesSource]) -> None:
        lengths = {s.length for s in sources}
        if len(lengths) != 1:
            raise ValueError(f"sources must share one length, got {sorted(lengths)}")
        self.sources = list(sources)
        self.length = lengths.pop()

    def generate(self, n_samples: int, n_jobs: int | None = 1, start: int = 0) -> np.ndarray:
        k = len(self.sources)
        out = np.empty((n_samples, self.length), np.float32)
        index = np.arange(start, start + n_samples)
        for which, source in enumerate(self.sources):
            mine = index[index % k == which] // k
            if len(mine):
                out[index % k == which] = source.generate(len(mine), n_jobs=n_jobs, start=int(mine[0]))
        return out


def make_source(
    data: str | os.PathLike | np.ndarray, length: int, seed: int
) -> tuple[SeriesSource, dict[str, Any]]:
    """Build a source and its recipe (what a model card records).

    Parameters
    ----------
    data : {"cauker", "kernelsynth", "mixed"}, path of a ``.npy`` file, or ndarray
        ``"mixed"`` interleaves CauKer and KernelSynth one to one.
    length : int
        Points per sample.
    seed : int
        Seed of the stream.
    """
    if isinstance(data, np.ndarray):
        return ArraySource(data, length, seed), {"source": "array", "shape": list(data.shape), "seed": seed}
    text = os.fspath(data)
    if text in SYNTHETIC:
        generator = SYNTHETIC[text](length=length, random_state=seed)
        return generator, {"source": text, "length": length, "seed": seed}
    if text == "mixed":
        parts = [SYNTHETIC[name](length=length, random_state=seed + i) for i, name in enumerate(SYNTHETIC)]
        return InterleavedSource(parts), {"source": "mixed", "parts": list(SYNTHETIC), "length": length, "seed": seed}
    path = Path(text)
    if path.suffix != ".npy" or not path.exists():
        raise ValueError(
            f"data must be 'cauker', 'kernelsynth', 'mixed', an array or an existing "
            f".npy file; got {text!r}"
        )
    array = np.load(path, allow_pickle=False)
    return ArraySource(array, length, seed), {"source": str(path), "shape": list(array.shape), "seed": seed}
