"""sslts estimators in sktime's ClassificationBenchmark, on GunPoint
==================================================================

GunPoint as shipped with sktime, so nothing is downloaded.

Compares, on GunPoint's official train/test split:

* the shipped TSPulse encoder (frozen) -> standardised logistic regression,
  composed in sktime as ``TSPulseTransformer() * sklearn pipeline``;
* the same encoder fine-tuned with a classification head for a few epochs
  (``TSPulseSktimeClassifier``);
* MiniRocket (sktime's ``RocketClassifier(rocket_transform="minirocket")``);
* 1-nearest-neighbour with Euclidean distance.

Takes several minutes on a CPU (fine-tuning and MiniRocket's numba compilation
dominate), so the documentation shows this example without running it::

    python examples/sktime_benchmark.py
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import PredefinedSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sktime.benchmarking.classification import ClassificationBenchmark
from sktime.classification.distance_based import KNeighborsTimeSeriesClassifier
from sktime.classification.kernel_based import RocketClassifier
from sktime.datasets import load_gunpoint

from sslts.sktime import TSPulseSktimeClassifier, TSPulseTransformer


def main() -> None:
    X_train, y_train = load_gunpoint(split="train", return_type="numpy3D")
    X_test, y_test = load_gunpoint(split="test", return_type="numpy3D")
    X = np.concatenate([X_train, X_test])
    y = np.concatenate([y_train, y_test])
    # One fold: the official split (-1 = always train, 0 = test of fold 0).
    official = PredefinedSplit([-1] * len(y_train) + [0] * len(y_test))

    bench = ClassificationBenchmark()
    head = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    bench.add_estimator(TSPulseTransformer(random_state=0) * head, estimator_id="tspulse_logreg")
    bench.add_estimator(
        TSPulseSktimeClassifier(max_epochs=5, random_state=0), estimator_id="tspulse_classifier"
    )
    bench.add_estimator(
        RocketClassifier(rocket_transform="minirocket", random_state=0), estimator_id="minirocket"
    )
    bench.add_estimator(KNeighborsTimeSeriesClassifier(n_neighbors=1), estimator_id="knn_euclidean")
    bench.add_task((X, y), official, [accuracy_score], task_id="GunPoint")

    with warnings.catch_warnings():
        # sktime also reports the standard deviation over folds; with one fold numpy warns.
        warnings.simplefilter("ignore", RuntimeWarning)
        results = bench.run()
    table = results.set_index("model_id")[["accuracy_score_fold_0_test", "fit_time_fold_0_test"]]
    table.columns = ["accuracy", "fit_seconds"]
    print(table.round(3))


if __name__ == "__main__":
    main()
