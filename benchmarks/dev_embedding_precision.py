"""Development probe: does embedding in bfloat16 change the canonical pipeline's accuracy?

``TSPulseEmbedder(precision="bfloat16")`` runs the encoder under bfloat16 autocast,
about twice as fast on CPUs with native bfloat16 (``bench_embed_speed.py``). Here
the canonical pipeline (``TSPulseEmbedder()`` + ``LogisticRegression()``) is run
with both precisions on the 36 selection sets (``--archive UCR_extra``); the 34
reporting sets are not read. One accuracy column per precision, and the seconds
each embedding took (fit and transform of both splits).

Run::

    OMP_NUM_THREADS=1 python benchmarks/dev_embedding_precision.py
"""

from __future__ import annotations

import time

from _common import limit_threads, make_parser, per_dataset_rows, print_against
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sslts import TSPulseEmbedder
from sslts.data.datasets import list_classification, load_classification

PRECISIONS = ("float32", "bfloat16")


def run_set(archive: str, name: str) -> dict:
    data = load_classification(name, archive)
    row = {}
    for precision in PRECISIONS:
        start = time.perf_counter()
        pipe = make_pipeline(
            TSPulseEmbedder(precision=precision, random_state=0), LogisticRegression()
        ).fit(data.X_train, data.y_train)
        row[precision] = round(float(pipe.score(data.X_test, data.y_test)), 4)
        row[f"{precision}_s"] = round(time.perf_counter() - start, 1)
    return row


def main() -> None:
    parser = make_parser(__doc__, out="dev_embedding_precision", threads=1)
    parser.add_argument("--archive", default="UCR_extra")
    args = parser.parse_args()
    limit_threads(args.threads)
    rows = per_dataset_rows(
        args.out.with_suffix(".csv"), list_classification(args.archive), run_set
    )
    print_against(rows, PRECISIONS, base="float32")


if __name__ == "__main__":
    main()
