"""Design choices of ``TSPulseAnomalyDetector(mode="embedding")`` on a dev set.

The dev set is every labelled NAB series that ``bench_anomaly.py`` does **not**
score (58 NAB series minus its 20, minus those without any anomaly), under the
benchmark's protocol: channel 0, at most 10,000 points, fitted on the part
before ``train_end`` of :func:`sslts.data.datasets.load_anomaly_series`, the
whole series scored, VUS-PR with the :func:`sslts.metrics.find_period` window.

Candidates (zero-shot, shipped weights):

* window = 1, 2 or 4 estimated periods of the fit part (capped at the context);
* embedding kind ``semantic`` (registers), ``detail`` (patch tokens) or
  ``both`` (computed once as ``both`` and sliced, the encoder being the same);
* alone, or combined with the reconstruction ``ensemble`` by the maximum
  (``hybrid-max``) or the mean (``hybrid-mean``) of the two fit-standardised
  scores.

The scoring mirrors the detector: windows an eighth of their length apart (at
least 4), embeddings standardised with the fit windows, distance to the nearest
fit window (itself excluded), point score = mean over covering windows.

``--study locscale`` tests a follow-up on the chosen design (2 periods,
semantic): TSPulse normalises each window (RevIN) before embedding it, so a
level shift or an amplitude change leaves the embedding unchanged. The
candidates append each window's location (mean of its observed points) and
log-scale (log of their standard deviation), z-scored with the fit windows'
statistics and multiplied by a weight, to the standardised embedding before
the nearest-neighbour search: ``emb-ls0`` (nothing appended, the current
detector), ``emb-ls1`` (weight 1) and ``emb-lsbal`` (weight ``sqrt(dim / 2)``,
so the two features carry as much squared distance as the ``dim`` embedding
features), each also as ``hybrid-*`` (maximum with the ensemble).

Writes one row per series and candidate to ``<out>.csv`` and prints the mean
VUS-PR per candidate.

Run::

    nice -n 5 python benchmarks/dev_anomaly_embedding.py
    nice -n 5 python benchmarks/dev_anomaly_embedding.py --study locscale \
        --out benchmarks/results/anomaly_embedding_dev_locscale
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch
from _common import limit_threads, make_parser, write_csv
from bench_anomaly import UNIVARIATE
from sklearn.neighbors import NearestNeighbors
from tqdm.auto import tqdm

from sslts._validation import Series
from sslts.anomaly import TSPulseAnomalyDetector, estimate_period
from sslts.anomaly._base import robust_scale
from sslts.anomaly._tspulse import (
    embed_windows,
    nearest_other,
    window_location_scale,
)
from sslts.data.datasets import list_anomaly_series, load_anomaly_series
from sslts.data.windows import points_from_windows, sliding_windows
from sslts.metrics import find_period, vus_pr

MULTIPLES = (1, 2, 4)
KINDS = ("semantic", "detail", "both")
MAX_LENGTH = 10_000
LOCSCALE_WEIGHTS = {"ls0": None, "ls1": "1", "lsbal": "balanced"}


def standardise(raw: np.ndarray, fit_end: int) -> np.ndarray:
    """``(raw - median) / IQR`` with the statistics of the fit part."""
    fit = raw[:fit_end]
    return (raw - np.median(fit)) / robust_scale(fit[:, None])[0]


def embedding_scores(
    model, values: np.ndarray, fit_end: int, window: int
) -> dict[str, np.ndarray]:
    """Raw embedding-distance point scores of every kind for one window length."""
    stride = min(max(4, window // 8), window)
    full = sliding_windows(Series(values, None), window, stride)
    fit = sliding_windows(Series(values[:fit_end], None), window, stride)
    with torch.inference_mode():
        emb_full = embed_windows(model, full, "both", 256, torch.device("cpu"))[:, 0]
        emb_fit = embed_windows(model, fit, "both", 256, torch.device("cpu"))[:, 0]
    n_detail = model.embedding_sizes()["detail"]
    parts = {
        "detail": slice(0, n_detail),
        "semantic": slice(n_detail, None),
        "both": slice(None),
    }
    out = {}
    for kind in KINDS:
        ref, query = emb_fit[:, parts[kind]], emb_full[:, parts[kind]]
        mean, std = ref.mean(axis=0), ref.std(axis=0)
        std = np.where(std > 1e-12, std, 1.0)
        neighbors = NearestNeighbors(n_neighbors=min(2, len(ref)))
        neighbors.fit((ref - mean) / std)
        dist = nearest_other(neighbors, (query - mean) / std)
        out[kind] = points_from_windows(dist[:, None], full, per="window")[:, 0]
    return out


def locscale_scores(
    model, values: np.ndarray, fit_end: int, window: int
) -> dict[str, np.ndarray]:
    """Raw semantic-embedding distance point scores with location/scale appended."""
    stride = min(max(4, window // 8), window)
    full = sliding_windows(Series(values, None), window, stride)
    fit = sliding_windows(Series(values[:fit_end], None), window, stride)
    with torch.inference_mode():
        emb_full = embed_windows(model, full, "semantic", 256, torch.device("cpu"))
        emb_fit = embed_windows(model, fit, "semantic", 256, torch.device("cpu"))
    feats = []
    for emb, win in ((emb_fit, fit), (emb_full, full)):
        feats.append((emb[:, 0].astype(np.float64), window_location_scale(win)[:, 0]))
    out = {}
    for name, weight in LOCSCALE_WEIGHTS.items():
        (ref_e, ref_ls), (query_e, query_ls) = feats
        mean, std = ref_e.mean(axis=0), ref_e.std(axis=0)
        std = np.where(std > 1e-12, std, 1.0)
        ref, query = (ref_e - mean) / std, (query_e - mean) / std
        if weight is not None:
            w = 1.0 if weight == "1" else np.sqrt(ref.shape[1] / 2)
            ls_mean, ls_std = ref_ls.mean(axis=0), ref_ls.std(axis=0)
            ls_std = np.where(ls_std > 1e-12, ls_std, 1.0)
            ref = np.hstack([ref, w * (ref_ls - ls_mean) / ls_std])
            query = np.hstack([query, w * (query_ls - ls_mean) / ls_std])
        neighbors = NearestNeighbors(n_neighbors=min(2, len(ref))).fit(ref)
        dist = nearest_other(neighbors, query)
        out[name] = points_from_windows(dist[:, None], full, per="window")[:, 0]
    return out


def dev_keys() -> list[str]:
    excluded = {k for k in UNIVARIATE if k.startswith("NAB/")}
    return [k for k in list_anomaly_series(["NAB"]) if k not in excluded]


def main() -> None:
    parser = make_parser(__doc__, out="anomaly_embedding_dev")
    parser.add_argument("--limit", type=int, default=None, help="first N series")
    parser.add_argument(
        "--study",
        choices=("design", "locscale"),
        default="design",
        help="window/kind/hybrid design, or appended location and log-scale",
    )
    args = parser.parse_args()
    limit_threads(1)
    rows = []
    keys = dev_keys()[: args.limit]
    for key in tqdm(keys, desc="dev series"):
        series = load_anomaly_series(key, max_length=MAX_LENGTH)
        labels = series.labels
        if labels.sum() == 0 or labels[series.train_end :].sum() == 0:
            continue
        values = series.values[:, :1].astype(np.float32)
        fit_end = series.train_end
        vus_window = find_period(series.values[:, 0])
        ens = TSPulseAnomalyDetector(mode="ensemble", device="cpu", random_state=0)
        ens.fit(values[:fit_end])
        model = ens.model_
        candidates = {"ensemble": ens.decision_function(values)}
        period = estimate_period(values[:fit_end])
        if args.study == "locscale":
            window = max(1, min(2 * period, model.config.context_length, fit_end))
            scores = locscale_scores(model, values, fit_end, window)
            for name, raw in scores.items():
                z = standardise(raw, fit_end)
                candidates[f"emb-{name}"] = z
                candidates[f"hybrid-{name}"] = np.maximum(z, candidates["ensemble"])
        for multiple in MULTIPLES if args.study == "design" else ():
            window = max(1, min(multiple * period, model.config.context_length, fit_end))
            scores = embedding_scores(model, values, fit_end, window)
            for kind, raw in scores.items():
                z = standardise(raw, fit_end)
                name = f"emb-{kind}-{multiple}p"
                candidates[name] = z
                candidates[f"hybrid-max-{kind}-{multiple}p"] = np.maximum(
                    z, candidates["ensemble"]
                )
                candidates[f"hybrid-mean-{kind}-{multiple}p"] = (
                    z + candidates["ensemble"]
                ) / 2
        for name, scores in candidates.items():
            rows.append(
                {
                    "series": key,
                    "n": len(labels),
                    "train_end": fit_end,
                    "period": period,
                    "sliding_window": vus_window,
                    "candidate": name,
                    "VUS-PR": vus_pr(labels, scores, sliding_window=vus_window),
                }
            )
    write_csv(args.out.with_suffix(".csv"), rows)
    means = defaultdict(list)
    for row in rows:
        means[row["candidate"]].append(row["VUS-PR"])
    n_series = len({r["series"] for r in rows})
    print(f"{n_series} dev series; mean VUS-PR per candidate:")
    for name, vals in sorted(means.items(), key=lambda kv: -np.mean(kv[1])):
        print(f"  {name:28} {np.mean(vals):.3f}")


if __name__ == "__main__":
    main()
