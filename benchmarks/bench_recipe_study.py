"""Which pretraining recipe pays? Objective x synthetic data, judged by frozen linear probes.

Every *cell* pretrains one encoder of about 0.8-1M parameters on the same number
of synthetic series (``--samples``, each series seen once, one pass of AdamW
with 5 % linear warm-up and per-step cosine decay, batch 64, lr 1e-3), then is
frozen and judged by StandardScaler + LogisticRegression on embeddings:

* ``tspulse:<data>``: TSPulse (r1-like, 0.96M parameters) with its dual-space
  masked-reconstruction objective, through :func:`sslts.training.pretrain`, on
  ``cauker``, ``kernelsynth`` or ``mixed`` (1:1) data;
* ``<objective>:<data>`` for the latent objectives of :mod:`sslts.objectives`
  (``lejepa``, ``dino``, ``mts-jepa``, ``masked``) on the shared patch
  Transformer (context 512, patch 16, d_model 128, 4 layers: 0.82M
  parameters); MTS-JEPA predicts the next window, so it uses context 256 on
  the same 512-point series.

All cells draw from the same generators with the same ``--seed``
(:func:`sslts.data.sources.make_source`; TSPulse's series carry 32 more points
for its forecast head).
Equal *samples*, not equal wall time: the wall time of every cell is
reported beside its accuracy (latent objectives with several views cost more
per sample).

Two sets of data sets, named in advance (never a test split for choices):

* **selection** (``UCR_extra``, 36 UCR sets): the recipe is *chosen* by its
  mean accuracy here;
* **report** (the 30 UCR + 4 UEA sets of ``list_classification()``): reported,
  never used to choose.

Same run, same splits: each set also gets the random-init encoders of both
architectures and MiniRocket. ``--curve-samples`` retrains the two best cells
(on the selection mean) at smaller budgets, and ``--extra NAME=CHECKPOINT@SAMPLES``
adds existing TSPulse checkpoints (e.g. the shipped one) to the
accuracy-vs-samples curve. Checkpoints go to ``--runs`` (outside git) and
every accuracy is appended to the CSV as soon as it is measured, so a killed
study resumes where it stopped.

Run::

    python benchmarks/bench_recipe_study.py --samples 16384 \\
        --extra tspulse-synth=tspulse-synth@512000
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import limit_threads, make_parser, minirocket_accuracy, read_csv, write_csv

ARCHIVES = {"selection": ("UCR_extra",), "report": ("UCR", "UEA")}
DEFAULT_CELLS = (
    "tspulse:cauker",
    "tspulse:kernelsynth",
    "tspulse:mixed",
    "masked:mixed",
    "lejepa:mixed",
    "dino:mixed",
    "mts-jepa:mixed",
)
#: Parameter-matched patch Transformer of the latent cells (0.82M parameters).
LATENT_ARCHITECTURE = {"patch_length": 16, "d_model": 128, "n_layers": 4, "n_heads": 4}
SERIES_LENGTH = 512
BATCH_SIZE, LR, WEIGHT_DECAY, WARMUP = 64, 1e-3, 0.01, 0.05
COLUMNS = ("cell", "samples", "split", "archive", "dataset", "length", "accuracy", "seconds")


def _context(objective: str) -> int:
    return SERIES_LENGTH // 2 if objective == "mts-jepa" else SERIES_LENGTH


def _train_tspulse(data: str, samples: int, path: Path, seed: int) -> Path:
    from sslts.training import pretrain

    pretrain(
        path,
        data=data,
        n_samples=samples,
        batch_size=BATCH_SIZE,
        lr=LR,
        weight_decay=WEIGHT_DECAY,
        warmup_fraction=WARMUP,
        checkpoint_every=64,
        seed=seed,
        device="cpu",
        verbose=False,
        command=f"bench_recipe_study.py tspulse:{data} --samples {samples} --seed {seed}",
    )
    return path


def _train_latent(objective_name: str, data: str, samples: int, path: Path, seed: int) -> Path:
    """One pass over ``samples`` fresh series with the TSPulse recipe's optimiser and schedule."""
    import numpy as np
    import torch
    from skorch.callbacks import GradientNormClipping

    from sslts._validation import Panel
    from sslts.data.sources import make_source
    from sslts.models import JEPAConfig
    from sslts.objectives import get_objective
    from sslts.pretrained import save_checkpoint
    from sslts.training import PretrainNet, WarmupCosineLR, pretrain_callbacks

    objective = get_objective(objective_name)
    context = _context(objective_name)
    config = JEPAConfig(context_length=context, **LATENT_ARCHITECTURE)
    source, recipe = make_source(data, SERIES_LENGTH, seed)
    series = source.generate(samples)[:, None, :].astype(np.float32)
    panel = Panel(series, None, np.full(samples, SERIES_LENGTH))
    torch.manual_seed(seed)
    module = objective.initial_module(config)
    batch = objective.batch(panel, context)
    n_steps = -(-len(next(iter(batch.values()))) // BATCH_SIZE)
    net = PretrainNet(
        module,
        criterion=objective.criterion,
        **{f"criterion__{k}": v for k, v in objective.criterion_params(module).items()},
        optimizer__weight_decay=WEIGHT_DECAY,
        max_epochs=1,
        lr=LR,
        batch_size=BATCH_SIZE,
        iterator_train__shuffle=True,
        device="cpu",
        callbacks=pretrain_callbacks(
            objective.loss_parts,
            max_epochs=1,
            schedule=WarmupCosineLR(n_steps, int(WARMUP * n_steps)),
            extra=[
                ("clip", GradientNormClipping(gradient_clip_value=1.0)),
                *objective.callbacks(module),
            ],
        ),
        verbose=0,
    )
    started = time.perf_counter()
    net.fit(batch)
    encoder = objective.encoder(net.module_.eval())
    save_checkpoint(
        encoder,
        path,
        family="jepa-encoder",
        description=f"{objective_name} on {data} synthetic data, recipe study",
        training={
            "objective": objective_name,
            "data": recipe,
            "samples_seen": samples,
            "batch_size": BATCH_SIZE,
            "lr": LR,
            "wall_time_s": round(time.perf_counter() - started, 1),
            "final_losses": {k: float(v) for k, v in net.history[-1].items() if k.startswith(("loss", "train"))},
        },
    )
    return path


def _embedder(kind: str, checkpoint: Any, seed: int):
    """Frozen embedder of ``kind`` ("tspulse" or "latent") for ``checkpoint`` (None: random init)."""
    if kind == "tspulse":
        from sslts import TSPulseEmbedder

        # one patch phase: the read-out every recipe of the study was compared with
        return TSPulseEmbedder(
            pretrained=checkpoint, patch_phases=1, random_state=seed, device="cpu"
        )
    from sslts import JEPAEmbedder

    architecture = {} if checkpoint is not None else {"context_length": SERIES_LENGTH, **LATENT_ARCHITECTURE}
    return JEPAEmbedder(
        objective="masked", pretrained=checkpoint, max_epochs=0, random_state=seed, device="cpu", **architecture
    )


def _probe_accuracy(embedder, data) -> float:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    Z_train = embedder.fit_transform(data.X_train)
    Z_test = embedder.transform(data.X_test)
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return float(probe.fit(Z_train, data.y_train).score(Z_test, data.y_test))


class Study:
    """Accuracies measured so far (read back from the CSV) and the ones still to measure."""

    def __init__(self, path: Path, datasets: list[str] | None = None) -> None:
        self.path = path
        self.datasets = datasets
        self.rows = read_csv(path) if path.exists() else []
        self._done = {(r["cell"], r["samples"], r["dataset"]) for r in self.rows}

    def evaluate(self, cell: str, samples: int, score: Callable[[Any], float]) -> None:
        """Score ``cell`` on every selection and report data set it lacks."""
        from tqdm.auto import tqdm

        from sslts.data.datasets import list_classification, load_classification

        todo = [
            (split, archive, name)
            for split, archives in ARCHIVES.items()
            for archive in archives
            for _, name in list_classification(archive)
            if (cell, samples, name) not in self._done and (not self.datasets or name in self.datasets)
        ]
        for split, archive, name in tqdm(todo, desc=f"{cell}@{samples}", unit="set", leave=False):
            data = load_classification(name, archive)
            started = time.perf_counter()
            accuracy = score(data)
            self.rows.append(
                {
                    "cell": cell,
                    "samples": samples,
                    "split": split,
                    "archive": archive,
                    "dataset": name,
                    "length": data.X_train.shape[2],
                    "accuracy": accuracy,
                    "seconds": round(time.perf_counter() - started, 1),
                }
            )
            self._done.add((cell, samples, name))
            write_csv(self.path, self.rows, COLUMNS)

    def mean(self, cell: str, samples: int, split: str) -> float:
        values = [r["accuracy"] for r in self.rows if (r["cell"], r["samples"], r["split"]) == (cell, samples, split)]
        return sum(values) / len(values) if values else float("nan")


def _length_regime(length: int) -> str:
    return "short (<128)" if length < 128 else "medium (128-512)" if length <= 512 else "long (>512)"


def _summary(study: Study, wall: dict[tuple[str, int], float]) -> list[dict[str, Any]]:
    keys = sorted({(r["cell"], r["samples"]) for r in study.rows}, key=lambda k: (k[0], k[1]))
    rows = []
    for cell, samples in keys:
        mine = [r for r in study.rows if (r["cell"], r["samples"]) == (cell, samples)]
        row: dict[str, Any] = {
            "cell": cell,
            "samples": samples,
            "train_seconds": wall.get((cell, samples), ""),
            "selection": study.mean(cell, samples, "selection"),
            "report": study.mean(cell, samples, "report"),
        }
        for regime in ("short (<128)", "medium (128-512)", "long (>512)"):
            values = [r["accuracy"] for r in mine if r["split"] == "report" and _length_regime(r["length"]) == regime]
            row[f"report {regime}"] = sum(values) / len(values) if values else ""
        rows.append(row)
    return rows


def _plot(
    summary: list[dict[str, Any]], samples: int, curve_cells: list[str], extras: list[str], path: Path
) -> None:
    """Equal-budget bars (and the references), then accuracy vs samples per split."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    by_key = {(r["cell"], r["samples"]): r for r in summary}
    fig, (bars, *curves) = plt.subplots(1, 3, figsize=(17, 5), gridspec_kw={"width_ratios": [3, 2, 2]})
    main = [r for r in summary if r["samples"] in (samples, 0)]
    x = np.arange(len(main))
    for offset, split in ((-0.2, "selection"), (0.2, "report")):
        bars.bar(x + offset, [r[split] for r in main], 0.4, label=split)
    bars.set_xticks(x, [r["cell"] for r in main], rotation=60, ha="right", fontsize=8)
    bars.set_ylim(0.5, 0.95)
    bars.set_ylabel("mean test accuracy (scaler + logistic regression)")
    bars.set_title(f"every cell after {samples:,} series (references: 0)", fontsize=9)
    bars.legend()
    bars.grid(axis="y", alpha=0.3)
    for ax, split in zip(curves, ("selection", "report")):
        for cell in curve_cells:
            points = sorted((r["samples"], r[split]) for r in summary if r["cell"] == cell and r["samples"])
            ax.plot(*zip(*points), "o-", label=cell)
        for name in extras:
            for (cell, n), r in by_key.items():
                if cell == f"tspulse:{name}":
                    ax.plot(n, r[split], "*", markersize=12, label=f"{cell} ({n:,})")
        for reference, style in (("minirocket", "k--"), ("random:tspulse", "k:")):
            if (reference, 0) in by_key:
                ax.axhline(by_key[(reference, 0)][split], color=style[0], linestyle=style[1:], label=reference)
        ax.set_xscale("log")
        ax.set_xlabel("synthetic series seen")
        ax.set_title(f"{split} sets", fontsize=9)
        ax.grid(alpha=0.3)
    curves[0].set_ylabel("mean test accuracy")
    curves[1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = make_parser(__doc__, out="recipe_study", seed=True, threads=1)
    parser.add_argument("--samples", type=int, default=16384, help="series seen by every cell")
    parser.add_argument("--cells", nargs="*", default=list(DEFAULT_CELLS), help="objective:data cells")
    parser.add_argument("--runs", type=Path, default=Path("runs/recipe_study"), help="checkpoint folder")
    parser.add_argument(
        "--curve-samples", type=int, nargs="*", default=[], help="smaller budgets for the two best cells"
    )
    parser.add_argument(
        "--extra", nargs="*", default=[], help="NAME=CHECKPOINT@SAMPLES: TSPulse checkpoints added to the curve"
    )
    parser.add_argument("--datasets", nargs="*", help="only these data sets (for a quick check)")
    args = parser.parse_args(argv)
    limit_threads(args.threads)
    study = Study(args.out.with_suffix(".csv"), args.datasets)
    wall: dict[tuple[str, int], float] = {}

    def run_cell(cell: str, samples: int) -> None:
        objective, data = cell.split(":")
        path = args.runs / f"{objective}-{data}-{samples}"
        started = time.perf_counter()
        if objective == "tspulse":  # resumes an unfinished run, returns at once on a finished one
            _train_tspulse(data, samples, path, args.seed)
        elif not path.with_suffix(".safetensors").exists():
            _train_latent(objective, data, samples, path, args.seed)
        wall[(cell, samples)] = _wall_time(path, time.perf_counter() - started)
        kind = "tspulse" if objective == "tspulse" else "latent"
        study.evaluate(cell, samples, lambda d: _probe_accuracy(_embedder(kind, str(path), args.seed), d))

    study.evaluate("random:tspulse", 0, lambda d: _probe_accuracy(_embedder("tspulse", None, args.seed), d))
    study.evaluate("random:latent", 0, lambda d: _probe_accuracy(_embedder("latent", None, args.seed), d))
    study.evaluate("minirocket", 0, lambda d: minirocket_accuracy(d, args.seed))
    for cell in args.cells:
        run_cell(cell, args.samples)
    for spec in args.extra:
        name, rest = spec.split("=", 1)
        checkpoint, samples = rest.rsplit("@", 1)
        study.evaluate(
            f"tspulse:{name}", int(samples), lambda d, c=checkpoint: _probe_accuracy(_embedder("tspulse", c, args.seed), d)
        )
    ranked = sorted(args.cells, key=lambda c: -study.mean(c, args.samples, "selection"))
    for cell in ranked[:2]:
        for samples in args.curve_samples:
            run_cell(cell, samples)

    summary = _summary(study, wall)
    write_csv(args.out.with_name(args.out.name + "_summary.csv"), summary)
    extras = [spec.split("=", 1)[0] for spec in args.extra]
    _plot(summary, args.samples, ranked[:2], extras, args.out.with_suffix(".png"))
    print(f"chosen on the selection pool: {ranked[0]} (then {ranked[1] if len(ranked) > 1 else '-'})")
    print(f"{'cell':28s} {'samples':>9s} {'train s':>8s} {'selection':>10s} {'report':>8s}  report by length")
    for r in summary:
        regimes = " ".join(
            f"{r[k]:.3f}" if r[k] != "" else "  -  " for k in r if k.startswith("report ")
        )
        print(
            f"{r['cell']:28s} {r['samples']:9d} {r['train_seconds']!s:>8s} "
            f"{r['selection']:10.3f} {r['report']:8.3f}  {regimes}"
        )
    return summary


def _wall_time(path: Path, measured: float) -> float:
    """Training wall time from the card (the run may have been trained by an earlier call)."""
    import json

    card = json.loads(path.with_suffix(".json").read_text())
    return float(card.get("training", {}).get("wall_time_s", round(measured, 1)))


if __name__ == "__main__":
    main()
