"""Development probe: does bfloat16 change the accuracy of the pipeline or the classifier?

``TSPulseEmbedder(precision="bfloat16")`` runs the encoder under bfloat16 autocast,
about twice as fast on CPUs with native bfloat16 (``bench_embed_speed.py``);
``TSPulseClassifier(precision="bfloat16")`` also trains under it. Here the canonical
pipeline (``TSPulseEmbedder()`` + ``LogisticRegression()``, ``--estimator
pipeline``) or ``TSPulseClassifier()`` (``--estimator classifier``) is run with both
precisions, same seed, on the selection sets (``--archive UCR_extra``; ``--datasets``
restricts them); the 34 reporting sets are not read. One accuracy column per
precision, and the seconds each fit and scoring took.

Run::

    OMP_NUM_THREADS=1 python benchmarks/dev_embedding_precision.py
    OMP_NUM_THREADS=1 python benchmarks/dev_embedding_precision.py --estimator classifier \
        --out benchmarks/results/dev_classifier_precision --datasets DodgerLoopGame DodgerLoopWeekend \
        InsectEPGSmallTrain PickupGestureWiimoteZ HouseTwenty GesturePebbleZ1 \
        GunPointAgeSpan GesturePebbleZ2 GunPointMaleVersusFemale \
        InsectEPGRegularTrain Fish GestureMidAirD2 GestureMidAirD1 GestureMidAirD3 \
        GunPointOldVersusYoung FacesUCR

(the classifier on the 16 selection sets it trains fastest on, chosen by the
seconds in ``dev_classifier_phases.csv``: the whole pool would take about 2.5
CPU hours per precision).
"""

from __future__ import annotations

import time

from _common import limit_threads, make_parser, per_dataset_rows, print_against
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sslts import TSPulseClassifier, TSPulseEmbedder
from sslts.data.datasets import list_classification, load_classification

PRECISIONS = ("float32", "bfloat16")


def make_estimator(kind: str, precision: str):
    """The canonical pipeline or the classifier, in ``precision``, seed 0."""
    if kind == "classifier":
        return TSPulseClassifier(precision=precision, random_state=0)
    return make_pipeline(
        TSPulseEmbedder(precision=precision, random_state=0), LogisticRegression()
    )


def run_set(archive: str, name: str, kind: str = "pipeline") -> dict:
    data = load_classification(name, archive)
    row = {}
    for precision in PRECISIONS:
        start = time.perf_counter()
        model = make_estimator(kind, precision).fit(data.X_train, data.y_train)
        row[precision] = round(float(model.score(data.X_test, data.y_test)), 4)
        row[f"{precision}_s"] = round(time.perf_counter() - start, 1)
    return row


def main() -> None:
    parser = make_parser(__doc__, out="dev_embedding_precision", threads=1)
    parser.add_argument("--archive", default="UCR_extra")
    parser.add_argument("--estimator", choices=("pipeline", "classifier"),
                        default="pipeline")
    parser.add_argument("--datasets", nargs="*", default=[],
                        help="only these sets of the archive (default: all)")
    args = parser.parse_args()
    limit_threads(args.threads)
    sets = [
        (archive, name)
        for archive, name in list_classification(args.archive)
        if not args.datasets or name in args.datasets
    ]
    rows = per_dataset_rows(
        args.out.with_suffix(".csv"), sets,
        lambda archive, name: run_set(archive, name, args.estimator),
    )
    print_against(rows, PRECISIONS, base="float32")


if __name__ == "__main__":
    main()
