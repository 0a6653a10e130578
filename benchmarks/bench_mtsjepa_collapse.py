"""MTS-JEPA pretraining on real telemetry: do the codes stay decisive and diverse?

SCIENCE.md §8: the reference MTS-JEPA code, at its softmax temperature of 1.0,
assigns every patch an almost uniform code distribution (top-code probability
about 0.015 with K=128), so its frozen features are constant while the
training loss still falls. This script pretrains our :class:`sslts.models.MTSJEPA`
on the official (anomaly-free) NASA SMAP and MSL training parts and measures,
on held-out windows, what a falling loss hides:

* ``top_code_probability`` (1/K = uniform) and ``code_usage_entropy``
  (entropy of the mean code distribution / log K) of the context patches;
* ``codes_used``: distinct most-probable codes over the held-out patches;
* ``feature_std``: mean over features of the standard deviation across windows
  of the early-warning features (code probabilities max-pooled over columns,
  :meth:`~sslts.models.MTSJEPA.code_features`); near 0 = constant features;
* ``embedding_rank``: effective rank of the per-patch latents.

Variants, all with the paper's loss weights unless named: ``tau0.1`` (the
paper's appendix), ``tau1.0`` (the published code), ``batch_entropy0.1``
(tau 0.1 with the code-diversity weight ``batch_entropy_weight`` raised from
the paper's 0.01 to 0.1, the sslts default), ``no_codebook`` and
``no_coarse`` (the ablation switches, tau 0.1).

Data (anomaly-free parts only): every non-constant column of the training
part of each shipped TSB-AD-M series (Genesis sensors, MSL, Daphnet
accelerometers) and the telemetry value (column 0) of each shipped SMAP/MSL
channel's official training array; each column is a univariate stream
(channel-independent pretraining, as in the paper's cross-domain setting),
standardised by its own mean and standard deviation (the paper's per-variable
normalisation; the reconstruction loss is measured in these units).
Consecutive non-overlapping 100-point windows give (context, next) pairs;
pairs with a flat window (nothing to encode: RevIN maps it to zeros; most
windows of the command-flag columns) are dropped; the last 10 % of each
stream's pairs are held out (the paper's 9:1 split). The model is a
CPU-sized version of the paper's (d_model 64, 2 encoder layers); K=128, the
paper's loss weights, Adam-W lr 5e-4, batch 128, gradient clipping 0.5, EMA
0.996.

Writes ``benchmarks/results/mtsjepa_collapse.csv`` (one row per variant and
seed, final held-out statistics), ``mtsjepa_collapse_history.csv`` (per
epoch) and ``mtsjepa_collapse.png``.

Run::

    nice -n 5 python benchmarks/bench_mtsjepa_collapse.py
    nice -n 5 python benchmarks/bench_mtsjepa_collapse.py --epochs 5 --seeds 1
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from _common import RESULTS, limit_threads, make_parser, write_csv
from skorch.callbacks import GradientNormClipping
from tqdm.auto import tqdm

from sslts.data.datasets import list_anomaly_series, load_anomaly_series, load_smap_msl
from sslts.models import MTSJEPA, JEPAConfig
from sslts.objectives import MTSJEPALosses, MTSJEPAObjective
from sslts.training import (
    PretrainNet,
    code_usage_entropy,
    effective_rank,
    mtsjepa_callbacks,
    pretrain_callbacks,
    top_code_probability,
)

WINDOW = 100
VARIANTS = {
    "tau0.1": {},
    "tau1.0": {"temperature": 1.0},
    "batch_entropy0.1": {"batch_entropy_weight": 0.1},
    "no_codebook": {"use_codebook": False},
    "no_coarse": {"use_coarse": False},
}


def _streams() -> list[np.ndarray]:
    """Univariate anomaly-free training streams: see the module docstring."""
    streams = []
    for key in list_anomaly_series("TSB-AD-M"):
        series = load_anomaly_series(key)
        train = series.values[: series.train_end]
        streams += [column for column in train.T if column.std() > 0]
    for key in list_anomaly_series(["SMAP", "MSL"]):
        streams.append(load_smap_msl(key.split("/", 1)[1]).train[:, 0])
    return [column for column in streams if column.std() > 0]


def load_pairs(max_streams: int | None) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], int]:
    """(context, next) pairs of every stream, training part and held-out part."""
    fit_x, fit_next, held_x, held_next, n_streams = [], [], [], [], 0
    for column in _streams()[:max_streams]:
        column = (column - column.mean()) / column.std()  # per-variable normalisation
        n = len(column) // WINDOW
        windows = column[: n * WINDOW].reshape(n, 1, WINDOW).astype(np.float32)
        x, x_next = windows[:-1], windows[1:]
        varied = (x.std(-1) > 1e-6).all(-1) & (x_next.std(-1) > 1e-6).all(-1)
        x, x_next = x[varied], x_next[varied]
        if len(x) < 2:
            continue
        cut = int(round(0.9 * len(x)))
        fit_x.append(x[:cut])
        fit_next.append(x_next[:cut])
        held_x.append(x[cut:])
        held_next.append(x_next[cut:])
        n_streams += 1
    fit = {"x": np.concatenate(fit_x), "x_next": np.concatenate(fit_next)}
    held = {"x": np.concatenate(held_x), "x_next": np.concatenate(held_next)}
    return fit, held, n_streams


def make_config(variant: str) -> JEPAConfig:
    """The paper's loss settings (batch entropy 0.01, reconstruction in data units)."""
    base = dict(
        d_model=64,
        n_layers=2,
        n_heads=4,
        predictor_dim=64,
        batch_entropy_weight=0.01,
        reconstruction_space="data",
    )
    return JEPAConfig(**{**base, **VARIANTS[variant]})


def train(cfg: JEPAConfig, data: dict[str, np.ndarray], epochs: int, seed: int) -> PretrainNet:
    callbacks = pretrain_callbacks(
        MTSJEPALosses._fields[1:],
        max_epochs=epochs,
        extra=[("clip", GradientNormClipping(0.5)), *mtsjepa_callbacks(cfg.ema_decay)],
    )
    torch.manual_seed(seed)
    net = PretrainNet(
        MTSJEPA,
        module__config=cfg,
        criterion=MTSJEPAObjective,
        criterion__config=cfg,
        optimizer__weight_decay=1e-5,
        max_epochs=epochs,
        batch_size=128,
        lr=5e-4,
        callbacks=callbacks,
        iterator_train__shuffle=True,
        verbose=0,
    )
    return net.fit(data)


@torch.no_grad()
def held_out_statistics(net: PretrainNet, held: dict[str, np.ndarray]) -> dict[str, float]:
    model = net.module_.eval()
    x = torch.from_numpy(held["x"])
    tokens = model.encode(x)
    stats = {
        "embedding_rank": effective_rank(tokens),
        "top_code_probability": float("nan"),
        "code_usage_entropy": float("nan"),
        "codes_used": float("nan"),
        "feature_std": float("nan"),
    }
    if model.codebook is not None:
        p = model.code_probabilities(x)
        features = model.code_features(x).flatten(1)
        stats.update(
            top_code_probability=top_code_probability(p),
            code_usage_entropy=code_usage_entropy(p),
            codes_used=float(p.argmax(-1).unique().numel()),
            feature_std=float(features.std(0).mean()),
        )
    objective = MTSJEPAObjective(model.config)
    objective.progress = 1.0
    batch = {k: torch.from_numpy(v) for k, v in held.items()}
    stats["held_out_loss"] = float(objective(model(**batch), **batch).total)
    return stats


def plot(history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    panels = [
        ("train_loss", "training loss"),
        ("code_top_probability", "mean top-code probability (train batches)"),
        ("embedding_rank", "latent effective rank (train batches)"),
    ]
    for ax, (key, title) in zip(axes, panels):
        for variant in VARIANTS:
            rows = [r for r in history if r["variant"] == variant and r["seed"] == 0]
            values = [r.get(key) for r in rows]
            if rows and all(v is not None for v in values):
                ax.plot([r["epoch"] for r in rows], values, label=variant)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("epoch")
    axes[1].axhline(1 / 128, color="grey", ls=":", lw=1, label="1/K")
    axes[1].set_yscale("log")
    axes[0].legend(fontsize=8)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = make_parser(__doc__, threads=1)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--max-streams", type=int, default=None)
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS,
        help="output folder (default: benchmarks/results)",
    )
    args = parser.parse_args()
    limit_threads(args.threads)
    fit_data, held, n_streams = load_pairs(args.max_streams)
    print(f"{n_streams} streams: {len(fit_data['x'])} training pairs, {len(held['x'])} held out")
    rows, history = [], []
    runs = [(v, s) for v in args.variants for s in range(args.seeds)]
    for variant, seed in tqdm(runs, desc="MTS-JEPA variants"):
        cfg = make_config(variant)
        start = time.perf_counter()
        net = train(cfg, fit_data, args.epochs, seed)
        seconds = time.perf_counter() - start
        for epoch in net.history:
            history.append(
                {
                    "variant": variant,
                    "seed": seed,
                    "epoch": epoch["epoch"],
                    "train_loss": epoch["train_loss"],
                    "code_top_probability": epoch.get("code_top_probability"),
                    "code_usage_entropy": epoch.get("code_usage_entropy"),
                    "embedding_rank": epoch.get("embedding_rank"),
                }
            )
        stats = held_out_statistics(net, held)
        rows.append(
            {
                "variant": variant,
                "seed": seed,
                "temperature": cfg.temperature,
                "epochs": args.epochs,
                "train_pairs": len(fit_data["x"]),
                "held_out_pairs": len(held["x"]),
                "first_train_loss": net.history[0, "train_loss"],
                "last_train_loss": net.history[-1, "train_loss"],
                **stats,
                "seconds": seconds,
            }
        )
        tqdm.write(
            f"{variant} seed {seed}: loss {rows[-1]['first_train_loss']:.3f} -> "
            f"{rows[-1]['last_train_loss']:.3f}, top {stats['top_code_probability']:.3f}, "
            f"usage {stats['code_usage_entropy']:.3f}, codes {stats['codes_used']}, "
            f"feature std {stats['feature_std']:.4f}, rank {stats['embedding_rank']:.2f}"
        )
    write_csv(args.out / "mtsjepa_collapse.csv", rows)
    write_csv(args.out / "mtsjepa_collapse_history.csv", history)
    plot(history, args.out / "mtsjepa_collapse.png")
    print(f"wrote {args.out / 'mtsjepa_collapse.csv'}")


if __name__ == "__main__":
    main()
