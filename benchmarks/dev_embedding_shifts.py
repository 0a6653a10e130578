"""Development probe: average the embedding over a few patch phases of each series.

Question: TSPulse cuts each window into patches of ``patch_length`` (8) points from
a fixed origin, so a shape that falls across a patch boundary in one series and
inside a patch in another is read differently. Does ``LogisticRegression()`` on the
default embedding gain when the embedding of each series is averaged over copies
whose last ``s`` points are dropped (``s`` in a set of shifts; the patch grid then
falls ``s`` points later relative to the series' shapes)? The width of the
embedding does not change.

Run on the 36 selection sets (``--archive UCR_extra``) only; the 34 reporting sets
are not read. Features are standardised on the training split (as
``standardize=True`` does), one accuracy column per set of shifts.

Run::

    OMP_NUM_THREADS=1 python benchmarks/dev_embedding_shifts.py
"""

from __future__ import annotations

import numpy as np
from _common import limit_threads, make_parser, per_dataset_rows, print_against
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from sslts import TSPulseEmbedder
from sslts.data.datasets import list_classification, load_classification

ALL_SHIFTS = (0, 1, 2, 3, 4, 5, 6, 7)
VARIANTS = {
    "default": (0,),
    "shifts 0,4": (0, 4),
    "shifts 0,2,4,6": (0, 2, 4, 6),
    "shifts 0-7": ALL_SHIFTS,
}


def run_set(archive: str, name: str) -> dict:
    data = load_classification(name, archive)
    # one phase per call: the shifts are applied here
    emb = TSPulseEmbedder(standardize=False, patch_phases=1, random_state=0).fit(data.X_train)
    length = data.X_train.shape[-1]
    train = {s: emb.transform(data.X_train[..., : length - s]) for s in ALL_SHIFTS}
    test = {s: emb.transform(data.X_test[..., : length - s]) for s in ALL_SHIFTS}
    row = {}
    for label, shifts in VARIANTS.items():
        raw_train = np.mean([train[s] for s in shifts], axis=0)
        raw_test = np.mean([test[s] for s in shifts], axis=0)
        scaler = StandardScaler().fit(raw_train)
        clf = LogisticRegression().fit(scaler.transform(raw_train), data.y_train)
        row[label] = round(float(clf.score(scaler.transform(raw_test), data.y_test)), 4)
    return row


def main() -> None:
    parser = make_parser(__doc__, out="dev_embedding_shifts", threads=1)
    parser.add_argument("--archive", default="UCR_extra")
    args = parser.parse_args()
    limit_threads(args.threads)
    rows = per_dataset_rows(args.out.with_suffix(".csv"), list_classification(args.archive), run_set)
    print_against(rows, VARIANTS, base="default")


if __name__ == "__main__":
    main()
