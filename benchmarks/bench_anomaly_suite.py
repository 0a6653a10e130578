"""The anomaly development suite: TSPulse detectors vs classical ones, per kind.

One seeded run scores every series of the suite (``_anomaly_suite.py``: UCR
shape-anomaly splices, NAB and TSB-AD-U in the univariate panel; all 82
SMAP/MSL channels and TSB-AD-M in the multivariate one; each series in a
*selection* or a *report* half) with every method: each detector is fitted on
the series' fit part and scores its evaluation part.

Methods (no hyper-parameter tuned on the scored series; window = the period
:func:`sslts.anomaly.estimate_period` finds in the fit part, the library's rule):

* ``TSPulse-<mode>``: :class:`sslts.anomaly.TSPulseAnomalyDetector` zero-shot
  in each mode; ``TSPulse-default`` is ``TSPulseAnomalyDetector()`` as shipped;
* ``KMeans-win``, ``DeepSVDD-win``: the library's classical detectors
  (DeepSVDD in the univariate panel only: too slow on the many SMAP/MSL
  channels, see ``UNIVARIATE_ONLY``);
* ``aeon-KMeansAD``: aeon's K-Means on windows (20 clusters, stride 1);
  ``aeon-STOMP`` (univariate): matrix-profile discord distance of the
  evaluation part (self-join, z-normalised windows); ``aeon-DWT_MLEAD``
  (univariate): wavelet-level Gaussian outliers;
* ``pyod-<name>``: pyod's IForest, LOF, KNN, PCA and HBOS on windows through
  aeon's ``PyODAdapter`` (fitted on the fit part's windows; stride 1 in the
  univariate panel, a quarter window in the multivariate one).

Writes ``<out>.csv`` (one row per series and method, rewritten after every
series, so an interrupted run resumes where it stopped), ``<out>_summary.csv``
(mean per panel, half, kind and method), and ``<out>.png``.

Run::

    nice -n 5 python benchmarks/bench_anomaly_suite.py --n-jobs 2
    python benchmarks/bench_anomaly_suite.py --halves selection --methods TSPulse-default KMeans-win

The committed results (``benchmarks/results/anomaly_suite*``) were made in parts
on a 2-core machine, then merged into one CSV (``--also``): every classical
method on the selection half; on the report half the five classical detectors
that led on the selection half (``KMeans-win DeepSVDD-win aeon-KMeansAD pyod-LOF
pyod-KNN``, named before the report half was run); ``TSPulse-default`` on both
halves; rows named ``TSPulse-*-previous`` are the detector as it was before this
suite (reconstruction without position calibration, register embedding of two
periods), on the selection half::

    python benchmarks/bench_anomaly_suite.py --halves selection --methods KMeans-win \
        DeepSVDD-win aeon-KMeansAD aeon-STOMP aeon-DWT_MLEAD pyod-IForest pyod-LOF \
        pyod-KNN pyod-PCA pyod-HBOS
    python benchmarks/bench_anomaly_suite.py --halves report --methods KMeans-win \
        DeepSVDD-win aeon-KMeansAD pyod-LOF pyod-KNN --out benchmarks/results/anomaly_suite_report
    python benchmarks/bench_anomaly_suite.py --methods TSPulse-default \
        --out benchmarks/results/anomaly_suite_default
    python benchmarks/bench_anomaly_suite.py --methods TSPulse-default \
        --also benchmarks/results/anomaly_suite_report.csv benchmarks/results/anomaly_suite_default.csv

(the parts' CSVs are not kept). ``anomaly_suite_calibration.csv`` holds the
reconstruction modes with the position calibration on 43 selection series
(``--halves selection --panels uni --methods TSPulse-ensemble TSPulse-time
TSPulse-fft TSPulse-forecast --out benchmarks/results/anomaly_suite_calibration``,
stopped after 43 series).
"""

from __future__ import annotations

import time
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
from _anomaly_suite import HALVES, PANELS, load_item, suite_items
from _common import limit_threads, make_parser, read_csv, write_csv
from bench_anomaly import METRICS, evaluate
from joblib import Parallel, delayed
from tqdm.auto import tqdm

TSPULSE_MODES = (
    "time",
    "fft",
    "forecast",
    "ensemble",
    "triangulation",
    "embedding",
    "hybrid",
)
PYOD = ("IForest", "LOF", "KNN", "PCA", "HBOS")
# STOMP and DWT-MLEAD are univariate; DeepSVDD trains one network per channel on
# stride-1 windows: 1-4 minutes per SMAP/MSL series on a core (ten times any other
# method) while it trailed K-Means there on the first three series (0.12-0.36)
UNIVARIATE_ONLY = ("aeon-STOMP", "aeon-DWT_MLEAD", "DeepSVDD-win")
METHODS = (
    "TSPulse-default",
    *(f"TSPulse-{mode}" for mode in TSPULSE_MODES),
    "KMeans-win",
    "DeepSVDD-win",
    "aeon-KMeansAD",
    "aeon-STOMP",
    "aeon-DWT_MLEAD",
    *(f"pyod-{name}" for name in PYOD),
)


def is_ours(method: str) -> bool:
    return method.startswith("TSPulse")


class _Aeon:
    """An aeon series detector behind ``fit(fit_part)``/``decision_function(values)``."""

    def __init__(self, make, semi_supervised: bool) -> None:
        self.make, self.semi_supervised = make, semi_supervised

    def fit(self, fit: np.ndarray):
        from sslts.anomaly import estimate_period

        self.window_ = estimate_period(fit)
        self.detector_ = self.make(self.window_, fit.shape[1])
        if self.semi_supervised:
            self.detector_.fit(_aeon_layout(fit))
        return self

    def decision_function(self, values: np.ndarray) -> np.ndarray:
        if self.semi_supervised:
            return self.detector_.predict(_aeon_layout(values))
        return self.detector_.fit_predict(_aeon_layout(values))


def _aeon_layout(values: np.ndarray) -> np.ndarray:
    """aeon's series layout: 1-D when univariate, else (n_channels, n_timepoints)."""
    return values[:, 0] if values.shape[1] == 1 else np.ascontiguousarray(values.T)


def make_detector(method: str, seed: int, pretrained: str = "default"):
    """A fresh detector for ``method`` with the fixed suite settings.

    ``pretrained`` is the checkpoint of the TSPulse detectors (a name or a path).
    """
    from sslts.anomaly import (
        DeepSVDDAnomalyDetector,
        KMeansAnomalyDetector,
        TSPulseAnomalyDetector,
    )

    if method == "TSPulse-default":
        return TSPulseAnomalyDetector(
            pretrained=pretrained, device="cpu", random_state=seed
        )
    if method.removeprefix("TSPulse-") in TSPULSE_MODES:
        mode = method.removeprefix("TSPulse-")
        return TSPulseAnomalyDetector(
            mode=mode, pretrained=pretrained, device="cpu", random_state=seed
        )
    if method == "KMeans-win":
        return KMeansAnomalyDetector(random_state=seed)
    if method == "DeepSVDD-win":
        return DeepSVDDAnomalyDetector(device="cpu", random_state=seed)
    if method == "aeon-KMeansAD":
        from aeon.anomaly_detection.series.distance_based import KMeansAD

        return _Aeon(lambda w, d: KMeansAD(window_size=w, random_state=seed), True)
    if method == "aeon-STOMP":
        from aeon.anomaly_detection.series.distance_based import STOMP

        return _Aeon(lambda w, d: STOMP(window_size=max(4, w)), False)
    if method == "aeon-DWT_MLEAD":
        from aeon.anomaly_detection.series.distribution_based import DWT_MLEAD

        return _Aeon(lambda w, d: DWT_MLEAD(), False)
    if method.startswith("pyod-"):
        return _Aeon(_pyod(method.removeprefix("pyod-"), seed), True)
    raise ValueError(f"unknown method {method!r}; choose from {METHODS}")


def _pyod(name: str, seed: int):
    from aeon.anomaly_detection.series import PyODAdapter
    from pyod.models.hbos import HBOS
    from pyod.models.iforest import IForest
    from pyod.models.knn import KNN
    from pyod.models.lof import LOF
    from pyod.models.pca import PCA

    models = {
        "IForest": lambda: IForest(random_state=seed),
        "LOF": LOF,
        "KNN": KNN,
        "PCA": lambda: PCA(random_state=seed),
        "HBOS": HBOS,
    }

    def make(window: int, channels: int):
        stride = 1 if channels == 1 else max(1, window // 4)
        return PyODAdapter(models[name](), window_size=window, stride=stride)

    return make


def score_item(
    item, methods: list[str], seed: int, threads: int, pretrained: str = "default"
) -> list[dict]:
    """Every method on one suite series; a failing method becomes a status.

    ``pretrained`` is the checkpoint of the TSPulse detectors.
    """
    limit_threads(threads)
    warnings.filterwarnings("ignore")
    series = load_item(item)
    if series is None:
        return []
    rows = []
    for method in methods:
        if method in UNIVARIATE_ONLY and series.values.shape[1] > 1:
            continue
        row = {
            "panel": item.panel,
            "half": item.half,
            "kind": item.kind,
            "series": item.key,
            "n_fit": len(series.fit),
            "n": len(series.values),
            "d": series.values.shape[1],
            "sliding_window": series.sliding_window,
            "method": method,
        }
        start = time.perf_counter()
        try:
            detector = make_detector(method, seed, pretrained).fit(series.fit)
            scores = np.asarray(detector.decision_function(series.values), np.float64)
            if scores.shape != series.labels.shape or not np.isfinite(scores).all():
                raise ValueError(f"scores of shape {scores.shape} or not finite")
            row.update(evaluate(scores, series.labels, series.sliding_window))
            row["edge_alarms"] = edge_alarms(scores)
            row["status"] = "ok"
        except Exception as error:  # noqa: BLE001 - one failing method must not end the run
            row.update({m: float("nan") for m in METRICS}, edge_alarms=float("nan"))
            row["status"] = f"error: {error!r}"[:200]
        row["time_s"] = round(time.perf_counter() - start, 3)
        rows.append(row)
    return rows


def edge_alarms(scores: np.ndarray, edge: float = 0.01) -> float:
    """Share of the 1% highest-scoring points that lie in the first or last 1%."""
    n = len(scores)
    k = max(1, int(edge * n))
    top = np.argsort(scores)[-k:]
    return float(np.mean((top < k) | (top >= n - k)))


def summarise(rows: list[dict]) -> list[dict]:
    """Mean metrics per (panel, half, kind, method), and per (panel, half, method)."""
    groups = defaultdict(list)
    for row in rows:
        if row["status"] != "ok":
            continue
        for kind in (row["kind"], "all"):
            groups[(row["panel"], row["half"], kind, row["method"])].append(row)
            groups[(row["panel"], "both", kind, row["method"])].append(row)
    out = []
    for (panel, half, kind, method), group in sorted(groups.items()):
        entry = {
            "panel": panel,
            "half": half,
            "kind": kind,
            "method": method,
            "n_series": len(group),
        }
        for metric in (*METRICS, "edge_alarms", "time_s"):
            entry[metric] = float(np.mean([float(r[metric]) for r in group]))
        out.append(entry)
    return out


def target_lines(
    summary: list[dict], half: str, default: str = "TSPulse-default"
) -> list[str]:
    """The issue's targets: the default's mean VUS-PR over the best classical one's."""
    lines = []
    for panel, goal in (("uni", 1.15), ("multi", 1.10)):
        means = {
            e["method"]: e["VUS-PR"]
            for e in summary
            if e["panel"] == panel and e["half"] == half and e["kind"] == "all"
        }
        classical = {m: v for m, v in means.items() if not is_ours(m)}
        if default not in means or not classical:
            continue
        best, value = max(classical.items(), key=lambda kv: kv[1])
        lines.append(
            f"{panel:5} {half:9}: {default} {means[default]:.3f} / best classical "
            f"{best} {value:.3f} = {means[default] / value:.2f}x (target {goal:.2f}x)"
        )
    return lines


def plot(summary: list[dict], path) -> None:
    """Mean VUS-PR per kind (rows) and method (columns), one heat map per panel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(16, 6))
    for ax, panel in zip(axes, PANELS):
        entries = [e for e in summary if e["panel"] == panel and e["half"] == "both"]
        kinds = sorted({e["kind"] for e in entries} - {"all"}) + ["all"]
        present = {e["method"] for e in entries}
        methods = [m for m in METHODS if m in present] + sorted(present - set(METHODS))
        table = np.full((len(kinds), len(methods)), np.nan)
        for e in entries:
            table[kinds.index(e["kind"]), methods.index(e["method"])] = e["VUS-PR"]
        ax.imshow(table, vmin=0, vmax=1, cmap="viridis", aspect="auto")
        for (i, j), v in np.ndenumerate(table):
            if np.isfinite(v):
                ax.text(
                    j,
                    i,
                    f"{v:.2f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if v < 0.6 else "black",
                )
        ax.set_xticks(range(len(methods)), methods, rotation=60, ha="right", fontsize=8)
        ax.set_yticks(range(len(kinds)), kinds, fontsize=8)
        ax.set_title(f"{panel}variate panel: mean VUS-PR (both halves)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = make_parser(__doc__, out="anomaly_suite", seed=True, threads=1, n_jobs=1)
    parser.add_argument("--panels", nargs="+", choices=PANELS, default=list(PANELS))
    parser.add_argument("--halves", nargs="+", choices=HALVES, default=list(HALVES))
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--limit", type=int, default=None, help="first N items")
    parser.add_argument(
        "--pretrained", default="default", help="checkpoint of the TSPulse detectors"
    )
    parser.add_argument(
        "--rerun",
        action="store_true",
        help="score again the (series, method) pairs already in <out>.csv",
    )
    parser.add_argument(
        "--also",
        nargs="*",
        default=[],
        type=Path,
        metavar="CSV",
        help="rows of other runs' CSVs merged into <out>.csv (not rescored)",
    )
    args = parser.parse_args()
    csv_path = args.out.with_suffix(".csv")
    rows = read_csv(csv_path) if csv_path.is_file() else []
    rows = [r for r in rows if not (r["method"] in UNIVARIATE_ONLY and int(r["d"]) > 1)]
    for extra in args.also:  # rows scored by other runs, merged into <out>.csv
        seen = {(r["series"], r["method"]) for r in rows}
        rows += [r for r in read_csv(extra) if (r["series"], r["method"]) not in seen]
    if args.rerun:
        rows = [r for r in rows if r["method"] not in args.methods]
    done = {(r["series"], r["method"]) for r in rows}
    items = suite_items(args.panels, args.halves)[: args.limit]
    todo = [
        (item, [m for m in args.methods if (item.key, m) not in done]) for item in items
    ]
    todo = [(item, methods) for item, methods in todo if methods]
    jobs = (
        delayed(score_item)(item, methods, args.seed, args.threads, args.pretrained)
        for item, methods in todo
    )
    results = Parallel(n_jobs=args.n_jobs, return_as="generator_unordered")(jobs)
    write_csv(csv_path, rows)
    for new in tqdm(results, total=len(todo), desc="series"):
        rows += new
        write_csv(csv_path, rows)
    rows = [
        r | {m: float(r[m]) for m in (*METRICS, "edge_alarms", "time_s")} for r in rows
    ]
    summary = summarise(rows)
    write_csv(args.out.with_name(args.out.name + "_summary.csv"), summary)
    plot(summary, args.out.with_suffix(".png"))
    for half in (*args.halves, "both"):
        for panel in args.panels:
            entries = sorted(
                (
                    e
                    for e in summary
                    if e["panel"] == panel and e["half"] == half and e["kind"] == "all"
                ),
                key=lambda e: -e["VUS-PR"],
            )
            print(f"\n{panel} / {half}")
            for e in entries:
                print(
                    f"  {e['method']:20} n={e['n_series']:3d} VUS-PR {e['VUS-PR']:.3f} "
                    f"AUC-PR {e['AUC-PR']:.3f} edge {e['edge_alarms']:.2f} "
                    f"{e['time_s']:6.1f}s"
                )
        print("\n".join(target_lines(summary, half)))
    for row in rows:
        if row["status"] != "ok":
            print(f"failed: {row['series']} {row['method']}: {row['status']}")


if __name__ == "__main__":
    main()
