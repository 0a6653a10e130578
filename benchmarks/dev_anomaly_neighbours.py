"""Development probe of the embedding mode's neighbour rule (selection half, univariate).

``TSPulseAnomalyDetector()`` scores a window by its distance to the nearest fit window
(the fit series itself scored leave-one-out). Two variants, each patched into
:func:`sslts.anomaly._tspulse.nearest_other` and run on the univariate selection half
of the anomaly development suite (``_anomaly_suite.py``) with the suite's protocol:

* ``k3``, ``k10``: the mean distance to the k nearest fit windows;
* ``exclude8``: when the fit series is scored, fit windows within 8 window positions of
  the query (overlapping it: matrix-profile style exclusion of trivial matches) are
  skipped, so the fit distances that standardise each window length are those of
  genuinely different windows.

Writes ``<out>.csv`` (the suite's columns, ``method`` = ``TSPulse-default/<variant>``).
Last run (59 series, mean VUS-PR): baseline 0.464, k3 0.469, k10 0.460, exclude8 0.464:
no variant moves the mean beyond noise, none adopted.

Run::

    python benchmarks/dev_anomaly_neighbours.py --variants k3 k10 exclude8
"""

from __future__ import annotations

import numpy as np
from _anomaly_suite import suite_items
from _common import make_parser, write_csv
from bench_anomaly_suite import score_item

import sslts.anomaly._tspulse as tspulse

_ORIGINAL = tspulse.nearest_other


def k_nearest(k: int):
    """Mean distance to the ``k`` nearest reference rows, a self-match excluded."""

    def nearest(neighbors, query: np.ndarray) -> np.ndarray:
        dist = neighbors.kneighbors(
            query, n_neighbors=min(k + 1, neighbors.n_samples_fit_)
        )[0]
        if dist.shape[1] == 1:
            return dist[:, 0]
        self_match = dist[:, 0] <= tspulse._SELF_MATCH
        others = np.where(self_match[:, None], dist[:, 1:], dist[:, :-1])
        return others[:, :k].mean(axis=1)

    return nearest


def excluding(zone: int):
    """Nearest reference row at least ``zone`` positions away, when the query is the
    reference set itself (the fit series); the plain rule otherwise."""

    def nearest(neighbors, query: np.ndarray) -> np.ndarray:
        reference = neighbors._fit_X
        if query.shape != reference.shape or not np.array_equal(query, reference):
            return _ORIGINAL(neighbors, query)
        n = len(reference)
        k = min(n, 2 * zone + 2)
        dist, index = neighbors.kneighbors(query, n_neighbors=k)
        far = np.abs(index - np.arange(n)[:, None]) > zone
        first = np.where(far.any(axis=1), far.argmax(axis=1), k - 1)
        return dist[np.arange(n), first]

    return nearest


VARIANTS = {"k3": k_nearest(3), "k10": k_nearest(10), "exclude8": excluding(8)}


def main() -> None:
    parser = make_parser(__doc__, out="anomaly_suite_dev_neighbours", seed=True, threads=1)
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    args = parser.parse_args()
    rows = []
    for variant in args.variants:
        tspulse.nearest_other = VARIANTS[variant]
        try:
            for item in suite_items(["uni"], ["selection"]):
                for row in score_item(item, ["TSPulse-default"], args.seed, args.threads):
                    rows.append({**row, "method": f"TSPulse-default/{variant}"})
        finally:
            tspulse.nearest_other = _ORIGINAL
        scores = [float(r["VUS-PR"]) for r in rows if r["method"].endswith(variant)]
        print(f"{variant}: {len(scores)} series, mean VUS-PR {np.mean(scores):.3f}")
    write_csv(args.out.with_suffix(".csv"), rows)


if __name__ == "__main__":
    main()
