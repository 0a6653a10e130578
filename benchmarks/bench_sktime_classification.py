"""sslts estimators in sktime's ClassificationBenchmark, against MiniRocket and 1-NN.

Every estimator is registered as an sktime classifier and evaluated by
:class:`sktime.benchmarking.classification.ClassificationBenchmark` on the
official train/test split of each data set (one fold, given to sktime as a
:class:`sklearn.model_selection.PredefinedSplit` over train + test):

* ``tspulse_logreg``: :class:`sslts.sktime.TSPulseTransformer` (frozen shipped
  checkpoint) followed by ``StandardScaler`` + ``LogisticRegression``, composed
  the sktime way (``SklearnClassifierPipeline``);
* ``tspulse_classifier``: :class:`sslts.sktime.TSPulseSktimeClassifier` (the
  sktime adapter of :class:`sslts.classification.TSPulseClassifier`), when that
  module is available;
* ``minirocket``: sktime's ``RocketClassifier(rocket_transform="minirocket")``
  (MiniRocket -> ``StandardScaler(with_mean=False)`` -> ``RidgeClassifierCV``);
* ``knn_euclidean`` / ``knn_dtw``: sktime's ``KNeighborsTimeSeriesClassifier``
  with one neighbour.

No hyper-parameter is tuned on a test split (every setting is a fixed default;
RidgeClassifierCV picks its penalty by cross-validation on the training split).

``ClassificationBenchmark`` runs its experiments one after the other and its
``backend`` parallelises the folds of one task; with one official split per
data set there is one fold, so the script fans the data sets out over joblib's
``loky`` backend instead (one ``ClassificationBenchmark`` per data set and
worker, torch and numba limited to one thread per worker) and merges the results
into one CSV (one row per data set) and a bar plot next to it.

The default data sets are a subset fixed before any result was seen
(``DEFAULT_DATASETS``): eight small UCR sets of different kinds (sensor, ECG,
image outlines, simulated) and the two small multivariate UEA sets with a
sensible test size, so that one run takes minutes on two shared cores.
``--datasets all`` runs every set in the data folder.

Run::

    nice -n 5 python benchmarks/bench_sktime_classification.py
    nice -n 5 python benchmarks/bench_sktime_classification.py --datasets Coffee BME --n-jobs 1
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import limit_threads, make_parser, results_path, write_csv
from joblib import Parallel, delayed
from tqdm.auto import tqdm

from sslts.data.datasets import list_classification, load_classification

#: Fixed in advance (small sets of several kinds, 2 of them multivariate).
DEFAULT_DATASETS = (
    "UCR/BME",
    "UCR/Beef",
    "UCR/Chinatown",
    "UCR/Coffee",
    "UCR/ECGFiveDays",
    "UCR/Plane",
    "UCR/SonyAIBORobotSurface1",
    "UCR/SyntheticControl",
    "UEA/ERing",
    "UEA/Epilepsy",
)

METHODS = ("tspulse_logreg", "tspulse_classifier", "minirocket", "knn_euclidean", "knn_dtw")


def _estimators(methods: list[str], pretrained: str, seed: int) -> dict:
    """The sktime classifiers to compare, by name."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sktime.classification.compose import SklearnClassifierPipeline
    from sktime.classification.distance_based import KNeighborsTimeSeriesClassifier
    from sktime.classification.kernel_based import RocketClassifier

    from sslts.sktime import TSPulseTransformer

    factories = {
        "tspulse_logreg": lambda: SklearnClassifierPipeline(
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)),
            [TSPulseTransformer(pretrained=pretrained, random_state=seed)],
        ),
        "minirocket": lambda: RocketClassifier(rocket_transform="minirocket", random_state=seed),
        "knn_euclidean": lambda: KNeighborsTimeSeriesClassifier(
            n_neighbors=1, distance="euclidean"
        ),
        "knn_dtw": lambda: KNeighborsTimeSeriesClassifier(n_neighbors=1, distance="dtw"),
        "tspulse_classifier": lambda: _tspulse_classifier(pretrained, seed),
    }
    return {name: factories[name]() for name in methods}


def _tspulse_classifier(pretrained: str, seed: int):
    from sslts.sktime import TSPulseSktimeClassifier

    return TSPulseSktimeClassifier(pretrained=pretrained, random_state=seed)


def _run_one(key: str, methods: list[str], pretrained: str, seed: int) -> pd.DataFrame:
    """One ClassificationBenchmark over one data set (runs inside a loky worker)."""
    import warnings

    from sklearn.metrics import accuracy_score
    from sklearn.model_selection import PredefinedSplit
    from sktime.benchmarking.classification import ClassificationBenchmark

    limit_threads(1)
    # sktime reports a fold standard deviation; with one fold numpy warns about it.
    warnings.filterwarnings("ignore", message="Degrees of freedom", category=RuntimeWarning)
    warnings.filterwarnings("ignore", message="invalid value encountered", category=RuntimeWarning)
    archive, name = key.split("/")
    data = load_classification(name, archive)
    X = np.concatenate([data.X_train, data.X_test])
    y = np.concatenate([data.y_train, data.y_test])
    official = PredefinedSplit([-1] * len(data.y_train) + [0] * len(data.y_test))

    bench = ClassificationBenchmark()
    for est_id, estimator in _estimators(methods, pretrained, seed).items():
        bench.add_estimator(estimator, estimator_id=est_id)
    bench.add_task((X, y), official, [accuracy_score], task_id=key, error_score=np.nan)
    frame = bench.run()
    frame = frame.assign(
        dataset=name,
        archive=archive,
        channels=X.shape[1],
        length=X.shape[2],
        n_train=len(data.y_train),
        n_test=len(data.y_test),
    )
    return frame


def _table(results: pd.DataFrame) -> pd.DataFrame:
    """One row per data set, one accuracy column per method (+ fit seconds)."""
    acc = results.pivot(index="dataset", columns="model_id", values="accuracy_score_fold_0_test")
    fit = results.pivot(index="dataset", columns="model_id", values="fit_time_fold_0_test")
    described = ["archive", "channels", "length", "n_train", "n_test"]
    meta = results.groupby("dataset")[described].first()
    table = meta.join(acc).join(fit.add_suffix("_fit_s").round(2))
    return table.reset_index()


def plot(table: pd.DataFrame, methods: list[str], path: Path) -> None:
    """Grouped bars: accuracy per data set and method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(table)), 4.0))
    width = 0.8 / len(methods)
    positions = np.arange(len(table))
    for i, method in enumerate(methods):
        ax.bar(positions + i * width, table[method], width, label=method)
    ax.set_xticks(positions + 0.4 - width / 2, table["dataset"], rotation=30, ha="right")
    ax.set_ylabel("test accuracy (official split)")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.set_title("sktime ClassificationBenchmark")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = make_parser(__doc__, seed=True, n_jobs=2)
    parser.add_argument(
        "--datasets", nargs="+", default=list(DEFAULT_DATASETS),
        help="ARCHIVE/NAME or NAME (UCR), or 'all' for every data set in the data folder",
    )
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--pretrained", default="default", help="checkpoint of the sslts models")
    parser.add_argument(
        "--output",
        type=Path,
        default=results_path("sktime_classification"),
        help="CSV to write; the plot goes next to it (.png)",
    )
    args = parser.parse_args(argv)
    limit_threads(1)  # the environment variables reach the loky workers

    if args.datasets == ["all"]:
        keys = [f"{archive}/{name}" for archive, name in list_classification()]
    else:
        keys = [key if "/" in key else f"UCR/{key}" for key in args.datasets]

    start = time.perf_counter()
    jobs = Parallel(n_jobs=args.n_jobs, backend="loky", return_as="generator_unordered")(
        delayed(_run_one)(key, args.methods, args.pretrained, args.seed) for key in keys
    )
    frames = list(tqdm(jobs, total=len(keys), desc="data sets"))
    table = _table(pd.concat(frames, ignore_index=True)).sort_values("dataset")
    methods = [m for m in args.methods if m in table.columns]
    write_csv(args.output, table.to_dict("records"))
    plot(table, methods, args.output.with_suffix(".png"))

    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(table[["dataset", "archive", "channels", "length", "n_train", *methods]].round(3))
        print("\nmean accuracy:", table[methods].mean().round(3).to_dict())
        ranks = table[methods].rank(axis=1, ascending=False).mean()
        print("mean rank (1 = best):", ranks.round(2).to_dict())
    elapsed = time.perf_counter() - start
    print(f"\n{len(keys)} data sets in {elapsed:.0f} s -> {args.output} (+ .png)")
    return table


if __name__ == "__main__":
    main()
