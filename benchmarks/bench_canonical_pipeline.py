"""Does the canonical pipeline need a scaler? Embedder -> LogisticRegression(), as users type it.

For every data set of the chosen archive, test accuracy and scikit-learn
``ConvergenceWarning`` count of three pipelines, all with the shipped checkpoint
(frozen, semantic embeddings) and ``LogisticRegression()`` with its defaults:

(a) ``canonical``: ``Pipeline([("emb", TSPulseEmbedder()), ("clf", LogisticRegression())])``,
    run literally (the embedder standardizes its output, ``standardize=True``);
(b) ``scaled``: ``TSPulseEmbedder(standardize=False)`` -> ``StandardScaler()`` ->
    ``LogisticRegression()``;
(c) ``raw``: ``TSPulseEmbedder(standardize=False)`` -> ``LogisticRegression()``, the
    behaviour before ``standardize`` existed.

(b) and (c) share one raw embedding of each split (the frozen encoder is
deterministic, so this equals running them as pipelines); (a) embeds on its own,
so ``max_proba_diff`` (largest difference of ``predict_proba`` between (a) and
(b)) checks end to end that the canonical pipeline is the scaled one.

Archives: ``--archive UCR_extra`` is the selection pool (design decisions are
made on it); without ``--archive`` the report sets (UCR + UEA, as
:func:`sslts.data.datasets.list_classification` lists them). Nothing is tuned.

Run::

    python benchmarks/bench_canonical_pipeline.py --archive UCR_extra   # selection pool
    python benchmarks/bench_canonical_pipeline.py                       # report sets
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from _common import limit_threads, make_parser, results_path, write_csv

METHODS = ("canonical", "scaled", "raw")
COLUMNS = (
    "archive",
    "dataset",
    "n_train",
    "n_test",
    "n_classes",
    "n_features",
    *(f"acc_{m}" for m in METHODS),
    *(f"convergence_warnings_{m}" for m in METHODS),
    *(f"n_iter_{m}" for m in METHODS),
    "max_proba_diff",
    "seconds",
)


def _fit_counting(pipeline, X, y) -> tuple[object, int]:
    """``pipeline`` fitted on ``X, y`` and the number of ConvergenceWarnings it raised."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        pipeline.fit(X, y)
    return pipeline, sum(issubclass(w.category, ConvergenceWarning) for w in caught)


def run_dataset(data, seed: int, device: str) -> dict:
    """Accuracies, warning counts and iterations of the three pipelines on one data set."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sslts import TSPulseEmbedder

    start = time.perf_counter()
    raw_embedder = TSPulseEmbedder(standardize=False, device=device, random_state=seed)
    Z_train = raw_embedder.fit_transform(data.X_train)
    Z_test = raw_embedder.transform(data.X_test)
    canonical = Pipeline(
        [
            ("emb", TSPulseEmbedder(device=device, random_state=seed)),
            ("clf", LogisticRegression()),
        ]
    )
    fitted = {
        "canonical": _fit_counting(canonical, data.X_train, data.y_train),
        "scaled": _fit_counting(
            make_pipeline(StandardScaler(), LogisticRegression()), Z_train, data.y_train
        ),
        "raw": _fit_counting(LogisticRegression(), Z_train, data.y_train),
    }
    test_inputs = {"canonical": data.X_test, "scaled": Z_test, "raw": Z_test}
    row = {
        "archive": data.archive,
        "dataset": data.name,
        "n_train": len(data.y_train),
        "n_test": len(data.y_test),
        "n_classes": len(np.unique(data.y_train)),
        "n_features": Z_train.shape[1],
    }
    for method, (model, n_warnings) in fitted.items():
        row[f"acc_{method}"] = float(model.score(test_inputs[method], data.y_test))
        row[f"convergence_warnings_{method}"] = n_warnings
        classifier = model if method == "raw" else model[-1]
        row[f"n_iter_{method}"] = int(np.max(classifier.n_iter_))
    row["max_proba_diff"] = float(
        np.abs(
            fitted["canonical"][0].predict_proba(data.X_test)
            - fitted["scaled"][0].predict_proba(Z_test)
        ).max()
    )
    row["seconds"] = round(time.perf_counter() - start, 1)
    return row


def summarize(rows: list[dict]) -> str:
    """Mean accuracies, sets where (a) trails (b), warning totals."""
    lines = [f"{len(rows)} data sets"]
    for method in METHODS:
        accs = [r[f"acc_{method}"] for r in rows]
        warned = [r["dataset"] for r in rows if r[f"convergence_warnings_{method}"]]
        lines.append(
            f"  {method:9s} mean accuracy {np.mean(accs):.4f}; ConvergenceWarnings on "
            f"{len(warned)} set(s){': ' + ', '.join(warned) if warned else ''}"
        )
    trailing = [r["dataset"] for r in rows if r["acc_canonical"] < r["acc_scaled"] - 0.005]
    lines.append(f"  canonical < scaled - 0.005 on {len(trailing)} set(s) {trailing}")
    lines.append(f"  largest predict_proba difference canonical vs scaled: "
                 f"{max(r['max_proba_diff'] for r in rows):.2e}")
    gains = [r["acc_canonical"] - r["acc_raw"] for r in rows]
    lines.append(
        f"  canonical - raw: mean {np.mean(gains):+.4f}, max {np.max(gains):+.4f}, "
        f"min {np.min(gains):+.4f}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = make_parser(__doc__, out="canonical_pipeline", seed=True, threads=1)
    parser.add_argument(
        "--archive",
        help="UCR_extra (the selection pool; results in canonical_pipeline_UCR_extra.csv); "
        "default: the report sets, UCR + UEA",
    )
    parser.add_argument("--datasets", nargs="*", help="subset of data set names")
    parser.add_argument("--device", default="cpu", help="device= of the embedders (default cpu)")
    args = parser.parse_args(argv)
    limit_threads(args.threads)
    from sslts.data.datasets import list_classification, load_classification

    out = args.out
    if args.archive and out == results_path("canonical_pipeline", ""):
        out = results_path(f"canonical_pipeline_{args.archive}", "")
    todo = [
        (archive, name)
        for archive, name in list_classification(args.archive)
        if not args.datasets or name in args.datasets
    ]
    rows = []
    for archive, name in todo:
        row = run_dataset(load_classification(name, archive), args.seed, args.device)
        rows.append(row)
        print(
            f"{name:32s} canonical {row['acc_canonical']:.3f}  scaled {row['acc_scaled']:.3f}  "
            f"raw {row['acc_raw']:.3f}  warnings {row['convergence_warnings_canonical']}/"
            f"{row['convergence_warnings_scaled']}/{row['convergence_warnings_raw']}  "
            f"{row['seconds']:.0f}s",
            flush=True,
        )
    path = write_csv(out.with_suffix(".csv"), rows, COLUMNS)
    print(summarize(rows))
    print(f"wrote {path}")
    return rows


if __name__ == "__main__":
    main()
