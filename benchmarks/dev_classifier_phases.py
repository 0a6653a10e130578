"""Development probe: should ``TSPulseClassifier()``'s linear head average over patch phases?

``TSPulseEmbedder()`` averages its features over the 8 placements of each series on the
encoder's patch grid (``patch_phases=8``, chosen with ``dev_embedding_shifts.py``), so
the canonical pipeline's probe now reads phase-averaged features. The classifier's
linear head starts at that probe when it reads the same features
(``TSPulseClassifier(patch_phases=8)``: every training step and prediction runs the
encoder on the 8 phases of each series), or at the one-phase probe
(``patch_phases=1``, the behaviour before).

Compared on the 36 selection sets (``UCR_extra``) only, the 34 reporting sets are not
read: the canonical pipeline (the probe), and the classifier with 1 and with 8 phases,
all with the same seed.

Run::

    OMP_NUM_THREADS=1 python benchmarks/dev_classifier_phases.py --n-jobs 2
"""

from __future__ import annotations

import time

import numpy as np
from _common import limit_threads, make_parser, print_against, read_csv, write_csv
from joblib import Parallel, delayed
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sslts import TSPulseClassifier, TSPulseEmbedder
from sslts.data.datasets import list_classification, load_classification

PHASES = (1, 8)


def run_set(archive: str, name: str, seed: int, threads: int) -> dict:
    limit_threads(threads)
    data = load_classification(name, archive)
    row = {"dataset": name, "n_train": len(data.y_train)}
    start = time.perf_counter()
    probe = make_pipeline(TSPulseEmbedder(random_state=seed), LogisticRegression())
    row["probe"] = probe.fit(data.X_train, data.y_train).score(data.X_test, data.y_test)
    row["probe_seconds"] = time.perf_counter() - start
    for phases in PHASES:
        start = time.perf_counter()
        clf = TSPulseClassifier(patch_phases=phases, random_state=seed)
        clf.fit(data.X_train, data.y_train)
        row[f"phases{phases}"] = clf.score(data.X_test, data.y_test)
        row[f"phases{phases}_epoch"] = clf.best_epoch_
        row[f"phases{phases}_seconds"] = time.perf_counter() - start
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}


def main() -> None:
    parser = make_parser(__doc__, out="dev_classifier_phases", seed=True, threads=1)
    parser.add_argument("--n-jobs", type=int, default=1)
    args = parser.parse_args()
    out = args.out.with_suffix(".csv")
    rows = read_csv(out) if out.exists() else []
    done = {r["dataset"] for r in rows}
    todo = [(a, n) for a, n in list_classification("UCR_extra") if n not in done]
    for row in Parallel(n_jobs=args.n_jobs, return_as="generator_unordered")(
        delayed(run_set)(a, n, args.seed, args.threads) for a, n in todo
    ):
        rows.append(row)
        write_csv(out, rows)
        print(row, flush=True)
    print_against(rows, ("probe", *(f"phases{p}" for p in PHASES)), base="probe")
    for p in PHASES:
        print(f"phases{p} epochs kept:", np.bincount([int(r[f"phases{p}_epoch"]) for r in rows]).tolist())


if __name__ == "__main__":
    main()
