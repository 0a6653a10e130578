"""Zero-shot imputation of ETTh1/ETTh2 with TSPulse vs simple fillers.

Protocol
--------
* Data: ``$SSLTS_DATA_DIR/forecasting/ETT/ETTh{1,2}.csv``, the 7 numeric columns.
* Split: ETT's own 12/4/4-month split used by the long-term forecasting
  literature (Informer onwards): train = rows ``[0, 8640)``, validation =
  ``[8640, 11520)``, test = ``[11520, 14400)`` (2,880 hourly points each for
  validation and test). Every channel is z-scored with the *train* mean and
  standard deviation.
* The evaluated split (test by default; ``--split val`` for design choices,
  which were made on validation only) is imputed as one 7-channel series.
* Missingness, per channel and per seed: a hybrid mask of whole blocks of 8
  points covering half the target ratio, then independent points hidden with
  the probability that brings the total to the target (12.5, 25, 37.5, 50 %).
  Blocks are drawn by :func:`sslts.models.mixed_mask` on an 8-point grid that
  is then shifted by a random offset, so blocks do not line up with the
  model's patches.
* Score: MSE (and MAE) on the hidden points only, in z-score units, mean over
  seeds.

Methods: ``TSPulseImputer`` (zero-shot, shipped checkpoint), optionally the
same fine-tuned on each corrupted series' own observed values
(``--max-epochs``), linear interpolation, last observation carried
forward (first value back-filled), and the column mean of the observed values.

Run::

    nice -n 5 python benchmarks/bench_imputation.py
    nice -n 5 python benchmarks/bench_imputation.py --split val --variants --output imputation_val
    nice -n 5 python benchmarks/bench_imputation.py --max-epochs 5 --output imputation_ft
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from _common import limit_threads, make_parser, results_path, write_csv
from tqdm.auto import tqdm

from sslts.data.datasets import load_ett
from sslts.imputation import TSPulseImputer
from sslts.models import mixed_mask

RATIOS = (0.125, 0.25, 0.375, 0.5)
BLOCK = 8


def hybrid_mask(shape: tuple[int, int], ratio: float, seed: int) -> np.ndarray:
    """Block + point mask (True = hidden), independent per channel."""
    length, channels = shape
    generator = torch.Generator().manual_seed(seed)
    grid = -(-length // BLOCK) * BLOCK + BLOCK
    block_ratio = ratio / 2
    point_ratio = (ratio / 2) / (1 - block_ratio)
    blocks = mixed_mask(channels, grid, BLOCK, block_ratio, 0.0, generator=generator)
    offset = int(torch.randint(0, BLOCK, (1,), generator=generator))
    blocks = blocks[:, offset : offset + length].numpy().T
    points = torch.rand(length, channels, generator=generator).numpy() < point_ratio
    return blocks | points


def linear(x: np.ndarray) -> np.ndarray:
    out = x.copy()
    t = np.arange(len(x))
    for c in range(x.shape[1]):
        known = ~np.isnan(x[:, c])
        out[~known, c] = np.interp(t[~known], t[known], x[known, c])
    return out


def locf(x: np.ndarray) -> np.ndarray:
    out = x.copy()
    for c in range(x.shape[1]):
        col = out[:, c]
        known = np.flatnonzero(~np.isnan(col))
        index = np.maximum.accumulate(np.where(~np.isnan(col), np.arange(len(col)), -1))
        index[index < 0] = known[0]  # leading gap: first observed value
        out[:, c] = col[index]
    return out


def column_mean(x: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(x), np.nanmean(x, axis=0), x)


def tspulse(pretrained: str, **params):
    def impute(x: np.ndarray) -> np.ndarray:
        return TSPulseImputer(pretrained=pretrained, device="cpu", **params).fit_transform(x)

    return impute


def _plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = sorted({r["dataset"] for r in rows})
    fig, axes = plt.subplots(1, len(datasets), figsize=(5 * len(datasets), 3.8), squeeze=False)
    for ax, name in zip(axes[0], datasets):
        for method in dict.fromkeys(r["method"] for r in rows):
            sel = [r for r in rows if r["dataset"] == name and r["method"] == method]
            ax.plot(
                [100 * r["ratio"] for r in sel], [r["mse"] for r in sel], marker="o", label=method
            )
        ax.set_title(f"{name} ({rows[0]['split']} split)")
        ax.set_xlabel("missing points (%)")
        ax.set_ylabel("MSE on missing points (z-scored)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _docs_figure(x: np.ndarray, pretrained: str, seed: int, path: Path) -> None:
    """One imputed-vs-true figure (ETTh1 test, 25 % missing, first 300 hours)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sslts.plotting import plot_imputation

    mask = hybrid_mask(x.shape, 0.25, seed)
    filled = tspulse(pretrained)(np.where(mask, np.nan, x))
    span = slice(0, 300)
    fig, axes = plt.subplots(2, 1, figsize=(8, 4.5), sharex=True)
    for ax, channel in zip(axes, (0, 6)):
        plot_imputation(x[span], filled[span], mask[span], ax=ax, channels=[channel])
        ax.set_ylabel(("HUFL", "", "", "", "", "", "OT")[channel])
    axes[0].set_title("ETTh1 test, 25 % missing (block + point): TSPulse zero-shot")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = make_parser(__doc__)
    parser.add_argument("--datasets", nargs="+", default=["ETTh1", "ETTh2"])
    parser.add_argument("--split", choices=["val", "test"], default="test")
    parser.add_argument("--ratios", nargs="+", type=float, default=list(RATIOS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--pretrained", default="default")
    parser.add_argument(
        "--variants",
        action="store_true",
        help="also score the TSPulse head/anchoring variants (design choices; use on val)",
    )
    parser.add_argument(
        "--max-epochs",
        type=int,
        default=0,
        help="also score TSPulseImputer fine-tuned this many epochs on each corrupted "
        "series' observed values (method tspulse_finetuned)",
    )
    parser.add_argument("--output", default="imputation", help="results/<output>.csv/.png")
    parser.add_argument("--docs-figure", type=Path, default=None)
    args = parser.parse_args(argv)
    limit_threads(1)

    methods = {"tspulse": tspulse(args.pretrained)}
    if args.variants:
        for head in ("fft_time", "time", "mean"):
            for anchor in (True, False):
                name = f"tspulse[{head},{'anchor' if anchor else 'raw'}]"
                methods[name] = tspulse(args.pretrained, reconstruction=head, anchor=anchor)
    if args.max_epochs:
        methods["tspulse_finetuned"] = tspulse(
            args.pretrained, max_epochs=args.max_epochs, random_state=0
        )
    methods.update(linear=linear, locf=locf, column_mean=column_mean)

    grid = [(d, r, s) for d in args.datasets for r in args.ratios for s in args.seeds]
    scores: dict[tuple, list] = {}
    series = {d: load_ett(d, args.split) for d in args.datasets}
    for name, ratio, seed in tqdm(grid, desc="imputation"):
        x = series[name]
        mask = hybrid_mask(x.shape, ratio, seed)
        corrupted = np.where(mask, np.nan, x)
        for method, impute in methods.items():
            start = time.perf_counter()
            filled = impute(corrupted)
            seconds = time.perf_counter() - start
            err = (filled - x)[mask]
            scores.setdefault((name, ratio, method), []).append(
                (float(np.mean(err**2)), float(np.mean(np.abs(err))), float(mask.mean()), seconds)
            )

    rows = []
    for (name, ratio, method), vals in scores.items():
        mse, mae, frac, sec = np.mean(vals, axis=0)
        rows.append(
            dict(dataset=name, split=args.split, ratio=ratio, method=method,
                 mse=round(mse, 4), mae=round(mae, 4), missing=round(frac, 4),
                 seconds=round(sec, 3), n_seeds=len(vals))
        )
    csv_path = write_csv(results_path(args.output), rows)
    _plot(rows, results_path(args.output, ".png"))

    print(f"\nMSE on missing points ({args.split} split, mean of {len(args.seeds)} seeds)")
    names = list(methods)
    print(f"{'dataset':8} {'ratio':>6} " + " ".join(f"{m[:22]:>22}" for m in names)
          + "  tspulse/linear")
    for name in args.datasets:
        for ratio in args.ratios:
            by = {r["method"]: r["mse"] for r in rows if r["dataset"] == name and r["ratio"] == ratio}
            print(f"{name:8} {ratio:6.3f} " + " ".join(f"{by[m]:22.4f}" for m in names)
                  + f"  {by['tspulse'] / by['linear']:.2f}")
    print(f"wrote {csv_path} and {csv_path.with_suffix('.png')}")
    if args.docs_figure is not None and "ETTh1" in series:
        _docs_figure(series["ETTh1"], args.pretrained, args.seeds[0], args.docs_figure)
        print(f"wrote {args.docs_figure}")


if __name__ == "__main__":
    main()
