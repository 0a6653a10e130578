"""Anomaly detection on the shared data: zero-shot TSPulse vs classical detectors.

One run scores every series with every method under the protocol of
``$SSLTS_DATA_DIR/anchors/README.md``:

* series: the 26 univariate series of the anchors (the TSB-AD-U example, 21 NAB
  series, SMAP/MSL channel 0 of the test part) and its 8 multivariate ones
  (TSB-AD-M Genesis and MSL, 6 SMAP/MSL test arrays with constant columns
  dropped). The NAB selection is the anchors' one, so our classical numbers can be
  checked against the anchors CSV series by series;
* lengths capped at 10,000 (univariate) / 16,500 (multivariate) points;
* each detector is fitted on the train part (``train_end`` from
  :func:`sslts.data.datasets.load_anomaly_series`) and scores the whole series;
* VUS window = :func:`sslts.metrics.find_period` of channel 0 (TSB-AD's
  ``find_length_rank``).

Methods: ``TSPulseAnomalyDetector`` zero-shot with the shipped weights in the modes
``time``, ``fft``, ``forecast``, ``ensemble``, ``embedding`` and ``hybrid`` (its
design chosen beforehand on other NAB series, ``dev_anomaly_embedding.py``;
``triangulation`` needs labelled
fit data; the train parts hold no anomaly, so it would equal ``ensemble``), the
library's ``KMeansAnomalyDetector`` and ``DeepSVDDAnomalyDetector``, and two
classical detectors defined here on sliding windows (window = estimated period of
the train part, 8..128, channels z-scored with the train part, all channels of a
window flattened into one vector, point score = mean over covering windows):

* ``PCA-win``: reconstruction error of a PCA keeping 90% of the train windows'
  variance;
* ``IForest-win``: Isolation Forest (100 trees) anomaly score.

No hyper-parameter is tuned on the scored series; all are fixed defaults.

Writes ``<out>.csv`` (one row per series and method), ``<out>_summary.csv`` (mean per
panel and method), ``<out>_vs_anchors.csv`` (our classical means next to the
anchors' ones on the same series) and ``<out>.png``. With ``--merge``, the rows of
an earlier ``<out>.csv`` for methods not run now are kept, so one method can be added
or re-run without running the others again.

Run::

    nice -n 5 python benchmarks/bench_anomaly.py
    python benchmarks/bench_anomaly.py --panels uni --methods PCA-win KMeans-win --limit 3
    nice -n 5 python benchmarks/bench_anomaly.py --methods TSPulse-embedding --merge
"""

from __future__ import annotations

import time
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
from _common import limit_threads, make_parser, read_csv, write_csv
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import ConvergenceWarning
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

from sslts._validation import Series
from sslts.anomaly import (
    DeepSVDDAnomalyDetector,
    KMeansAnomalyDetector,
    TSPulseAnomalyDetector,
    estimate_period,
)
from sslts.data.datasets import data_dir, load_anomaly_series
from sslts.data.windows import points_from_windows, sliding_windows
from sslts.embedding import TSPulseEmbedder
from sslts.metrics import auc_pr, auc_roc, best_f1, find_period, vus_pr, vus_roc

UNIVARIATE = [
    "TSB-AD-U/001_NAB_id_1_Facility_tr_1007_1st_2014",
    *(
        f"NAB/{name}"
        for name in (
            "artificialWithAnomaly/art_daily_flatmiddle",
            "artificialWithAnomaly/art_daily_jumpsdown",
            "artificialWithAnomaly/art_daily_jumpsup",
            "artificialWithAnomaly/art_daily_nojump",
            "artificialWithAnomaly/art_increase_spike_density",
            "artificialWithAnomaly/art_load_balancer_spikes",
            "realAWSCloudwatch/ec2_cpu_utilization_24ae8d",
            "realAWSCloudwatch/ec2_cpu_utilization_5f5533",
            "realAWSCloudwatch/grok_asg_anomaly",
            "realAWSCloudwatch/rds_cpu_utilization_cc0c53",
            "realAdExchange/exchange-2_cpc_results",
            "realAdExchange/exchange-3_cpc_results",
            "realKnownCause/ambient_temperature_system_failure",
            "realKnownCause/ec2_request_latency_system_failure",
            "realKnownCause/nyc_taxi",
            "realKnownCause/rogue_agent_key_hold",
            "realKnownCause/rogue_agent_key_updown",
            "realTraffic/TravelTime_387",
            "realTraffic/occupancy_6005",
            "realTraffic/speed_7578",
        )
    ),
    "SMAP/A-5",
    "SMAP/D-12",
    "SMAP/S-1",
    "MSL/C-2",
    "MSL/T-8",
]
MULTIVARIATE = [
    "TSB-AD-M/001_Genesis_id_1_Sensor_tr_4055_1st_15538",
    "TSB-AD-M/002_MSL_id_1_Sensor_tr_500_1st_900",
    "SMAP/A-8",
    "SMAP/S-1",
    "MSL/D-16",
    "MSL/M-6",
    "MSL/T-9",
    "MSL/T-12",
]
MAX_LENGTH = {"uni": 10_000, "multi": 16_500}
TSPULSE_MODES = ("time", "fft", "forecast", "ensemble", "embedding", "hybrid", "triangulation")
METHODS = (
    *(f"TSPulse-{mode}" for mode in TSPULSE_MODES),
    "KMeans-win",
    "DeepSVDD-win",
    "PCA-win",
    "IForest-win",
    "TSPulse-emb-kNN",
)
METRICS = ("VUS-PR", "VUS-ROC", "AUC-PR", "AUC-ROC", "F1", "Event-F1")
# the anchors' names for the same (or the closest) detector, per panel
ANCHOR_NAMES = {
    "KMeans-win": {"uni": "KMeans-win", "multi": "KMeans-win"},
    "DeepSVDD-win": {"uni": "DeepSVDD-win", "multi": "DeepSVDD-win"},
    "PCA-win": {"uni": "Sub-PCA", "multi": "PCA"},
    "IForest-win": {"uni": "IForest", "multi": "IForest"},
}


class _WindowScorer:
    """Shared part of the window detectors defined here: z-score, cut, score, spread."""

    def __init__(self, random_state: int = 0) -> None:
        self.random_state = random_state

    def _windows(self, values: np.ndarray) -> tuple[np.ndarray, object]:
        z = (values - self.mean_) / self.std_
        windows = sliding_windows(Series(z.astype(np.float32), None), self.window_, 1)
        return windows.values.reshape(len(windows), -1), windows

    def fit(self, train: np.ndarray):
        self.mean_ = train.mean(axis=0)
        self.std_ = np.where(train.std(axis=0) > 0, train.std(axis=0), 1.0)
        self.window_ = estimate_period(train)
        flat, _ = self._windows(train)
        self._fit_flat(flat)
        return self

    def decision_function(self, series: np.ndarray) -> np.ndarray:
        flat, windows = self._windows(series)
        return points_from_windows(self._score_flat(flat), windows, per="window")


class WindowPCA(_WindowScorer):
    """Squared reconstruction error of each window under a 90%-variance PCA."""

    def _fit_flat(self, flat: np.ndarray) -> None:
        step = max(1, len(flat) // 2000)  # at most ~2,000 windows for the SVD
        n_comp = 0.9 if min(flat.shape) > 1 else None
        self.pca_ = PCA(n_components=n_comp, random_state=self.random_state).fit(
            flat[::step]
        )

    def _score_flat(self, flat: np.ndarray) -> np.ndarray:
        recon = self.pca_.inverse_transform(self.pca_.transform(flat))
        return ((flat - recon) ** 2).mean(axis=1)


class WindowIForest(_WindowScorer):
    """Isolation Forest score of each window (higher = more isolated)."""

    def _fit_flat(self, flat: np.ndarray) -> None:
        self.forest_ = IsolationForest(n_estimators=100, random_state=self.random_state)
        self.forest_.fit(flat)

    def _score_flat(self, flat: np.ndarray) -> np.ndarray:
        return -self.forest_.score_samples(flat)


class TSPulseEmbeddingKNN:
    """Distance of each window's zero-shot TSPulse embedding to the nearest train window's.

    Exploratory (not a library detector): windows of twice the train part's period
    (16..256 points), 4 points apart, z-scored with the train part, embedded by
    ``TSPulseEmbedder(embedding="both")`` with the shipped weights (no training);
    embeddings standardised on the train windows; a window's score is its Euclidean
    distance to the nearest train window (the next nearest when it *is* a train
    window); point score = mean over covering windows. The factor 2 was chosen after
    comparing factors 1 and 2 on 6 of the benchmark's series, so its numbers are
    slightly optimistic.
    """

    stride = 4

    def __init__(self, device: str = "cpu", random_state: int = 0) -> None:
        self.device = device
        self.random_state = random_state

    def _embed(self, values: np.ndarray) -> tuple[np.ndarray, object]:
        z = ((values - self.mean_) / self.std_).astype(np.float32)
        windows = sliding_windows(Series(z, None), self.window_, self.stride)
        return self.embedder_.transform(windows.values), windows

    def fit(self, train: np.ndarray):
        self.mean_ = train.mean(axis=0)
        self.std_ = np.where(train.std(axis=0) > 0, train.std(axis=0), 1.0)
        self.window_ = 2 * estimate_period(train)
        self.embedder_ = TSPulseEmbedder(
            embedding="both",
            patch_phases=1,  # the read-out this baseline was measured with
            device=self.device,
            random_state=self.random_state,
        )
        self.embedder_.fit(np.zeros((1, train.shape[1], self.window_), np.float32))
        embeddings, _ = self._embed(train)
        self.scaler_ = StandardScaler().fit(embeddings)
        self.neighbors_ = NearestNeighbors(n_neighbors=2).fit(
            self.scaler_.transform(embeddings)
        )
        return self

    def decision_function(self, series: np.ndarray) -> np.ndarray:
        embeddings, windows = self._embed(series)
        dist = self.neighbors_.kneighbors(self.scaler_.transform(embeddings))[0]
        nearest = np.where(dist[:, 0] > 1e-9, dist[:, 0], dist[:, 1])
        return points_from_windows(nearest, windows, per="window")


def make_detector(method: str, seed: int, device: str, pretrained: str = "default"):
    """A fresh detector for ``method`` with the fixed benchmark settings."""
    if method.removeprefix("TSPulse-") in TSPULSE_MODES:
        mode = method.removeprefix("TSPulse-")
        return TSPulseAnomalyDetector(
            pretrained=pretrained, mode=mode, device=device, random_state=seed
        )
    if method == "KMeans-win":
        return KMeansAnomalyDetector(random_state=seed)
    if method == "DeepSVDD-win":
        return DeepSVDDAnomalyDetector(device=device, random_state=seed)
    if method == "PCA-win":
        return WindowPCA(random_state=seed)
    if method == "IForest-win":
        return WindowIForest(random_state=seed)
    if method == "TSPulse-emb-kNN":
        return TSPulseEmbeddingKNN(device=device, random_state=seed)
    raise ValueError(f"unknown method {method!r}; choose from {METHODS}")


def load_view(key: str, panel: str) -> dict:
    """The series as the panel sees it: channel 0 (uni) or non-constant channels (multi)."""
    series = load_anomaly_series(key, max_length=MAX_LENGTH[panel])
    values = series.values
    if panel == "uni":
        values = values[:, :1]
    elif series.source in ("SMAP", "MSL"):
        values = values[:, np.ptp(values, axis=0) > 0]
    name = key.split("/", 1)[1].replace("/", "_")
    if series.source in ("SMAP", "MSL"):
        name = f"{series.source}_{name}" + ("_ch0" if panel == "uni" else "")
    elif series.source == "NAB":
        name = f"NAB_{name}"
    return {
        "panel": panel,
        "series": name,
        "source": series.source,
        "values": values,
        "labels": series.labels,
        "train_end": series.train_end,
        "sliding_window": find_period(series.values[:, 0]),
    }


def evaluate(scores: np.ndarray, labels: np.ndarray, window: int) -> dict[str, float]:
    """Every metric of one score series."""
    return {
        "VUS-PR": vus_pr(labels, scores, sliding_window=window),
        "VUS-ROC": vus_roc(labels, scores, sliding_window=window),
        "AUC-PR": auc_pr(labels, scores),
        "AUC-ROC": auc_roc(labels, scores),
        "F1": best_f1(labels, scores),
        "Event-F1": best_f1(labels, scores, kind="event"),
    }


def run_one(view: dict, method: str, seed: int, device: str, pretrained: str = "default") -> dict:
    """Fit on the train part, score the whole series, measure; errors become a status."""
    row = {
        k: view[k] for k in ("panel", "series", "source", "train_end", "sliding_window")
    }
    row.update(n=len(view["labels"]), d=view["values"].shape[1], method=method)
    start = time.perf_counter()
    try:
        detector = make_detector(method, seed, device, pretrained)
        detector.fit(view["values"][: view["train_end"]])
        scores = np.asarray(
            detector.decision_function(view["values"]), dtype=np.float64
        )
        row.update(
            evaluate(scores, view["labels"], view["sliding_window"]), status="ok"
        )
    except Exception as error:  # noqa: BLE001 - one failing method must not end the run
        row.update({m: float("nan") for m in METRICS}, status=f"error: {error!r}"[:200])
    row["time_s"] = round(time.perf_counter() - start, 3)
    return row


def summarise(rows: list[dict]) -> list[dict]:
    """Mean of each metric per (panel, method) over the series it scored."""
    groups = defaultdict(list)
    for row in rows:
        groups[(row["panel"], row["method"])].append(row)
    out = []
    for (panel, method), group in groups.items():
        ok = [r for r in group if r["status"] == "ok"]
        entry = {
            "panel": panel,
            "method": method,
            "n_series": len(ok),
            "n_failed": len(group) - len(ok),
        }
        for metric in (*METRICS, "time_s"):
            entry[metric] = (
                float(np.mean([r[metric] for r in ok])) if ok else float("nan")
            )
        out.append(entry)
    return out


def compare_with_anchors(rows: list[dict], path: Path) -> list[dict]:
    """Our classical detectors' mean VUS-PR/AUC-PR next to the anchors' on the same series."""
    anchors = {
        (r["panel"], r["series"], r["method"]): r
        for r in read_csv(path)
        if r["status"] == "ok"
    }
    out = []
    for method, names in ANCHOR_NAMES.items():
        for panel, anchor_method in names.items():
            pairs = [
                (r, anchors[(panel, r["series"], anchor_method)])
                for r in rows
                if r["method"] == method
                and r["panel"] == panel
                and r["status"] == "ok"
                and (panel, r["series"], anchor_method) in anchors
            ]
            if not pairs:
                continue
            entry = {
                "panel": panel,
                "method": method,
                "anchor_method": anchor_method,
                "n_series": len(pairs),
            }
            for metric in ("VUS-PR", "AUC-PR"):
                ours = np.array([p[0][metric] for p in pairs])
                theirs = np.array([p[1][metric] for p in pairs])
                entry[f"{metric} ours"] = float(ours.mean())
                entry[f"{metric} anchors"] = float(theirs.mean())
                entry[f"{metric} mean |diff|"] = float(np.abs(ours - theirs).mean())
            out.append(entry)
    return out


def plot(rows: list[dict], path: Path) -> None:
    """Box plots of VUS-PR per method (means marked), one panel per track."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [p for p in ("uni", "multi") if any(r["panel"] == p for r in rows)]
    fig, axes = plt.subplots(
        1, len(panels), figsize=(7 * len(panels), 4.5), squeeze=False
    )
    for ax, panel in zip(axes[0], panels):
        methods = [
            m
            for m in METHODS
            if any(r["method"] == m and r["panel"] == panel for r in rows)
        ]
        data = [
            [
                r["VUS-PR"]
                for r in rows
                if r["panel"] == panel and r["method"] == m and r["status"] == "ok"
            ]
            for m in methods
        ]
        colors = [
            "tab:blue" if m.startswith("TSPulse") else "tab:gray" for m in methods
        ]
        box = ax.boxplot(data, patch_artist=True, showmeans=True)
        for patch, color in zip(box["boxes"], colors):
            patch.set_facecolor(color)
            patch.set_alpha(0.5)
        ax.set_xticks(range(1, len(methods) + 1), methods, rotation=40, ha="right")
        n_series = max((len(d) for d in data), default=0)
        ax.set_title(f"{panel}variate, {n_series} series (triangle = mean)")
        ax.set_ylabel("VUS-PR")
        ax.set_ylim(0, 1)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def print_table(summary: list[dict]) -> None:
    header = f"{'panel':6} {'method':18} {'n':>3} " + " ".join(
        f"{m:>8}" for m in METRICS
    )
    print(header + f" {'time_s':>8}")
    for entry in sorted(summary, key=lambda e: (e["panel"] != "uni", -e["VUS-PR"])):
        values = " ".join(f"{entry[m]:8.3f}" for m in METRICS)
        print(
            f"{entry['panel']:6} {entry['method']:18} {entry['n_series']:3d} {values} "
            f"{entry['time_s']:8.2f}"
        )


def main() -> None:
    parser = make_parser(__doc__, out="anomaly", seed=True, threads=1)
    parser.add_argument(
        "--panels", nargs="+", choices=("uni", "multi"), default=["uni", "multi"]
    )
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument(
        "--limit", type=int, default=None, help="first N series per panel"
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--pretrained", default="default", help="checkpoint of the TSPulse detectors"
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the rows of <out>.csv for the methods not run now",
    )
    args = parser.parse_args()
    limit_threads(args.threads)
    # K-Means on the constant command-flag channels of SMAP/MSL finds one cluster
    warnings.filterwarnings("ignore", category=ConvergenceWarning)

    keys = {"uni": UNIVARIATE, "multi": MULTIVARIATE}
    views = [load_view(k, p) for p in args.panels for k in keys[p][: args.limit]]
    out = args.out
    rows = []
    if args.merge and out.with_suffix(".csv").is_file():
        earlier = read_csv(out.with_suffix(".csv"))
        rows = [r for r in earlier if r["method"] not in args.methods]
    with tqdm(total=len(views) * len(args.methods), desc="series x method") as bar:
        for view in views:
            for method in args.methods:
                bar.set_postfix_str(f"{view['series'][:30]} {method}")
                rows.append(run_one(view, method, args.seed, args.device, args.pretrained))
                # rewritten after every row, so a long run leaves partial results
                write_csv(out.with_suffix(".csv"), rows)
                bar.update()

    summary = summarise(rows)
    write_csv(out.with_name(out.name + "_summary.csv"), summary)
    plot(rows, out.with_suffix(".png"))
    print_table(summary)
    for row in rows:
        if row["status"] != "ok":
            print(
                f"failed: {row['panel']} {row['series']} {row['method']}: {row['status']}"
            )

    anchors_path = data_dir() / "anchors" / "anomaly_classical_vus.csv"
    if anchors_path.is_file():
        comparison = compare_with_anchors(rows, anchors_path)
        write_csv(out.with_name(out.name + "_vs_anchors.csv"), comparison)
        print("\nclassical detectors vs anchors (same series):")
        for entry in comparison:
            print(
                f"  {entry['panel']:5} {entry['method']:13} ({entry['anchor_method']:12}) "
                f"n={entry['n_series']:2d}  VUS-PR ours {entry['VUS-PR ours']:.3f} "
                f"anchors {entry['VUS-PR anchors']:.3f} "
                f"mean|diff| {entry['VUS-PR mean |diff|']:.3f}"
            )
    for panel in args.panels:
        best = {e["method"]: e["VUS-PR"] for e in summary if e["panel"] == panel}
        tspulse = {m: v for m, v in best.items() if m.startswith("TSPulse")}
        classical = {m: v for m, v in best.items() if not m.startswith("TSPulse")}
        if tspulse and classical:
            c_name, c_val = max(classical.items(), key=lambda kv: kv[1])
            for t_name, t_val in sorted(tspulse.items(), key=lambda kv: -kv[1]):
                print(
                    f"{panel}: {t_name} {t_val:.3f} / best classical {c_name} "
                    f"{c_val:.3f} = {t_val / c_val:.2f}x (target 1.10x)"
                )


if __name__ == "__main__":
    main()
