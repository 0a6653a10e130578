"""sslts estimators in sktime's ClassificationBenchmark, on GunPoint
==================================================================

GunPoint as shipped with sktime, so nothing is downloaded. sktime's
``ClassificationBenchmark`` compares, on GunPoint's official train/test split
(one ``PredefinedSplit`` fold):

* ``tspulse_logreg``: the shipped TSPulse encoder, frozen, then a logistic
  regression, composed in sktime as ``TSPulseTransformer() * LogisticRegression()``
  (the canonical pipeline; the encoder standardises its features itself);
* ``tspulse_finetuned_5_epochs``: the same encoder fine-tuned with the TSLens
  head (``TSPulseSktimeClassifier``), capped at 5 epochs to keep this example
  short: its default of 30 epochs is what ``sslts demo`` and the benchmarks
  report;
* ``minirocket``: sktime's ``RocketClassifier(rocket_transform="minirocket")``;
* ``knn_euclidean`` and ``knn_dtw``: 1-nearest-neighbour with the Euclidean
  distance and with dynamic time warping (sktime's default distance).

MiniRocket and DTW need numba (a dependency of sslts); without it this
example stops with an error instead of leaving their rows out. About 30
seconds on one CPU core once numba has compiled sktime's MiniRocket and DTW
kernels; numba caches them on disk, and the first run in a fresh environment
spends one to two minutes more compiling them, which is why the documentation
shows this example without running it::

    python examples/sktime_benchmark.py
"""

from __future__ import annotations

import warnings

import numba  # noqa: F401  (MiniRocket and DTW need it: fail here, not silently later)
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import PredefinedSplit
from sktime.benchmarking.classification import ClassificationBenchmark
from sktime.classification.distance_based import KNeighborsTimeSeriesClassifier
from sktime.classification.kernel_based import RocketClassifier
from sktime.datasets import load_gunpoint

from sslts.sktime import TSPulseSktimeClassifier, TSPulseTransformer

X_train, y_train = load_gunpoint(split="train", return_type="numpy3D")
X_test, y_test = load_gunpoint(split="test", return_type="numpy3D")
X = np.concatenate([X_train, X_test])
y = np.concatenate([y_train, y_test])
# One fold: the official split (-1 = always train, 0 = test of fold 0).
official = PredefinedSplit([-1] * len(y_train) + [0] * len(y_test))

estimators = {
    "tspulse_logreg": TSPulseTransformer(random_state=0) * LogisticRegression(),
    "tspulse_finetuned_5_epochs": TSPulseSktimeClassifier(max_epochs=5, random_state=0),
    "minirocket": RocketClassifier(rocket_transform="minirocket", random_state=0),
    "knn_euclidean": KNeighborsTimeSeriesClassifier(n_neighbors=1, distance="euclidean"),
    "knn_dtw": KNeighborsTimeSeriesClassifier(n_neighbors=1, distance="dtw"),
}
bench = ClassificationBenchmark()
for estimator_id, estimator in estimators.items():
    bench.add_estimator(estimator, estimator_id=estimator_id)
bench.add_task((X, y), official, [accuracy_score], task_id="GunPoint")

with warnings.catch_warnings():
    # sktime also reports the standard deviation over folds; with one fold numpy warns.
    warnings.simplefilter("ignore", RuntimeWarning)
    results = bench.run()

# %%
# One row per estimator: test accuracy and fit seconds. A row that sktime
# could not run (a missing dependency, an error) is an error here, not a gap.
missing = sorted(set(estimators) - set(results["model_id"]))
if missing:
    raise RuntimeError(f"ClassificationBenchmark returned no result for {missing}")
table = results.set_index("model_id").loc[
    list(estimators), ["accuracy_score_fold_0_test", "fit_time_fold_0_test"]
]
table.columns = ["accuracy", "fit_seconds"]
print(table.round(3))
