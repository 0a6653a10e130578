"""Development probe: which views and pooling should ``TSPulseRetriever``'s default embedder use?

``TSPulseEmbedder`` embeds three views of each series by default (as given, half
sampling rate, first differences; chosen for the linear probe). Whether that also
helps nearest-neighbour search is asked here the way the retriever's other defaults
were chosen: leave-one-out on the *training* splits of the 30 UCR sets (each training
series queries the others; 1-NN label agreement and precision@5), never on the test
splits that ``bench_retrieval.py`` reports. The last variant adds the maximum of the
patch tokens to their average (``pooling=("mean", "max")``, chosen for the linear probe
by ``dev_embedding_pooling.py``). ``--pretrained`` compares another checkpoint with the
shipped default in the same run (columns prefixed by the checkpoint's name or file stem,
written to ``<out>_<name>.csv``).

Run::

    OMP_NUM_THREADS=1 python benchmarks/dev_retrieval_views.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from _common import limit_threads, make_parser, write_csv

from sslts import TSPulseEmbedder
from sslts.data.datasets import list_classification, load_classification
from sslts.retrieval import TSPulseRetriever

THREE = ("series", "half", "diff")
VARIANTS = {
    "series": {"views": ("series",), "pooling": ("mean",)},
    "series+half+diff": {"views": THREE, "pooling": ("mean",)},
    "series+half+diff,mean+max": {"views": THREE, "pooling": ("mean", "max")},
}


def main() -> None:
    parser = make_parser(__doc__, out="dev_retrieval_views", threads=1)
    parser.add_argument("--pretrained", default=None)
    args = parser.parse_args()
    limit_threads(args.threads)
    variants = VARIANTS
    out = args.out.with_suffix(".csv")
    if args.pretrained is not None:
        name = Path(args.pretrained).stem
        variants = {
            **{f"default/{k}": v for k, v in VARIANTS.items() if k != "series"},
            **{f"{name}/{k}": {**v, "pretrained": args.pretrained}
               for k, v in VARIANTS.items() if k != "series"},
        }
        out = args.out.with_name(f"{args.out.name}_{name}.csv")
    rows = []
    for archive, name in list_classification("UCR"):
        data = load_classification(name, archive)
        y = np.asarray(data.y_train)
        row = {"dataset": name}
        for variant, params in variants.items():
            retriever = TSPulseRetriever(
                # one patch phase, as the retriever's default
                embedder=TSPulseEmbedder(**{"patch_phases": 1, **params}, random_state=0),
                n_neighbors=5,
            ).fit(data.X_train)
            _, index = retriever.kneighbors()
            same = y[index] == y[:, None]
            row[f"{variant}:p@1"] = round(float(same[:, 0].mean()), 4)
            row[f"{variant}:p@5"] = round(float(same.mean()), 4)
        rows.append(row)
        print(row, flush=True)
        write_csv(out, rows)
    for key in rows[0]:
        if key != "dataset":
            print(f"{key:28s} {np.mean([r[key] for r in rows]):.4f}")


if __name__ == "__main__":
    main()
