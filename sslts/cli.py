"""Command line: ``sslts demo | checkpoints``."""

from __future__ import annotations

import argparse
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


def _demo(args: argparse.Namespace) -> int:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sktime.datasets import load_gunpoint

    from sslts import TSPulseEmbedder

    X_train, y_train = load_gunpoint(split="train", return_type="numpy3D")
    X_test, y_test = load_gunpoint(split="test", return_type="numpy3D")
    print(
        f"GunPoint (shipped with sktime): {len(X_train)} train / {len(X_test)} test "
        f"series of length {X_train.shape[-1]}, {len(set(y_train))} classes"
    )
    candidates = {
        f"TSPulseEmbedder({args.pretrained!r}) + LogisticRegression": make_pipeline(
            TSPulseEmbedder(pretrained=args.pretrained, random_state=args.seed),
            StandardScaler(),
            LogisticRegression(max_iter=2000),
        ),
        "TSPulseEmbedder(None: random init) + LogisticRegression": make_pipeline(
            TSPulseEmbedder(pretrained=None, random_state=args.seed),
            StandardScaler(),
            LogisticRegression(max_iter=2000),
        ),
        "raw values + LogisticRegression (no encoder)": make_pipeline(
            StandardScaler(), LogisticRegression(max_iter=2000)
        ),
    }
    rows = []
    for name, pipeline in candidates.items():
        start = time.perf_counter()
        X_fit = X_train if "raw" not in name else X_train[:, 0, :]
        X_eval = X_test if "raw" not in name else X_test[:, 0, :]
        pipeline.fit(X_fit, y_train)
        accuracy = pipeline.score(X_eval, y_test)
        rows.append([name, f"{accuracy:.3f}", f"{time.perf_counter() - start:.1f}"])
    print(_format_table(["pipeline", "test accuracy", "seconds"], rows))
    return 0


def _checkpoints(args: argparse.Namespace) -> int:
    from sslts.pretrained import available_checkpoints, load_checkpoint

    rows = []
    for name in available_checkpoints():
        card = load_checkpoint(name).card
        rows.append([name, card["model"], card.get("n_parameters", "?"), card.get("description", "")])
    print(_format_table(["name", "model", "parameters", "description"], rows))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``sslts`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="sslts", description="Self-supervised time-series encoders for scikit-learn."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="embed GunPoint, fit a classifier, print a result table"
    )
    demo.add_argument("--pretrained", default="default", help="checkpoint name or path")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=_demo)
    ckpts = sub.add_parser("checkpoints", help="list the checkpoints shipped with sslts")
    ckpts.set_defaults(func=_checkpoints)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sslts`` console script."""
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
