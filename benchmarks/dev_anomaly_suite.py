"""Development study for the TSPulse detector's default, on the suite's selection half only.

Window-feature candidates, each scored the same way: windows of ``k`` estimated
periods of the fit part (stride an eighth of a window, at least 4), per-channel
features standardised on the fit windows, a window's score = Euclidean
distance to the nearest fit window (itself excluded), a point's score = mean
over its windows; channels combined by the mean of their scores standardised
with the fit part's median and IQR. Features:

* ``reg``: the register (semantic) embedding + location and log-scale (the
  library's ``mode="embedding"``);
* ``detail``: the time-patch tokens of the patches the window covers
  (left-padded into the context), flattened, + location and log-scale;
* ``pooled``: registers + time/FFT tokens averaged over observed patches
  (``TSPulseEmbedder``'s default read-out) + location and log-scale;
* ``znorm``: the window's own points, z-normalised per window, + location and
  log-scale (no model: the classical reference of the same scorer).

Writes ``benchmarks/results/anomaly_suite_dev.csv``; resumable.

Run::

    nice -n 5 python benchmarks/dev_anomaly_suite.py --features reg detail znorm --periods 1 2
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import torch
from _anomaly_suite import load_item, suite_items
from _common import limit_threads, make_parser, read_csv, write_csv
from bench_anomaly import evaluate
from sklearn.neighbors import NearestNeighbors

from sslts._validation import Series
from sslts.anomaly import estimate_period
from sslts.anomaly._base import robust_scale
from sslts.anomaly._tspulse import nearest_other, pad_to_context, window_location_scale
from sslts.data.windows import points_from_windows, sliding_windows
from sslts.embedding import semantic_pooled_embedding
from sslts.models import TSPulse
from sslts.pretrained import initial_model

FEATURES = ("reg", "detail", "pooled", "znorm", "detail-noloc")
MAX_REFERENCES = 2048
BLOCK = False  # --block: one scale per channel's embedding features
JOINT = False  # --joint: channels side by side in one vector per window


def window_features(model: TSPulse, windows, feature: str) -> np.ndarray:
    """``(n_windows, channels, dim)`` features of one kind."""
    n, channels, length = windows.values.shape
    locscale = window_location_scale(windows)
    if feature == "znorm":
        v = windows.values.astype(np.float64)
        z = (v - v.mean(-1, keepdims=True)) / (v.std(-1, keepdims=True) + 1e-6)
        return np.concatenate([z, locscale], axis=2)
    cfg = model.config
    values, observed = pad_to_context(windows, cfg.context_length)
    first_patch = (cfg.context_length - length) // cfg.patch_length
    out = []
    with torch.inference_mode():
        for start in range(0, n, max(1, 256 // channels)):
            x = torch.from_numpy(values[start : start + max(1, 256 // channels)])
            obs = torch.from_numpy(observed[start : start + max(1, 256 // channels)])
            if feature == "reg":
                emb = model.embed(x, obs, kind="semantic")
            elif feature == "pooled":
                emb = semantic_pooled_embedding(model, x, obs)
            else:
                tokens = model.encode(x, obs)
                emb = tokens[..., first_patch : cfg.n_patches, :].flatten(-2)
            out.append(emb.float().numpy())
    emb = np.concatenate(out)
    if feature == "detail-noloc":
        return emb
    return np.concatenate([emb, locscale], axis=2)


def knn_scores(fit_feat: np.ndarray, eval_feat: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel nearest-fit-window distances of fit (leave-one-out) and eval windows."""
    mean = fit_feat.mean(0)
    std = fit_feat.std(0)
    if BLOCK:  # one scale per channel's embedding block: rare features cannot explode
        block = np.sqrt((std[:, :-2] ** 2).mean(axis=1, keepdims=True))
        std[:, :-2] = np.where(block > 1e-12, block, 1.0)
    std = np.where(std > 1e-12, std, 1.0)
    has_loc = fit_feat.shape[2] > 2
    if has_loc:
        std[:, -2:] /= np.sqrt((fit_feat.shape[2] - 2) / 2)
    fit_d = np.empty(fit_feat.shape[:2])
    eval_d = np.empty(eval_feat.shape[:2])
    for c in range(fit_feat.shape[1]):
        ref = (fit_feat[:, c] - mean[c]) / std[c]
        if len(ref) > MAX_REFERENCES:
            ref = ref[rng.choice(len(ref), MAX_REFERENCES, replace=False)]
        nn = NearestNeighbors(n_neighbors=min(2, len(ref))).fit(ref)
        fit_d[:, c] = nearest_other(nn, (fit_feat[:, c] - mean[c]) / std[c])
        eval_d[:, c] = nearest_other(nn, (eval_feat[:, c] - mean[c]) / std[c])
    return fit_d, eval_d


def score(model, fit: np.ndarray, values: np.ndarray, feature: str, periods: str) -> np.ndarray:
    """``periods``: ``"2"`` (one scale) or ``"ms-mean"``/``"ms-max"`` (1, 2 and 4
    periods combined), ``"ms12-mean"`` (1 and 2 periods)..."""
    if not periods.startswith("ms"):
        return _score_scale(model, fit, values, feature, int(periods))
    digits, rule = periods[2:].split("-")
    scales = [_score_scale(model, fit, values, feature, int(k)) for k in digits or "124"]
    return np.mean(scales, axis=0) if rule == "mean" else np.max(scales, axis=0)


def _score_scale(model, fit, values, feature: str, periods: int) -> np.ndarray:
    window = min(periods * estimate_period(fit), model.config.context_length, len(fit))
    stride = min(window, max(4, window // 8))
    fw = sliding_windows(Series(fit.astype(np.float32), None), window, stride)
    ew = sliding_windows(Series(values.astype(np.float32), None), window, stride)
    rng = np.random.default_rng(0)
    fit_f, eval_f = window_features(model, fw, feature), window_features(model, ew, feature)
    if JOINT:  # one vector per window: every channel's features side by side
        fit_f = fit_f.reshape(len(fit_f), 1, -1)
        eval_f = eval_f.reshape(len(eval_f), 1, -1)
    fit_d, eval_d = knn_scores(fit_f, eval_f, rng)
    fit_points = points_from_windows(fit_d, fw, per="window")
    eval_points = points_from_windows(eval_d, ew, per="window")
    z = (eval_points - np.median(fit_points, 0)) / robust_scale(fit_points)
    return z.mean(axis=1)


COMBINATIONS = {
    "mean": lambda z: z.mean(axis=1),
    "max": lambda z: z.max(axis=1),
    "top3": lambda z: np.sort(z, axis=1)[:, -3:].mean(axis=1),
    "median": lambda z: np.median(z, axis=1),
    "clipped-mean": lambda z: np.clip(z, -3.0, 10.0).mean(axis=1),
}


def combination_rows(item, series, mode: str) -> list[dict]:
    """Channel-combination rules on one multivariate series for one detector mode."""
    from sslts.anomaly import TSPulseAnomalyDetector

    det = TSPulseAnomalyDetector(mode=mode, device="cpu", random_state=0).fit(series.fit)
    z = det.channel_scores(series.values)
    rows = []
    for rule, combine in COMBINATIONS.items():
        row = {"panel": item.panel, "kind": item.kind, "series": item.key,
               "method": f"combine-{mode}-{rule}"}
        row.update(evaluate(combine(z), series.labels, series.sliding_window))
        row["time_s"] = 0.0
        rows.append(row)
    return rows


def main() -> None:
    parser = make_parser(__doc__, out="anomaly_suite_dev", threads=1)
    parser.add_argument("--features", nargs="+", choices=FEATURES, default=list(FEATURES))
    parser.add_argument("--periods", nargs="+", default=["1", "2"],
                        help="periods per window, or ms-mean / ms-max (1, 2 and 4 combined)")
    parser.add_argument("--panels", nargs="+", default=["uni", "multi"])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--combine", nargs="+", default=None, metavar="MODE",
                        help="instead: channel-combination rules of these detector modes")
    parser.add_argument("--block", action="store_true",
                        help="standardise each channel's embedding block by one scale")
    parser.add_argument("--joint", action="store_true",
                        help="multivariate: one distance per window over all channels")
    args = parser.parse_args()
    global JOINT, BLOCK
    JOINT, BLOCK = args.joint, args.block
    limit_threads(args.threads)
    warnings.filterwarnings("ignore")
    model = initial_model("default", TSPulse)[0].eval()
    path = args.out.with_suffix(".csv")
    rows = read_csv(path) if path.is_file() else []
    done = {(r["series"], r["method"]) for r in rows}
    items = suite_items(args.panels, ["selection"])[: args.limit]
    for item in items:
        if args.combine:
            if any((item.key, f"combine-{m}-mean") in done for m in args.combine):
                continue
            series = load_item(item)
            if series is None or series.values.shape[1] == 1:
                continue
            for mode in args.combine:
                rows += combination_rows(item, series, mode)
            write_csv(path, rows)
            print(item.key, flush=True)
            continue
        methods = [f"{f}-{p}P" + ("-joint" if args.joint else "") + ("-block" if args.block else "")
                   for f in args.features for p in args.periods]
        methods = [m for m in methods if (item.key, m) not in done]
        if not methods:
            continue
        series = load_item(item)
        if series is None:
            continue
        for method in methods:
            feature = max((f for f in FEATURES if method.startswith(f + "-")), key=len)
            periods = method[len(feature) + 1 :].removesuffix("-block").removesuffix("-joint")
            start = time.perf_counter()
            s = score(model, series.fit, series.values, feature, periods[:-1])
            row = {"panel": item.panel, "kind": item.kind, "series": item.key, "method": method}
            row.update(evaluate(s, series.labels, series.sliding_window))
            row["time_s"] = round(time.perf_counter() - start, 2)
            rows.append(row)
        write_csv(path, rows)
        print(item.key, {r["method"]: round(float(r["VUS-PR"]), 3) for r in rows if r["series"] == item.key}, flush=True)


if __name__ == "__main__":
    main()
