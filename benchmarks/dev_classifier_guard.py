"""Development probe: should ``TSPulseClassifier()`` keep the epoch with the lowest training objective?

``TSPulseClassifier()`` starts fine-tuning at the canonical pipeline's linear probe,
which is a stationary point of its penalised training objective. When some features
barely vary across the training series, their standardisation divides by a tiny
spread, and the first steps on the encoder can throw the objective far above the
probe's (seen in the training loss alone). The candidate guard
(:class:`sslts.training.callbacks.KeepLowestTrainingObjective`) evaluates the
objective on the training windows before training and after every epoch and keeps the
weights of the lowest value, the probe's included.

Compared on the 36 selection sets (``UCR_extra``) only, the 34 reporting sets are not
read: the canonical pipeline (the probe), the classifier with the guard, the
classifier without it (the previous behaviour), and the epoch the guard kept.

Run::

    OMP_NUM_THREADS=1 python benchmarks/dev_classifier_guard.py --n-jobs 2
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


class _WithoutGuard(TSPulseClassifier):
    """The classifier without the lowest-objective guard (the previous behaviour)."""

    def _net(self, *args, **kwargs):
        net = super()._net(*args, **kwargs)
        net.callbacks = [(n, c) for n, c in net.callbacks if n != "keep_lowest_objective"]
        return net


def run_set(archive: str, name: str, seed: int, threads: int) -> dict:
    limit_threads(threads)
    data = load_classification(name, archive)
    start = time.perf_counter()
    # one patch phase, as the classifier it was compared with (dev_classifier_phases.py)
    probe = make_pipeline(
        TSPulseEmbedder(patch_phases=1, random_state=seed), LogisticRegression()
    )
    row = {"dataset": name, "n_train": len(data.y_train)}
    row["probe"] = probe.fit(data.X_train, data.y_train).score(data.X_test, data.y_test)
    guarded = TSPulseClassifier(random_state=seed).fit(data.X_train, data.y_train)
    row["guard"] = guarded.score(data.X_test, data.y_test)
    row["guard_epoch"] = guarded.best_epoch_
    plain = _WithoutGuard(random_state=seed).fit(data.X_train, data.y_train)
    row["no_guard"] = plain.score(data.X_test, data.y_test)
    row["seconds"] = round(time.perf_counter() - start, 1)
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}


def main() -> None:
    parser = make_parser(__doc__, out="dev_classifier_guard", seed=True, threads=1)
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
    print_against(rows, ("probe", "guard", "no_guard"), base="probe")
    print("epochs kept:", np.bincount([int(r["guard_epoch"]) for r in rows]).tolist())


if __name__ == "__main__":
    main()
