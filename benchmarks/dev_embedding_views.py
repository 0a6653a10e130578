"""Development probe: several views of a series in the canonical pipeline.

Question: does the frozen-probe accuracy of the single-view embedder +
``LogisticRegression()`` rise when the features of other *views* of each
series are concatenated to (or averaged with) the default view? Views:

``default``  ``TSPulseEmbedder(views=("series",), pooling=("mean",))``
             (``length_policy="pad+resample"``),
             the canonical pipeline's embedding when this probe was run;
``resample`` every series linearly resampled to the context (short series
             stretched: a coarser time scale for them);
``half``     the series at half its sampling rate (mean of point pairs), then
             the default policy: a coarser scale for every series;
``diff``     first differences of the series, then the default policy;
``quarter``  the series at a quarter of its sampling rate (``half`` twice);
``halfdiff`` first differences of the ``half`` view.

``--round 2`` compares, after ``TSPulseEmbedder`` adopted series + half + diff, that
default with one more view (``quarter`` or ``halfdiff``), written to
``<out>_round2.csv``.

Run on the 36 selection sets (``--archive UCR_extra``) only; the 34 reporting
sets are not read. Writes one accuracy column per combination.

Run::

    OMP_NUM_THREADS=1 python benchmarks/dev_embedding_views.py
"""

from __future__ import annotations

from functools import partial

import numpy as np
from _common import limit_threads, make_parser, per_dataset_rows
from sklearn.linear_model import LogisticRegression

from sslts import TSPulseEmbedder
from sslts.data.datasets import list_classification, load_classification


def half_rate(X: np.ndarray) -> np.ndarray:
    """Mean of consecutive point pairs (odd lengths drop the last point)."""
    n = X.shape[-1] // 2 * 2
    return X[..., :n].reshape(*X.shape[:-1], n // 2, 2).mean(-1)


VIEWS = {
    "default": (lambda X: X, {}),
    "resample": (lambda X: X, {"length_policy": "resample"}),
    "half": (half_rate, {}),
    "diff": (lambda X: np.diff(X, axis=-1), {}),
    "quarter": (lambda X: half_rate(half_rate(X)), {}),
    "halfdiff": (lambda X: np.diff(half_rate(X), axis=-1), {}),
}
ROUND2 = [
    ("default", "half", "diff"),
    ("default", "half", "diff", "quarter"),
    ("default", "half", "diff", "halfdiff"),
    ("default", "half", "diff", "quarter", "halfdiff"),
]
COMBOS = [
    ("default",),
    ("default", "resample"),
    ("default", "half"),
    ("default", "diff"),
    ("default", "half", "diff"),
    ("default", "resample", "half", "diff"),
]


def run_set(archive: str, name: str, combos: list[tuple[str, ...]]) -> dict:
    data = load_classification(name, archive)
    feats = {}
    for view in sorted({v for combo in combos for v in combo}):
        fn, params = VIEWS[view]
        # average pooling: the read-out this probe was run with (before the maximum)
        emb = TSPulseEmbedder(
            views=("series",), pooling=("mean",), patch_phases=1, random_state=0, **params
        )
        emb.fit(fn(data.X_train))
        feats[view] = (emb.transform(fn(data.X_train)), emb.transform(fn(data.X_test)))
    row = {}
    for combo in combos:
        z_tr = np.hstack([feats[v][0] for v in combo])
        z_te = np.hstack([feats[v][1] for v in combo])
        clf = LogisticRegression().fit(z_tr, data.y_train)
        row["+".join(combo)] = round(float(clf.score(z_te, data.y_test)), 4)
    if combos is COMBOS:
        z_tr = (feats["default"][0] + feats["half"][0]) / 2
        z_te = (feats["default"][1] + feats["half"][1]) / 2
        clf = LogisticRegression().fit(z_tr, data.y_train)
        row["mean(default,half)"] = round(float(clf.score(z_te, data.y_test)), 4)
    return row


def main() -> None:
    parser = make_parser(__doc__, out="dev_embedding_views", threads=1)
    parser.add_argument("--archive", default="UCR_extra")
    parser.add_argument("--round", type=int, choices=[1, 2], default=1)
    args = parser.parse_args()
    limit_threads(args.threads)
    combos = COMBOS if args.round == 1 else ROUND2
    suffix = "" if args.round == 1 else "_round2"
    out = args.out.with_name(args.out.name + suffix).with_suffix(".csv")
    base = "default" if args.round == 1 else "default+half+diff"
    rows = per_dataset_rows(
        out, list_classification(args.archive), partial(run_set, combos=combos)
    )
    keys = [k for k in rows[0] if k not in ("dataset", "seconds")]
    for k in keys:
        values = np.array([r[k] for r in rows])
        reference = np.array([r[base] for r in rows])
        wins, losses = int((values > reference).sum()), int((values < reference).sum())
        print(f"{k:40s} {values.mean():.4f}  vs {base} {wins}/{len(rows) - wins - losses}/{losses}")


if __name__ == "__main__":
    main()
