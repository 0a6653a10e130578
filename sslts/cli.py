"""Command line: ``sslts demo | pretrain | checkpoints | benchmark dividend``."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from collections.abc import Sequence

__all__ = ["main"]


def _format_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


#: ``sslts demo --methods`` choices, in table order.
DEMO_METHODS = ("tspulse", "finetuned", "minirocket", "random-init", "raw")


def _demo(args: argparse.Namespace) -> int:
    import warnings

    import numpy as np
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression, RidgeClassifierCV
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sktime.datasets import load_gunpoint

    from sslts import TSPulseClassifier, TSPulseEmbedder

    X_train, y_train = load_gunpoint(split="train", return_type="numpy3D")
    X_test, y_test = load_gunpoint(split="test", return_type="numpy3D")
    print(
        f"GunPoint (shipped with sktime): {len(X_train)} train / {len(X_test)} test "
        f"series of length {X_train.shape[-1]}, {len(set(y_train))} classes"
    )
    # Labels show the arguments as users type them; random_state=args.seed is left out.
    checkpoint = {} if args.pretrained == "default" else {"pretrained": args.pretrained}
    epochs = {} if args.max_epochs is None else {"max_epochs": args.max_epochs}

    def call(name, params):
        return f"{name}({', '.join(f'{k}={v!r}' for k, v in params.items())})"

    def canonical(params):
        """The pipeline users type: ``TSPulseEmbedder(...)``, then ``LogisticRegression()``."""
        embedder = TSPulseEmbedder(**params, random_state=args.seed)
        pipeline = Pipeline([("emb", embedder), ("clf", LogisticRegression())])
        label = f"{call('TSPulseEmbedder', params)} + LogisticRegression()"
        return label, lambda: pipeline.fit(X_train, y_train).predict

    def finetuned():
        clf = TSPulseClassifier(**checkpoint, **epochs, random_state=args.seed)
        label = call("TSPulseClassifier", {**checkpoint, **epochs})
        return label, lambda: clf.fit(X_train, y_train).predict

    def minirocket():
        from sktime.transformations.panel.rocket import MiniRocket

        rocket = MiniRocket(random_state=args.seed)
        ridge = make_pipeline(
            StandardScaler(with_mean=False), RidgeClassifierCV(alphas=np.logspace(-3, 3, 10))
        )

        def fit():
            # Not one sklearn Pipeline: sktime's fit() deletes the callback attribute
            # that scikit-learn >= 1.9's Pipeline sets on its steps (docs/sktime.md).
            ridge.fit(rocket.fit_transform(X_train), y_train)
            return lambda X: ridge.predict(rocket.transform(X))

        return "MiniRocket() + RidgeClassifierCV()", fit

    def raw():
        pipeline = make_pipeline(StandardScaler(), LogisticRegression())

        def fit():
            pipeline.fit(X_train[:, 0, :], y_train)
            return lambda X: pipeline.predict(X[:, 0, :])

        return "StandardScaler() + LogisticRegression()", fit

    methods = {
        "tspulse": (lambda: canonical(checkpoint), "recommended: frozen pretrained encoder"),
        "finetuned": (finetuned, "linear probe, then encoder fine-tuned"),
        "minirocket": (minirocket, "reference: sktime's MiniRocket, no deep learning"),
        "random-init": (
            lambda: canonical({"pretrained": None}),
            "control: random weights, no pretraining",
        ),
        "raw": (raw, "control: raw values, no encoder"),
    }
    rows, unconverged = [], False
    for key in DEMO_METHODS:
        if key not in args.methods:
            continue
        make, role = methods[key]
        label, fit = make()
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            predict = fit()
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        accuracy = float(np.mean(predict(X_test) == y_test))
        predict_seconds = time.perf_counter() - start
        for w in caught:
            if not issubclass(w.category, ConvergenceWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        mark = "*" if any(issubclass(w.category, ConvergenceWarning) for w in caught) else ""
        unconverged = unconverged or bool(mark)
        rows.append(
            [label, role, f"{accuracy:.3f}{mark}", f"{fit_seconds:.1f}", f"{predict_seconds:.1f}"]
        )
    print(_format_table(["method", "what it is", "accuracy", "fit s", "predict s"], rows))
    if unconverged:
        print("* the solver stopped at its iteration limit before converging")
    print(
        f"Test accuracy on the official split, random_state={args.seed}; seconds on this "
        "machine.\nOn 34 UCR/UEA data sets: benchmarks/bench_classification_suite.py "
        "in the sslts repository."
    )
    return 0


def _checkpoints(args: argparse.Namespace) -> int:
    from sslts.pretrained import available_checkpoints, load_checkpoint

    rows = []
    for name in available_checkpoints():
        card = load_checkpoint(name).card
        rows.append([name, card["model"], card.get("n_parameters", "?"), card.get("description", "")])
    print(_format_table(["name", "model", "parameters", "description"], rows))
    return 0


def _pretrain(args: argparse.Namespace) -> int:
    from dataclasses import fields

    from sslts.models import TSPulseConfig
    from sslts.training import pretrain

    overrides = {
        f.name: getattr(args, f.name)
        for f in fields(TSPulseConfig)
        if getattr(args, f.name, None) is not None
    }
    if args.init is not None and overrides:
        raise ValueError(
            "architecture options cannot be combined with --init (the run continues "
            f"with the checkpoint's architecture); got {sorted(overrides)}"
        )
    result = pretrain(
        args.output,
        data=args.data,
        config=None if args.init is not None else TSPulseConfig(**overrides),
        init=args.init,
        amp=args.amp,
        steps=args.steps,
        n_samples=args.n_samples,
        batch_size=args.batch_size,
        lr=args.lr,
        checkpoint_every=args.checkpoint_every,
        seed=args.seed,
        device=args.device,
        n_jobs=args.n_jobs,
        max_minutes=args.max_minutes,
        overwrite=args.overwrite,
        command=args.command_line,
        verbose=not args.quiet,
    )
    if result.rank != 0:  # a data-parallel run: rank 0 speaks for all
        return 0
    status = "finished" if result.finished else "stopped (run again to resume)"
    losses = result.card["training"]["final_losses"] or {}
    print(
        f"{status} at step {result.steps}; checkpoint {result.checkpoint}; "
        f"final loss {losses.get('train_loss', float('nan')):.4f}"
    )
    return 0


def _add_pretrain_parser(sub: argparse._SubParsersAction) -> None:
    from dataclasses import fields

    from sslts.models import TSPulseConfig

    parser = sub.add_parser(
        "pretrain",
        help="pretrain TSPulse on synthetic or user data (resumable)",
        description="Pretrain TSPulse; kill and rerun the same command to resume.",
    )
    parser.add_argument("--output", required=True, help="checkpoint stem (writes .safetensors/.json/.png)")
    parser.add_argument("--data", default="cauker", help="cauker, kernelsynth, mixed, or a .npy file")
    length = parser.add_mutually_exclusive_group(required=True)
    length.add_argument("--steps", type=int, help="optimiser steps")
    length.add_argument("--n-samples", type=int, help="series to train on")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--checkpoint-every", type=int, default=200, help="steps between checkpoints")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--n-jobs", type=int, default=1, help="data generation workers")
    parser.add_argument("--max-minutes", type=float, help="stop resumably after this wall time")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace OUTPUT.safetensors/.json left by another run (no run folder)",
    )
    parser.add_argument(
        "--amp",
        action="store_true",
        help="bfloat16 autocast: faster on GPUs and CPUs with AVX512_BF16/AMX, "
        "slower on other CPUs",
    )
    parser.add_argument(
        "--init",
        help="continue from this TSPulse checkpoint (name or path): its weights and "
        "architecture, a fresh optimiser; use a new --seed for new data",
    )
    arch = parser.add_argument_group("architecture (defaults: the r1-like TSPulse)")
    for f in fields(TSPulseConfig):
        arch.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, type=type(f.default))
    parser.set_defaults(func=_pretrain)


def _benchmark_dividend(args: argparse.Namespace) -> int:
    import dataclasses

    from sslts._torch import resolve_device
    from sslts.studies import (
        DividendPlan,
        load_suite,
        plan_grid,
        quick_plan,
        run_dividend_study,
    )
    from sslts.studies._tasks import DEFAULT_ANOMALY, DEFAULT_CLASSIFICATION

    if args.scale < 1:
        raise ValueError(f"--scale must be >= 1, got {args.scale}")
    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
    plan = quick_plan() if args.quick else DividendPlan()
    budget = plan.budget.scaled(args.scale) if args.scale > 1 else plan.budget
    if args.steps is not None:
        if args.steps < 1:
            raise ValueError(f"--steps must be >= 1, got {args.steps}")
        budget = dataclasses.replace(budget, steps=args.steps)
    seeds = tuple(args.seeds) if args.seeds else tuple(range(len(plan.seeds) * args.scale))
    changes = {"budget": budget, "seeds": seeds}
    for name in ("objectives", "data", "depths"):
        if getattr(args, name):
            changes[name] = tuple(getattr(args, name))
    plan = dataclasses.replace(plan, **changes)
    plan_grid(plan)  # a bad choice fails before any data is read
    classification = tuple(args.classification or DEFAULT_CLASSIFICATION[: 1 if args.quick else None])
    anomaly = tuple(args.anomaly or DEFAULT_ANOMALY[: 1 if args.quick else None])
    try:
        suite = load_suite(
            classification, anomaly, args.forecasting, finetune_epochs=2 if args.quick else 10
        )
    except FileNotFoundError as exc:  # a data set missing from $SSLTS_DATA_DIR is a user error
        raise ValueError(str(exc)) from None
    device = str(resolve_device(args.device))
    run_dividend_study(args.out, plan, suite=suite, device=device)
    print(f"wrote {args.out}/dividend.csv, heatmap.png, depth.png, data_origin.png and report.md")
    return 0


def _add_benchmark_parser(sub: argparse._SubParsersAction) -> None:
    from pathlib import Path

    parser = sub.add_parser("benchmark", help="run a benchmark study of the library")
    studies = parser.add_subparsers(dest="study", required=True)
    dividend = studies.add_parser(
        "dividend",
        help="the pre-training dividend: 5 objectives x 3 data origins vs scratch on 4 tasks",
        description="Pretrain one encoder budget with TSPulse, masked patches, MTS-JEPA, LeJEPA "
        "and DINO on CauKer, KernelSynth and real data; compare each with the same network "
        "from scratch on classification, anomaly detection, forecasting and imputation; "
        "sweep depth; ablate DWT. Resumable: rerun to continue. Default size: about an hour "
        "on 2 CPU cores.",
    )
    dividend.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/dividend"), help="result folder"
    )
    dividend.add_argument(
        "--scale", type=int, default=1, help="multiply steps, width and seeds (for a GPU)"
    )
    dividend.add_argument("--seeds", type=int, nargs="+", help="seeds (default 0 1 2)")
    dividend.add_argument("--device", default="cpu", help="cpu, cuda, auto...")
    dividend.add_argument("--quick", action="store_true", help="tiny smoke run (a few minutes)")
    dividend.add_argument("--steps", type=int, help="pretraining steps (default 300, x scale)")
    dividend.add_argument("--objectives", nargs="+", help="objectives of the main grid")
    dividend.add_argument("--data", nargs="+", help="pretraining data: cauker kernelsynth real")
    dividend.add_argument("--depths", type=int, nargs="+", help="depth sweep (default 1 2 4 8)")
    dividend.add_argument("--classification", nargs="+", help="UCR data sets")
    dividend.add_argument("--anomaly", nargs="+", help="anomaly series keys")
    dividend.add_argument("--forecasting", default="ETTh1", help="ETT file of forecasting and imputation")
    dividend.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    dividend.set_defaults(func=_benchmark_dividend)


def build_parser() -> argparse.ArgumentParser:
    """The ``sslts`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="sslts", description="Self-supervised time-series encoders for scikit-learn."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="classify GunPoint with TSPulse and MiniRocket, print a result table",
        description="Compare, on GunPoint (shipped with sktime), the frozen TSPulse "
        "encoder + LogisticRegression, the fine-tuned TSPulseClassifier, MiniRocket "
        "and two controls: test accuracy and seconds.",
    )
    demo.add_argument(
        "--pretrained", default="default", help="TSPulse checkpoint name or path"
    )
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument(
        "--methods",
        nargs="+",
        choices=DEMO_METHODS,
        default=list(DEMO_METHODS),
        metavar="METHOD",
        help=f"rows to run, from {', '.join(DEMO_METHODS)} (default: all)",
    )
    demo.add_argument(
        "--max-epochs",
        type=int,
        help="epoch cap of TSPulseClassifier (default: its own); e.g. 1 for a quick check",
    )
    demo.set_defaults(func=_demo)
    _add_pretrain_parser(sub)
    _add_benchmark_parser(sub)
    ckpts = sub.add_parser("checkpoints", help="list the checkpoints shipped with sslts")
    ckpts.set_defaults(func=_checkpoints)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sslts`` console script.

    A user error (a bad argument value, an invalid checkpoint, a pretraining
    fault such as a full disk or a locked output) prints ``error: <message>``
    and returns 2, without a traceback; anything else propagates.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.command_line = shlex.join(["sslts", *argv])
    try:
        return args.func(args)
    except Exception as exc:
        from sslts.training import PretrainError

        if not isinstance(exc, (ValueError, PretrainError)):  # CheckpointError included
            raise
        if os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 speaks for all
            print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
