"""Classification suite: TSPulse pipelines and TSPulseClassifier against MiniRocket and aeon's best.

On every classification data set shared with the team (``--archive UCR UEA``, the
default: 30 UCR + 4 UEA sets) or on the 36 selection sets (``--archive UCR_extra``),
official train/test splits, each method as users run it, fitted on the training
split and scored on the test split:

``tspulse``
    the canonical pipeline, ``Pipeline([("emb", TSPulseEmbedder()),
    ("clf", LogisticRegression())])`` (the embedder standardises its features);
``tspulse_scaled``
    ``TSPulseEmbedder(standardize=False)`` -> ``StandardScaler()`` ->
    ``LogisticRegression()``;
``tspulse_classifier``
    ``TSPulseClassifier()`` with its defaults (the canonical pipeline's linear probe,
    then fine-tuning; the slowest method by far on a CPU: leave it out with
    ``--methods``);
``minirocket``
    sktime's MiniRocket -> ``RidgeClassifierCV`` (``_common.minirocket_accuracy``);
``multirocket_hydra``, ``quant``
    aeon's ``MultiRocketHydraClassifier`` and ``QUANTClassifier``, defaults.

Every method gets ``random_state=--seed``; nothing is tuned on a test split. One
joblib job per (data set, method) pair, each limited to ``--threads`` threads;
``seconds`` is the wall time of fit + predict in that job, after a warm-up of the
method on a tiny random panel in the same process (numba compilation, checkpoint
loading) so that it does not count.

Writes ``<out>.csv`` (one row per data set and method: accuracy, seconds, data set
shape), rewritten after every finished pair; a rerun skips the pairs already
there, so a killed run resumes. Also ``<out>.png`` (each TSPulse method's accuracy
against MiniRocket's, per data set) and, with aeon, ``<out>_cd.png`` (critical
difference diagram: mean ranks, cliques by Wilcoxon-Holm). Prints the accuracy
table with mean accuracy and mean rank, mean seconds, and wins/ties/losses of
each method against MiniRocket.

Run::

    nice -n 5 python benchmarks/bench_classification_suite.py --n-jobs 2
    nice -n 5 python benchmarks/bench_classification_suite.py --archive UCR_extra --n-jobs 2
    python benchmarks/bench_classification_suite.py --datasets Chinatown Coffee ERing \\
        --methods tspulse tspulse_scaled minirocket quant --out /tmp/suite_smoke
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from _common import (
    RESULTS,
    limit_threads,
    make_parser,
    minirocket_accuracy,
    read_csv,
    write_csv,
)
from joblib import Parallel, delayed

from sslts.data.datasets import (
    ClassificationData,
    list_classification,
    load_classification,
)

ARCHIVES = ("UCR", "UEA", "UCR_extra")

#: Columns of the CSV, one row per (data set, method).
COLUMNS = (
    "archive",
    "dataset",
    "method",
    "accuracy",
    "seconds",
    "channels",
    "length",
    "n_train",
    "n_test",
    "n_classes",
)


def _tspulse(data: ClassificationData, seed: int) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from sslts import TSPulseEmbedder

    clf = Pipeline(
        [("emb", TSPulseEmbedder(random_state=seed)), ("clf", LogisticRegression())]
    )
    return float(clf.fit(data.X_train, data.y_train).score(data.X_test, data.y_test))


def _tspulse_scaled(data: ClassificationData, seed: int) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from sslts import TSPulseEmbedder

    clf = Pipeline(
        [
            ("emb", TSPulseEmbedder(standardize=False, random_state=seed)),
            ("scale", StandardScaler()),
            ("clf", LogisticRegression()),
        ]
    )
    return float(clf.fit(data.X_train, data.y_train).score(data.X_test, data.y_test))


def _tspulse_classifier(data: ClassificationData, seed: int) -> float:
    from sslts import TSPulseClassifier

    clf = TSPulseClassifier(random_state=seed)
    return float(clf.fit(data.X_train, data.y_train).score(data.X_test, data.y_test))


def _multirocket_hydra(data: ClassificationData, seed: int) -> float:
    from aeon.classification.convolution_based import MultiRocketHydraClassifier

    clf = MultiRocketHydraClassifier(random_state=seed, n_jobs=1)
    clf.fit(data.X_train, data.y_train)
    return float(np.mean(clf.predict(data.X_test) == data.y_test))


def _quant(data: ClassificationData, seed: int) -> float:
    from aeon.classification.interval_based import QUANTClassifier

    clf = QUANTClassifier(random_state=seed)
    clf.fit(data.X_train, data.y_train)
    return float(np.mean(clf.predict(data.X_test) == data.y_test))


#: Method name -> test accuracy of that method on a data set, in table order.
METHODS: dict[str, Callable[[ClassificationData, int], float]] = {
    "tspulse": _tspulse,
    "tspulse_scaled": _tspulse_scaled,
    "tspulse_classifier": _tspulse_classifier,
    "minirocket": minirocket_accuracy,
    "multirocket_hydra": _multirocket_hydra,
    "quant": _quant,
}
#: Methods that need aeon (the ``benchmarks`` extra).
AEON_METHODS = ("multirocket_hydra", "quant")
#: Not warmed up: a tiny fit would train for its full epoch budget.
NO_WARM_UP = ("tspulse_classifier",)

#: (method, channels > 1) pairs already warmed up in this process.
_warm: set[tuple[str, bool]] = set()


def _warm_up(method: str, channels: int, seed: int) -> None:
    """Run ``method`` once on a tiny random panel so compilation is not timed."""
    key = (method, channels > 1)
    if method in NO_WARM_UP or key in _warm:
        return
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((12, channels, 64)).astype(np.float32)
    y = np.repeat(np.array(["a", "b"]), 6)
    METHODS[method](ClassificationData("warm-up", "none", X, y, X, y), seed)
    _warm.add(key)


def _run(archive: str, name: str, method: str, seed: int, threads: int) -> dict:
    limit_threads(threads)
    data = load_classification(name, archive)
    _warm_up(method, data.X_train.shape[1], seed)
    start = time.perf_counter()
    accuracy = METHODS[method](data, seed)
    return {
        "archive": archive,
        "dataset": name,
        "method": method,
        "accuracy": round(accuracy, 6),
        "seconds": round(time.perf_counter() - start, 2),
        "channels": data.X_train.shape[1],
        "length": data.X_train.shape[2],
        "n_train": len(data.y_train),
        "n_test": len(data.y_test),
        "n_classes": len(np.unique(data.y_train)),
    }


def _table(rows: list[dict], sets: list[tuple[str, str]], methods: list[str]) -> np.ndarray:
    """Accuracy matrix ``(len(sets), len(methods))``, NaN where a pair has no result."""
    found = {(r["archive"], r["dataset"], r["method"]): r["accuracy"] for r in rows}
    return np.array(
        [[found.get((a, n, m), np.nan) for m in methods] for a, n in sets], dtype=float
    )


def _ranks(acc: np.ndarray) -> np.ndarray:
    """Rank of each method per data set (1 = best, ties averaged)."""
    from scipy.stats import rankdata

    return np.vstack([rankdata(-row) for row in acc])


def _wins(acc: np.ndarray, methods: list[str], a: str, b: str) -> str:
    diff = acc[:, methods.index(a)] - acc[:, methods.index(b)]
    wins, ties = int((diff > 1e-9).sum()), int((np.abs(diff) <= 1e-9).sum())
    return (
        f"{a} vs {b}: {wins} wins / {ties} ties / {len(diff) - wins - ties} losses, "
        f"mean difference {100 * diff.mean():+.1f} points"
    )


def _plot_pairs(acc: np.ndarray, sets: list, methods: list[str], path: Path) -> None:
    """Each TSPulse method's accuracy against MiniRocket's, one point per data set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mine = [m for m in methods if m.startswith("tspulse")]
    ref = acc[:, methods.index("minirocket")]
    low = max(0.0, np.floor(10 * acc.min()) / 10 - 0.05)
    fig, axes = plt.subplots(1, len(mine), figsize=(4.5 * len(mine), 4.8), squeeze=False)
    for ax, method in zip(axes[0], mine):
        ours = acc[:, methods.index(method)]
        ax.plot([low, 1], [low, 1], color="grey", lw=1)
        ax.scatter(ref, ours, s=22)
        for (_, name), x, y in zip(sets, ref, ours):
            ax.annotate(name[:12], (x, y), fontsize=6, alpha=0.7)
        wins, losses = int((ours > ref + 1e-9).sum()), int((ours < ref - 1e-9).sum())
        ax.set_title(f"{method}: {wins} wins, {losses} losses", fontsize=10)
        ax.set_xlabel(f"MiniRocket accuracy (mean {ref.mean():.3f})")
        ax.set_ylabel(f"{method} accuracy (mean {ours.mean():.3f})")
        ax.set(xlim=(low, 1.01), ylim=(low, 1.01), aspect="equal")
        ax.grid(alpha=0.3)
    fig.suptitle(f"{len(sets)} data sets; above the line = better than MiniRocket")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _plot_cd(acc: np.ndarray, methods: list[str], path: Path) -> bool:
    """aeon's critical difference diagram; False when aeon is not installed."""
    try:
        from aeon.visualisation import plot_critical_difference
    except ImportError:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, _ = plot_critical_difference(acc, list(methods))
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return True


def _report(rows: list[dict], sets: list, methods: list[str], out: Path) -> None:
    acc = _table(rows, sets, methods)
    done = ~np.isnan(acc).any(axis=1)
    width = max(len("MEAN RANK"), *(len(n) for _, n in sets))
    print(f"{'dataset':{width}s} " + " ".join(f"{m:>18s}" for m in methods))
    for (_, name), row in zip(sets, acc):
        print(f"{name:{width}s} " + " ".join(f"{v:18.3f}" for v in row))
    if not done.any():
        return
    complete = acc[done]
    print(f"{'MEAN':{width}s} " + " ".join(f"{v:18.3f}" for v in complete.mean(axis=0)))
    ranks = _ranks(complete).mean(axis=0)
    print(f"{'MEAN RANK':{width}s} " + " ".join(f"{v:18.2f}" for v in ranks))
    complete_sets = {s for s, d in zip(sets, done) if d}
    seconds = {
        m: np.mean([r["seconds"] for r in rows
                    if r["method"] == m and (r["archive"], r["dataset"]) in complete_sets])
        for m in methods
    }
    print(f"{'MEAN SECONDS':{width}s} " + " ".join(f"{seconds[m]:18.1f}" for m in methods))
    print(f"(means and ranks over the {int(done.sum())} of {len(sets)} sets with every method)")
    if "minirocket" in methods:
        for method in methods:
            if method != "minirocket":
                print(_wins(complete, methods, method, "minirocket"))
        if any(m.startswith("tspulse") for m in methods):
            _plot_pairs(complete, [s for s, d in zip(sets, done) if d], methods,
                        out.with_suffix(".png"))
    if len(methods) > 1 and done.sum() > 1:
        cd = out.parent / f"{out.name}_cd.png"
        if not _plot_cd(complete, methods, cd):
            print("(no critical difference diagram: aeon is not installed)")


def main(argv: list[str] | None = None) -> list[dict]:
    parser = make_parser(__doc__, seed=True, threads=1, n_jobs=1)
    parser.add_argument(
        "--archive",
        nargs="+",
        choices=ARCHIVES,
        default=["UCR", "UEA"],
        help="archives to run (default: UCR UEA, the 34 shared sets; UCR_extra: the 36 "
        "selection sets)",
    )
    parser.add_argument("--datasets", nargs="+", help="only these data sets of the archives")
    parser.add_argument(
        "--methods",
        nargs="+",
        choices=list(METHODS),
        default=list(METHODS),
        help="methods to run (default: all)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="output path without suffix (default: benchmarks/results/classification_suite, "
        "with the suffix _extra for UCR_extra alone)",
    )
    args = parser.parse_args(argv)
    if args.out is None:
        name = "classification_suite_extra" if args.archive == ["UCR_extra"] else "classification_suite"
        args.out = RESULTS / name
    methods = [m for m in METHODS if m in args.methods]
    if any(m in AEON_METHODS for m in methods):
        try:
            import aeon  # noqa: F401
        except ImportError as exc:
            raise SystemExit(
                f"{', '.join(m for m in methods if m in AEON_METHODS)} need aeon: "
                "pip install -e .[benchmarks], or leave them out with --methods"
            ) from exc

    sets = [pair for archive in args.archive for pair in list_classification(archive)]
    if args.datasets:
        unknown = set(args.datasets) - {name for _, name in sets}
        if unknown:
            raise SystemExit(f"no data set {sorted(unknown)} in archives {args.archive}")
        sets = [(a, n) for a, n in sets if n in args.datasets]

    csv_path = args.out.with_suffix(".csv")
    rows = read_csv(csv_path) if csv_path.exists() else []
    done = {(r["archive"], r["dataset"], r["method"]) for r in rows}
    todo = [(a, n, m) for a, n in sets for m in methods if (a, n, m) not in done]
    print(f"{len(todo)} (data set, method) pairs to run, {len(sets) * len(methods) - len(todo)} "
          f"already in {csv_path}")
    jobs = Parallel(n_jobs=args.n_jobs, return_as="generator_unordered")(
        delayed(_run)(a, n, m, args.seed, args.threads) for a, n, m in todo
    )
    start = time.perf_counter()
    order = {m: i for i, m in enumerate(METHODS)}
    for i, row in enumerate(jobs, 1):
        rows.append(row)
        rows.sort(key=lambda r: (r["archive"], r["dataset"], order.get(r["method"], len(order))))
        write_csv(csv_path, rows, COLUMNS)
        print(f"[{i}/{len(todo)} {time.perf_counter() - start:6.0f}s] {row['dataset']:28s} "
              f"{row['method']:18s} accuracy {row['accuracy']:.3f}  {row['seconds']:7.1f}s",
              flush=True)
    _report(rows, sets, methods, args.out)
    return rows


if __name__ == "__main__":
    main()
