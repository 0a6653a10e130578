"""Shared fixtures: tiny models, small panels, GunPoint from sktime's shipped copy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _tiny import TINY_TSPULSE

from sslts.models import TSPulse, TSPulseConfig


@pytest.fixture
def tiny_config() -> TSPulseConfig:
    """The architecture of the shipped ``tspulse-tiny-random`` checkpoint."""
    return TSPulseConfig(**TINY_TSPULSE)


@pytest.fixture
def tiny_model(tiny_config) -> TSPulse:
    """A seeded random TSPulse of ``tiny_config``; the global torch RNG is untouched."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return TSPulse(tiny_config).eval()


@pytest.fixture
def panel() -> np.ndarray:
    """(12, 2, 80) float32: noisy sinusoids, two channels."""
    rng = np.random.default_rng(0)
    t = np.arange(80)
    freq = rng.uniform(0.05, 0.3, size=(12, 2, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(12, 2, 1))
    return (np.sin(freq * t + phase) + 0.1 * rng.normal(size=(12, 2, 80))).astype(np.float32)


@pytest.fixture(scope="session")
def gunpoint():
    from sktime.datasets import load_gunpoint

    X_train, y_train = load_gunpoint(split="train", return_type="numpy3D")
    X_test, y_test = load_gunpoint(split="test", return_type="numpy3D")
    return X_train, y_train, X_test, y_test


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread and one BLAS thread for a module of many tiny fits.

    Thread start-up dominates tiny fits; and with one thread float reductions
    run in the same order in the main thread, in threads and in worker
    processes (loky gives its workers one BLAS thread), which the seeding
    tests compare bit for bit (the classifier's linear probe is fitted by
    scikit-learn on NumPy's BLAS). Use with
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``.
    """
    from threadpoolctl import threadpool_limits

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    torch.set_num_threads(previous)


def pytest_configure(config):
    """Under pytest-xdist each worker gets one torch thread: the workers already fill
    the cores, and tiny models on oversubscribed cores run many times slower."""
    import os

    if os.environ.get("PYTEST_XDIST_WORKER"):
        torch.set_num_threads(1)
