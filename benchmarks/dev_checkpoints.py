"""Which checkpoint should the canonical pipeline load? (selection sets only)

For every selection set (``--archive UCR_extra``, the 36 sets on which defaults are
chosen; the 34 reporting sets are not read), the canonical pipeline
``Pipeline([("emb", TSPulseEmbedder(pretrained=C)), ("clf", LogisticRegression())])``
with today's default read-out, for each checkpoint ``C`` of ``--checkpoints`` (a
registered name or a path), fitted on the training split and scored on the test
split. One CSV per checkpoint (``<out>_<name or file stem>.csv``, resumable), then
the mean accuracy of each and its wins / ties / losses against the first.

Run::

    OMP_NUM_THREADS=1 python benchmarks/dev_checkpoints.py \\
        --checkpoints tspulse-synth tspulse-synth-1600k tspulse-synth-4160k
"""

from __future__ import annotations

from pathlib import Path

from _common import limit_threads, make_parser, per_dataset_rows, print_against
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from sslts import TSPulseEmbedder
from sslts.data.datasets import list_classification, load_classification


def accuracy(archive: str, name: str, checkpoint: str, seed: int) -> dict[str, float]:
    """Test accuracy of the canonical pipeline with ``checkpoint`` on one data set."""
    data = load_classification(name, archive)
    pipe = Pipeline(
        [
            ("emb", TSPulseEmbedder(pretrained=checkpoint, random_state=seed)),
            ("clf", LogisticRegression()),
        ]
    )
    return {
        "accuracy": round(
            float(pipe.fit(data.X_train, data.y_train).score(data.X_test, data.y_test)),
            4,
        )
    }


def main() -> None:
    parser = make_parser(__doc__, out="dev_checkpoints", seed=True, threads=1)
    parser.add_argument("--archive", default="UCR_extra")
    parser.add_argument("--checkpoints", nargs="+", required=True)
    args = parser.parse_args()
    limit_threads(args.threads)
    datasets = list_classification(args.archive)
    by_checkpoint = {}
    for checkpoint in args.checkpoints:
        out = args.out.with_name(
            f"{args.out.name}_{Path(checkpoint).stem}"
        ).with_suffix(".csv")
        by_checkpoint[checkpoint] = per_dataset_rows(
            out,
            datasets,
            lambda archive, name, c=checkpoint: accuracy(archive, name, c, args.seed),
        )
    accuracies = {
        c: {row["dataset"]: row["accuracy"] for row in rows}
        for c, rows in by_checkpoint.items()
    }
    merged = [
        {c: accuracies[c][name] for c in args.checkpoints} for _, name in datasets
    ]
    print_against(merged, args.checkpoints, base=args.checkpoints[0])


if __name__ == "__main__":
    main()
