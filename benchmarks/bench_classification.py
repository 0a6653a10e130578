"""Fine-tuned TSPulse (TSLens head) vs frozen TSPulse embeddings vs MiniRocket.

For each classification data set in ``$SSLTS_DATA_DIR/classification`` (official
train/test splits) chosen by ``--max-train`` (default: every set with at most 100
training series, fixed before any result was seen, to fit a 2-core CPU budget):

(a) ``TSPulseClassifier()`` with its defaults: default checkpoint, TSLens head,
    patch embeddings fine-tuned, at most ``--max-epochs`` epochs (default 30) with
    early stopping (patience 10) on a stratified 20 % validation split of the
    *training* series;
(b) the frozen protocol of ``bench_pretrained_classification.py``: semantic
    ``TSPulseEmbedder`` embeddings -> ``LogisticRegression``, raw and standardised
    (its code is reused, not copied);
(c) MiniRocket -> ``RidgeClassifierCV`` (same code as (b)'s benchmark).

No hyper-parameter is chosen on a test split: the classifier's defaults were set
on GunPoint, ArrowHead and ItalyPowerDemand (sktime's shipped copies, none of them
in this benchmark); early stopping sees only training series; RidgeClassifierCV
picks its penalty by cross-validation on the training split.

Writes ``<out>.csv`` (one row per data set) and ``<out>.png`` (fine-tuned accuracy
against MiniRocket's and against the frozen pipeline's), prints the table, mean
accuracies and wins/ties/losses.

Run::

    nice -n 5 python benchmarks/bench_classification.py --n-jobs 2
    python benchmarks/bench_classification.py --datasets Coffee ERing --max-epochs 5
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from _common import limit_threads, make_parser, minirocket_accuracy, write_csv
from bench_pretrained_classification import _tspulse
from joblib import Parallel, delayed
from tqdm.auto import tqdm

from sslts.classification import TSPulseClassifier
from sslts.data.datasets import list_classification, load_classification

METHODS = ("finetuned", "frozen", "frozen_scaled", "minirocket")


def _run(archive: str, name: str, max_epochs: int, seed: int) -> dict:
    limit_threads(1)
    data = load_classification(name, archive)
    start = time.perf_counter()
    clf = TSPulseClassifier(max_epochs=max_epochs, random_state=seed)
    clf.fit(data.X_train, data.y_train)
    finetuned = float(clf.score(data.X_test, data.y_test))
    finetune_s = time.perf_counter() - start
    frozen = _tspulse(data, "default", seed)
    return {
        "dataset": name,
        "archive": archive,
        "channels": data.X_train.shape[1],
        "length": data.X_train.shape[2],
        "n_train": len(data.y_train),
        "n_test": len(data.y_test),
        "finetuned": finetuned,
        "frozen": frozen["raw"],
        "frozen_scaled": frozen["scaled"],
        "minirocket": minirocket_accuracy(data, seed),
        "epochs": len(clf.history_),
        "best_epoch": clf.best_epoch_,
        "finetune_seconds": round(finetune_s, 1),
        "seconds": round(time.perf_counter() - start, 1),
    }


def _plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fine = np.array([r["finetuned"] for r in rows])
    fig, axes = plt.subplots(1, 2, figsize=(10, 5))
    for ax, other, label in (
        (axes[0], "minirocket", "MiniRocket"),
        (axes[1], "frozen_scaled", "frozen TSPulse + scaled LR"),
    ):
        ref = np.array([r[other] for r in rows])
        ax.plot([0, 1], [0, 1], color="grey", lw=1)
        ax.scatter(ref, fine, s=25)
        for r, x, y in zip(rows, ref, fine):
            ax.annotate(r["dataset"][:12], (x, y), fontsize=6, alpha=0.7)
        ax.set_xlabel(f"{label} accuracy (mean {ref.mean():.3f})")
        ax.set_ylabel(f"fine-tuned TSPulse accuracy (mean {fine.mean():.3f})")
        ax.set_xlim(0, 1.02)
        ax.set_ylim(0, 1.02)
        ax.set_aspect("equal")
        ax.grid(alpha=0.3)
    fig.suptitle(f"TSPulseClassifier (TSLens) on {len(rows)} UCR/UEA data sets; above the line = fine-tuned wins")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _wins(rows: list[dict], a: str, b: str) -> str:
    diff = np.array([r[a] - r[b] for r in rows])
    return (
        f"{a} vs {b}: {int((diff > 1e-9).sum())} wins / {int((np.abs(diff) <= 1e-9).sum())} "
        f"ties / {int((diff < -1e-9).sum())} losses, mean difference {100 * diff.mean():+.1f} points"
    )


def main(argv: list[str] | None = None) -> list[dict]:
    parser = make_parser(__doc__, out="classification", seed=True, n_jobs=1)
    parser.add_argument("--datasets", nargs="*", help="data set names (overrides --max-train)")
    parser.add_argument("--max-train", type=int, default=100, help="largest training split run")
    parser.add_argument("--max-epochs", type=int, default=30)
    args = parser.parse_args(argv)

    todo = []
    for archive, name in list_classification():
        if args.datasets:
            if name in args.datasets:
                todo.append((archive, name))
        elif len(load_classification(name, archive).y_train) <= args.max_train:
            todo.append((archive, name))
    jobs = Parallel(n_jobs=args.n_jobs, return_as="generator_unordered")(
        delayed(_run)(archive, name, args.max_epochs, args.seed) for archive, name in todo
    )
    rows = list(tqdm(jobs, total=len(todo), unit="dataset"))
    order = {key: i for i, key in enumerate(todo)}
    rows.sort(key=lambda r: order[(r["archive"], r["dataset"])])

    write_csv(args.out.with_suffix(".csv"), rows)
    _plot(rows, args.out.with_suffix(".png"))

    print(f"{'dataset':28s} " + " ".join(f"{m:>13s}" for m in METHODS) + "  epochs")
    for r in rows:
        print(
            f"{r['dataset']:28s} " + " ".join(f"{r[m]:13.3f}" for m in METHODS)
            + f"  {r['best_epoch']}/{r['epochs']}"
        )
    means = {m: float(np.mean([r[m] for r in rows])) for m in METHODS}
    print(f"{'MEAN':28s} " + " ".join(f"{means[m]:13.3f}" for m in METHODS))
    print(_wins(rows, "finetuned", "minirocket"))
    print(_wins(rows, "finetuned", "frozen_scaled"))
    return rows


if __name__ == "__main__":
    main()
