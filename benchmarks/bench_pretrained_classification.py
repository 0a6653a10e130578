"""Does pretraining pay? Classification with frozen TSPulse embeddings vs MiniRocket.

For every classification data set in ``$SSLTS_DATA_DIR/classification`` (30 UCR +
4 UEA sets, official train/test splits), in one run:

(a) ``TSPulseEmbedder(pretrained=<checkpoint>)`` → ``LogisticRegression``: the
    canonical pipeline, semantic embeddings (the estimator's default);
(b) the same with the architecture randomly initialised (``pretrained=None``);
(a') and (b') the same two with a ``StandardScaler`` before the classifier. A
    random encoder's embeddings are tiny and nearly constant (std ~1e-3), so (b)
    mostly measures that; scaled, random mixer features are a strong baseline and
    (a') - (b') isolates what pretraining adds to the representation itself;
(c) MiniRocket (``MiniRocketMultivariate`` for several channels) →
    ``StandardScaler(with_mean=False)`` → ``RidgeClassifierCV``, sktime's classical
    reference.

No hyper-parameter is tuned on a test split: the logistic regression uses fixed
defaults, and RidgeClassifierCV chooses its penalty by cross-validation on the
training split. Writes a per-data-set CSV and a bar plot, and prints the table with
mean accuracies.

Run::

    python benchmarks/bench_pretrained_classification.py            # all data sets
    python benchmarks/bench_pretrained_classification.py --datasets Coffee BME
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from _common import make_parser, minirocket_accuracy, write_csv
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

from sslts import TSPulseEmbedder
from sslts.data.datasets import list_classification, load_classification

METHODS = ("pretrained", "random_init", "pretrained_scaled", "random_init_scaled", "minirocket")


def _tspulse(data, pretrained, seed) -> dict[str, float]:
    """Accuracy of logistic regression on the embeddings, raw and standardised."""
    emb = TSPulseEmbedder(pretrained=pretrained, random_state=seed)
    Z_train = emb.fit_transform(data.X_train)
    Z_test = emb.transform(data.X_test)
    raw = LogisticRegression(max_iter=5000)
    scaled = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    return {
        "raw": float(raw.fit(Z_train, data.y_train).score(Z_test, data.y_test)),
        "scaled": float(scaled.fit(Z_train, data.y_train).score(Z_test, data.y_test)),
    }


def _plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["dataset"] for r in rows] + ["MEAN"]
    width = 0.8 / len(METHODS)
    fig, ax = plt.subplots(figsize=(max(10, 0.5 * len(names)), 4.5))
    for i, method in enumerate(METHODS):
        values = [r[method] for r in rows]
        values.append(float(np.mean(values)))
        offset = (i - (len(METHODS) - 1) / 2) * width
        ax.bar(np.arange(len(names)) + offset, values, width, label=method)
    ax.set_xticks(np.arange(len(names)), names, rotation=70, ha="right", fontsize=8)
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    ax.legend(ncol=len(METHODS), fontsize=8, loc="upper center", bbox_to_anchor=(0.5, 1.12))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = make_parser(__doc__, out="pretrained_classification", seed=True)
    parser.add_argument("--checkpoint", default="default", help="pretrained= of TSPulseEmbedder")
    parser.add_argument("--datasets", nargs="*", help="subset of data set names")
    parser.add_argument(
        "--baseline-checkpoint",
        help="a second checkpoint embedded in the same run (columns baseline, "
        "baseline_scaled), to compare two checkpoints on the same splits",
    )
    args = parser.parse_args(argv)
    methods = METHODS + (("baseline", "baseline_scaled") if args.baseline_checkpoint else ())

    todo = [(a, n) for a, n in list_classification() if not args.datasets or n in args.datasets]
    rows = []
    for archive, name in tqdm(todo, unit="dataset"):
        data = load_classification(name, archive)
        start = time.perf_counter()
        pretrained = _tspulse(data, args.checkpoint, args.seed)
        random_init = _tspulse(data, None, args.seed)
        baseline = (
            {}
            if args.baseline_checkpoint is None
            else _tspulse(data, args.baseline_checkpoint, args.seed)
        )
        rows.append(
            {
                "dataset": name,
                "archive": archive,
                "channels": data.X_train.shape[1],
                "length": data.X_train.shape[2],
                "n_train": len(data.y_train),
                "pretrained": pretrained["raw"],
                "random_init": random_init["raw"],
                "pretrained_scaled": pretrained["scaled"],
                "random_init_scaled": random_init["scaled"],
                "minirocket": minirocket_accuracy(data, args.seed),
                **{
                    f"baseline{'' if kind == 'raw' else '_scaled'}": value
                    for kind, value in baseline.items()
                },
                "seconds": round(time.perf_counter() - start, 1),
            }
        )

    write_csv(args.out.with_suffix(".csv"), rows)
    _plot(rows, args.out.with_suffix(".png"))

    print(f"{'dataset':28s} " + " ".join(f"{m:>19s}" for m in methods))
    for r in rows:
        print(f"{r['dataset']:28s} " + " ".join(f"{r[m]:19.3f}" for m in methods))
    means = {m: float(np.mean([r[m] for r in rows])) for m in methods}
    print(f"{'MEAN':28s} " + " ".join(f"{means[m]:19.3f}" for m in methods))
    def gap(a: str, b: str) -> str:
        return f"{a} - {b} = {100 * (means[a] - means[b]):+.1f} points"

    print(gap("pretrained", "random_init"), "|", gap("pretrained_scaled", "random_init_scaled"))
    print(gap("pretrained", "minirocket"), "|", gap("pretrained_scaled", "minirocket"))
    if args.baseline_checkpoint:
        print(gap("pretrained", "baseline"), "|", gap("pretrained_scaled", "baseline_scaled"))
    return rows


if __name__ == "__main__":
    main()
