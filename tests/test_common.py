"""scikit-learn's estimator checks over every public estimator, in one place.

Each estimator is built with tiny, fast settings (the shipped tiny checkpoint,
one epoch); the checks it is expected to fail, each with its reason, are the
one table in ``tests/_checks.py``. Strict: a listed check that passes fails.
The two checks that compare outputs across batch compositions run with float32
tolerances (``FLOAT32_BATCH_TOLERANCE``, explained in ``tests/_checks.py``).
sktime's own checks of the adapters in ``sslts.sktime`` are in test_sktime.py.
"""

from __future__ import annotations

import pytest
from _checks import (
    BATCH_CHECKS,
    EXPECTED_FAILED_CHECKS,
    FLOAT32_BATCH_TOLERANCE,
    expected_failed_checks,
)
from _tiny import TINY_CHECKPOINT, TINY_JEPA
from sklearn.utils import estimator_checks
from sklearn.utils.estimator_checks import parametrize_with_checks

import sslts
from sslts import (
    AnomalyPredictor,
    DeepSVDDAnomalyDetector,
    JEPAEmbedder,
    KMeansAnomalyDetector,
    TSPulseAnomalyDetector,
    TSPulseClassifier,
    TSPulseEmbedder,
    TSPulseImputer,
    TSPulseRetriever,
)
from sslts.prediction import WindowStatistics

ESTIMATORS = [
    TSPulseEmbedder(pretrained=TINY_CHECKPOINT, random_state=0),
    # The contract is the same for every objective; the cheapest keeps it fast.
    JEPAEmbedder(**TINY_JEPA, objective="masked", random_state=0),
    TSPulseClassifier(
        pretrained=TINY_CHECKPOINT,
        max_epochs=1,
        validation_fraction=None,
        random_state=0,
    ),
    KMeansAnomalyDetector(n_clusters=5, random_state=0),
    DeepSVDDAnomalyDetector(hidden_sizes=(8, 4), max_epochs=1, random_state=0),
    # the default (embedding) and the reconstruction ensemble; triangulation reads
    # y as 0/1 point labels and rejects the multi-class/continuous y the generic
    # checks pass.
    TSPulseAnomalyDetector(pretrained=TINY_CHECKPOINT, mode="ensemble", random_state=0),
    TSPulseAnomalyDetector(
        pretrained=TINY_CHECKPOINT, mode="embedding", random_state=0
    ),
    TSPulseImputer(pretrained=TINY_CHECKPOINT, random_state=0),
    TSPulseRetriever(
        embedder=TSPulseEmbedder(pretrained=TINY_CHECKPOINT, random_state=0)
    ),
    AnomalyPredictor(random_state=0, max_epochs=20),
    WindowStatistics(),  # AnomalyPredictor's default encoder
]

# hundreds of tiny fits: torch's thread start-up would dominate
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_every_public_estimator_is_checked():
    public = {
        name for name in sslts.__all__ if isinstance(getattr(sslts, name), type)
    }
    checked = {type(est).__name__ for est in ESTIMATORS}
    assert public <= checked
    # every row of the expected-failure table belongs to a checked estimator
    assert set(EXPECTED_FAILED_CHECKS) == checked


def _at_least_float32_tolerance(compare):
    """``compare`` with its rtol and atol raised to ``FLOAT32_BATCH_TOLERANCE``."""

    def loosened(actual, desired, *args, rtol=None, atol=0.0, **kwargs):
        rtol = max(rtol or 0.0, FLOAT32_BATCH_TOLERANCE["rtol"])
        atol = max(atol, FLOAT32_BATCH_TOLERANCE["atol"])
        return compare(actual, desired, *args, rtol=rtol, atol=atol, **kwargs)

    return loosened


@parametrize_with_checks(
    ESTIMATORS, expected_failed_checks=expected_failed_checks, xfail_strict=True
)
def test_sklearn_estimator_checks(estimator, check, monkeypatch):
    if getattr(check, "func", check).__name__ in BATCH_CHECKS:
        for name in ("assert_allclose", "assert_allclose_dense_sparse"):
            compare = getattr(estimator_checks, name)
            monkeypatch.setattr(estimator_checks, name, _at_least_float32_tolerance(compare))
    check(estimator)
