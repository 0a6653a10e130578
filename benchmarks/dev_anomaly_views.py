"""Development probe: views of each window in the embedding mode (selection half, univariate).

``TSPulseAnomalyDetector()`` (embedding mode) describes each sliding window by the
encoder's read-out plus the window's location and log-scale, and scores it by its
distance to the nearest fit window. The classification read-out gained from more
*views* of each series (``sslts.data.views``: half sampling rate, first differences;
``benchmarks/dev_embedding_views.py``). Here the same views of every window are
embedded and their features concatenated, patched into
``TSPulseAnomalyDetector._embed``, and run on the univariate selection half of the
anomaly development suite (``_anomaly_suite.py``) with the suite's protocol. The
baseline (``series``: one reading of each window, the detector's read-out before
``patch_phases``) runs in the same process. A variant ending in ``:max`` also
appends the maximum of the patch tokens to their average in the read-out
(``pooling=("mean", "max")``, adopted by ``TSPulseEmbedder`` from
``dev_embedding_pooling.py``). A view ending in ``@P`` averages its features over
``P`` patch phases: the window without its last ``k * patch_length // P`` points,
``k = 0 .. P-1`` (``sslts.data.views.phase_shifts``; the classification read-out
gained about 3 points from this, ``dev_embedding_shifts.py``).

Writes ``<out>.csv`` (the suite's columns, ``method`` = ``TSPulse-default/<variant>``).

Run::

    python benchmarks/dev_anomaly_views.py --variants series series+diff series+half+diff
    python benchmarks/dev_anomaly_views.py --variants series series:max --out anomaly_suite_dev_pooling
    python benchmarks/dev_anomaly_views.py --variants series series@4 --out anomaly_suite_dev_phases
    python benchmarks/dev_anomaly_views.py --variants series series@4 --halves report \
        --out anomaly_suite_dev_phases_report

``--halves report`` scores the report half, only to report a variant already chosen on
the selection half.
"""

from __future__ import annotations

from functools import partial

import numpy as np
from _anomaly_suite import HALVES, suite_items
from _common import make_parser, write_csv
from bench_anomaly_suite import score_item

from sslts._validation import Panel
from sslts.anomaly import _tspulse
from sslts.anomaly._tspulse import TSPulseAnomalyDetector
from sslts.data.views import panel_view, phase_shifts
from sslts.data.windows import SlidingWindows

# one reading of each window (the detector's own _embed averages its patch_phases_)
_ORIGINAL = TSPulseAnomalyDetector._embed_once
_PHASES_AVERAGED = TSPulseAnomalyDetector._embed
_READOUT = _tspulse.semantic_pooled_embedding


def phase_averaged(self, windows: SlidingWindows, n_phases: int) -> np.ndarray:
    """Features of ``windows`` averaged over ``n_phases`` placements on the patch grid."""
    patch = self.model_.config.patch_length
    shifts = [k for k in phase_shifts(n_phases, patch) if windows.length - k >= 2]
    return np.mean([_ORIGINAL(self, windows.without_last(k)) for k in shifts], axis=0)


def with_views(views: tuple[str, ...]):
    """``_embed`` that concatenates the embeddings of ``views`` of every window."""

    def embed(self, windows: SlidingWindows) -> np.ndarray:
        parts = []
        for view in views:
            view, _, phases = view.partition("@")
            if view == "series" and phases:
                parts.append(phase_averaged(self, windows, int(phases)))
                continue
            if view == "series":
                parts.append(_ORIGINAL(self, windows))
                continue
            panel = Panel(
                windows.values,
                windows.observed,
                np.full(len(windows), windows.length),
            )
            seen = panel_view(panel, view)
            observed = (
                np.ones(seen.values.shape, bool) if seen.observed is None else seen.observed
            )
            moved = SlidingWindows(seen.values, observed, windows.starts, windows.n_timepoints)
            parts.append(_ORIGINAL(self, moved))
        return np.concatenate(parts, axis=2)

    return embed


def main() -> None:
    parser = make_parser(__doc__, out="anomaly_suite_dev_views", seed=True, threads=1)
    parser.add_argument(
        "--variants", nargs="+", default=["series", "series+diff", "series+half+diff"]
    )
    parser.add_argument("--halves", nargs="+", default=["selection"], choices=HALVES)
    args = parser.parse_args()
    rows = []
    for variant in args.variants:
        views, _, pooling = variant.partition(":")
        TSPulseAnomalyDetector._embed = with_views(tuple(views.split("+")))
        if pooling:
            _tspulse.semantic_pooled_embedding = partial(_READOUT, pooling=("mean", pooling))
        try:
            for item in suite_items(["uni"], args.halves):
                for row in score_item(item, ["TSPulse-default"], args.seed, args.threads):
                    rows.append({**row, "method": f"TSPulse-default/{variant}"})
        finally:
            TSPulseAnomalyDetector._embed = _PHASES_AVERAGED
            _tspulse.semantic_pooled_embedding = _READOUT
        scores = [float(r["VUS-PR"]) for r in rows if r["method"].endswith(f"/{variant}")]
        print(f"{variant}: {len(scores)} series, mean VUS-PR {np.mean(scores):.3f}", flush=True)
        write_csv(args.out.with_suffix(".csv"), rows)


if __name__ == "__main__":
    main()
