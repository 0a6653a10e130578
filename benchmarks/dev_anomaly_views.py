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

A variant ending in ``~rough<S>`` appends each window's log-roughness (half the log of
the mean squared step over the variance) to its location and log-scale, the three
hand-made features each weighing like ``1/S`` of the embedding features together
(the detector: location and log-scale, each half).

Writes ``<out>.csv`` (the suite's columns, ``method`` = ``TSPulse-default/<variant>``).

Run::

    python benchmarks/dev_anomaly_views.py --variants series series+diff series+half+diff
    python benchmarks/dev_anomaly_views.py --variants series series:max --out anomaly_suite_dev_pooling
    python benchmarks/dev_anomaly_views.py --variants series series@4 --out anomaly_suite_dev_phases
    python benchmarks/dev_anomaly_views.py --variants series series@4 --halves report \
        --out anomaly_suite_dev_phases_report

    python benchmarks/dev_anomaly_views.py --variants series@4 series@4~rough2 \
        series@4~rough3 series@4:max --out anomaly_suite_dev_roughness
    python benchmarks/dev_anomaly_views.py --variants series@4 series@4:max --halves report \
        --out anomaly_suite_dev_maxpool_report
    python benchmarks/dev_anomaly_views.py --panels multi --variants series series:max \
        --out anomaly_suite_dev_maxpool_multi

``--panels multi`` runs the multivariate panel instead (one patch phase is the
detector's own there). ``--halves report`` scores the report half, only to report a variant already chosen on
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
_LOCATION_SCALE = _tspulse.window_location_scale
_REFERENCE = _tspulse._reference


def with_roughness(windows: SlidingWindows) -> np.ndarray:
    """Location, log-scale and log-roughness of each window ``(n, channels, 3)``.

    Roughness: half the log of the mean squared step between consecutive observed
    points over the window's variance (``0.5 * log 2`` for white noise, far below
    for a smooth curve), the high-frequency energy a patch embedding smooths away.
    """
    both = windows.observed[..., 1:] & windows.observed[..., :-1]
    steps = np.where(both, np.diff(windows.values.astype(np.float64), axis=2), 0.0)
    mean_square = (steps**2).sum(axis=2) / np.maximum(both.sum(axis=2), 1)
    location_scale = _LOCATION_SCALE(windows)
    variance = np.exp(2 * location_scale[..., 1])
    rough = 0.5 * np.log((mean_square + _tspulse._VARIANCE_EPS) / variance)
    return np.concatenate([location_scale, rough[..., None]], axis=2)


def reference_with(n_hand: int, share: int):
    """``_reference`` whose last ``n_hand`` features are hand-made: each weighs like
    ``(dim - n_hand) / share`` embedding features (the detector: 2 and 2)."""

    def reference(emb: np.ndarray, random_state):
        scale_of = _tspulse.feature_scale

        def scaled(features: np.ndarray) -> np.ndarray:
            scale = scale_of(features)
            # undo the detector's weighting of its last two, then weigh all n_hand
            scale[:, -2:] *= np.sqrt((features.shape[2] - 2) / 2)
            scale[:, -n_hand:] /= np.sqrt((features.shape[2] - n_hand) / share)
            return scale

        _tspulse.feature_scale = scaled
        try:
            return _REFERENCE(emb, random_state)
        finally:
            _tspulse.feature_scale = scale_of

    return reference


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
    parser.add_argument("--panels", nargs="+", default=["uni"], choices=("uni", "multi"))
    args = parser.parse_args()
    rows = []
    for variant in args.variants:
        variant_views, _, extra = variant.partition("~")
        views, _, pooling = variant_views.partition(":")
        TSPulseAnomalyDetector._embed = with_views(tuple(views.split("+")))
        if pooling:
            _tspulse.semantic_pooled_embedding = partial(_READOUT, pooling=("mean", pooling))
        if extra:  # "rough<share>": roughness as a third hand-made feature
            _tspulse.window_location_scale = with_roughness
            _tspulse._reference = reference_with(3, int(extra.removeprefix("rough")))
        try:
            for item in suite_items(args.panels, args.halves):
                for row in score_item(item, ["TSPulse-default"], args.seed, args.threads):
                    rows.append({**row, "method": f"TSPulse-default/{variant}"})
        finally:
            TSPulseAnomalyDetector._embed = _PHASES_AVERAGED
            _tspulse.semantic_pooled_embedding = _READOUT
            _tspulse.window_location_scale = _LOCATION_SCALE
            _tspulse._reference = _REFERENCE
        scores = [float(r["VUS-PR"]) for r in rows if r["method"].endswith(f"/{variant}")]
        print(f"{variant}: {len(scores)} series, mean VUS-PR {np.mean(scores):.3f}", flush=True)
        write_csv(args.out.with_suffix(".csv"), rows)


if __name__ == "__main__":
    main()
