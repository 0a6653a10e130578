"""The pre-training dividend in miniature: latent vs generative SSL on the same encoder.

For each classification data set (official train/test splits from
``$SSLTS_DATA_DIR/classification``) and seed, a :class:`sslts.JEPAEmbedder`
with one fixed architecture is pretrained self-supervised on the *training*
series only (labels unused) with each objective, then frozen; a
``StandardScaler`` + ``LogisticRegression`` (fixed defaults, nothing tuned on the
test split) is fitted on its training embeddings and scored on the test split.

Methods: ``random_init`` (the same encoder, no pretraining), ``masked``
(generative: masked patch reconstruction), ``lejepa``, ``dino`` and
``mts-jepa`` (latent). MTS-JEPA trains on (context, next) window pairs and is
skipped (NaN) where series are shorter than two windows. Also recorded: the
effective rank of the training embeddings (collapse diagnostic, see
:func:`sslts.training.effective_rank`) and the fit time.

Run::

    nice -n 5 python benchmarks/bench_latent_dividend.py
    nice -n 5 python benchmarks/bench_latent_dividend.py --seeds 0 1 --steps 200
    python benchmarks/bench_latent_dividend.py --datasets Plane BME --seeds 0 1 --epochs 20
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from _common import limit_threads, make_parser, write_csv
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

from sslts.data.datasets import load_classification
from sslts.latent import JEPAEmbedder
from sslts.training import effective_rank

METHODS = ("random_init", "masked", "lejepa", "dino", "mts-jepa")
DEFAULT_DATASETS = ("BME", "UMD", "Plane", "PowerCons", "ECGFiveDays")


def epochs_for(data, args: argparse.Namespace) -> int:
    """``--epochs``, or enough epochs for about ``--steps`` optimisation steps when given.

    Steps per epoch are counted on the length policy's windows (MTS-JEPA has
    one pair fewer per series, so slightly fewer steps).
    """
    if args.steps is None:
        return args.epochs
    length = data.X_train.shape[-1]
    windows = len(data.X_train) * -(-length // args.context_length)
    steps_per_epoch = -(-windows // args.batch_size)
    return max(1, -(-args.steps // steps_per_epoch))


def run_one(data, method: str, seed: int, args: argparse.Namespace) -> dict[str, float]:
    """Pretrain (unless random_init), embed, probe; NaN when the objective cannot run."""
    objective = "lejepa" if method == "random_init" else method
    emb = JEPAEmbedder(
        objective=objective,
        context_length=args.context_length,
        patch_length=args.patch_length,
        d_model=args.d_model,
        n_layers=args.n_layers,
        n_heads=args.n_heads,
        max_epochs=0 if method == "random_init" else epochs_for(data, args),
        lr=args.lr,
        batch_size=args.batch_size,
        device="cpu",
        random_state=seed,
    )
    start = time.perf_counter()
    try:
        Z_train = emb.fit_transform(data.X_train)
    except ValueError as exc:
        if "2 * context_length" not in str(exc):
            raise
        return {"accuracy": float("nan"), "rank": float("nan"), "fit_s": float("nan")}
    fit_s = time.perf_counter() - start
    Z_test = emb.transform(data.X_test)
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
    accuracy = probe.fit(Z_train, data.y_train).score(Z_test, data.y_test)
    return {
        "accuracy": float(accuracy),
        "rank": effective_rank(torch.from_numpy(Z_train)),
        "fit_s": fit_s,
    }


def plot(rows: list[dict], path: Path) -> None:
    """Bar chart of mean accuracy per data set and method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = sorted({r["dataset"] for r in rows})
    width = 0.8 / len(METHODS)
    fig, ax = plt.subplots(figsize=(1.6 * len(datasets) + 2, 4))
    for k, method in enumerate(METHODS):
        means = [
            np.nanmean([r["accuracy"] for r in rows if r["dataset"] == d and r["method"] == method])
            for d in datasets
        ]
        ax.bar(np.arange(len(datasets)) + k * width, means, width, label=method)
    ax.set_xticks(np.arange(len(datasets)) + 0.4 - width / 2, datasets)
    ax.set_ylabel("test accuracy (linear probe)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, ncol=len(METHODS))
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = make_parser(__doc__, out="latent_dividend", threads=1)
    parser.add_argument("--datasets", nargs="+", default=list(DEFAULT_DATASETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument(
        "--steps", type=int, default=None,
        help="optimisation steps per fit (overrides --epochs; small sets get more epochs)",
    )
    parser.add_argument("--context-length", type=int, default=64)
    parser.add_argument("--patch-length", type=int, default=8)
    parser.add_argument("--d-model", type=int, default=32)
    parser.add_argument("--n-layers", type=int, default=2)
    parser.add_argument("--n-heads", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    limit_threads(args.threads)

    rows: list[dict] = []
    jobs = [(d, s, m) for d in args.datasets for s in args.seeds for m in METHODS]
    loaded = {d: load_classification(d) for d in args.datasets}
    for dataset, seed, method in tqdm(jobs, desc="latent dividend"):
        result = run_one(loaded[dataset], method, seed, args)
        rows.append({"dataset": dataset, "seed": seed, "method": method, **result})

    csv_path = write_csv(args.out.with_suffix(".csv"), rows)
    plot(rows, args.out.with_suffix(".png"))

    print(f"\n{'dataset':<14}" + "".join(f"{m:>13}" for m in METHODS))
    for dataset in args.datasets:
        cells = [
            np.nanmean([r["accuracy"] for r in rows if r["dataset"] == dataset and r["method"] == m])
            for m in METHODS
        ]
        print(f"{dataset:<14}" + "".join(f"{c:>13.3f}" for c in cells))
    means = [np.nanmean([r["accuracy"] for r in rows if r["method"] == m]) for m in METHODS]
    print(f"{'mean':<14}" + "".join(f"{c:>13.3f}" for c in means))
    ranks = [np.nanmean([r["rank"] for r in rows if r["method"] == m]) for m in METHODS]
    print(f"{'eff. rank':<14}" + "".join(f"{c:>13.1f}" for c in ranks))
    print(f"wrote {csv_path} and {csv_path.with_suffix('.png')}")


if __name__ == "__main__":
    main()
