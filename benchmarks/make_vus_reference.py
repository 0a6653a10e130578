"""Write ``tests/fixtures/vus_reference.json``: TSB-AD's metric values on small cases.

Runs in a separate environment with the TSB-AD package (it needs numpy<2), never in the
sslts one::

    python3 -m venv /tmp/venv-tsbad
    /tmp/venv-tsbad/bin/pip install "numpy<2" TSB-AD==1.5
    /tmp/venv-tsbad/bin/python benchmarks/make_vus_reference.py

The inputs are generated here with a fixed seed and stored next to the reference
outputs, so ``tests/test_metrics.py`` needs neither TSB-AD nor this script.
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

import numpy as np
from _common import make_parser
from TSB_AD.evaluation.metrics import get_metrics
from TSB_AD.utils.slidingWindows import find_length_rank


def _labels(n: int, ranges: list[tuple[int, int]]) -> np.ndarray:
    y = np.zeros(n, dtype=int)
    for start, end in ranges:  # end included
        y[start : end + 1] = 1
    return y


def metric_cases(rng: np.random.Generator) -> list[dict]:
    """Label/score pairs covering the situations the metrics must get right."""
    cases = []
    y = _labels(500, [(100, 119), (300, 304), (410, 440)])
    cases.append({"name": "random_scores", "y": y, "s": rng.random(500), "window": 10})
    cases.append(
        {"name": "perfect_detector", "y": y, "s": y.astype(float), "window": 20}
    )
    shifted = np.roll(y, 6).astype(float) + 0.05 * rng.random(500)
    cases.append({"name": "shifted_detector", "y": y, "s": shifted, "window": 16})
    # ranges at both ends and two ranges close enough to merge once widened
    y_edges = _labels(400, [(0, 4), (150, 159), (166, 170), (390, 399)])
    noisy = 0.6 * y_edges + rng.random(400)
    cases.append(
        {"name": "edges_and_close_ranges", "y": y_edges, "s": noisy, "window": 30}
    )
    cases.append({"name": "odd_window", "y": y_edges, "s": noisy, "window": 7})
    cases.append({"name": "window_zero", "y": y, "s": shifted, "window": 0})
    cases.append({"name": "window_one", "y": y, "s": shifted, "window": 1})
    tied = np.round(y + rng.normal(0, 0.6, 500), 1)
    cases.append({"name": "ties", "y": y, "s": tied, "window": 12})
    y_short = _labels(120, [(40, 47), (90, 91)])  # fewer points than thresholds
    short = y_short * 0.5 + rng.random(120)
    cases.append({"name": "short_series", "y": y_short, "s": short, "window": 9})
    y_point = _labels(300, [(57, 57), (200, 200), (201, 203)])
    cases.append(
        {
            "name": "point_anomalies",
            "y": y_point,
            "s": rng.random(300) + y_point * 0.3,
            "window": 25,
        }
    )
    out = []
    for case in cases:
        case["s"] = np.round(
            case["s"], 5
        )  # short json; references use the stored inputs
        m = get_metrics(case["s"], case["y"], slidingWindow=case["window"])
        out.append(
            dict(
                name=case["name"],
                labels=case["y"].tolist(),
                scores=case["s"].tolist(),
                sliding_window=case["window"],
                **{
                    k: float(m[k])
                    for k in ("VUS-PR", "VUS-ROC", "AUC-PR", "AUC-ROC", "Standard-F1")
                },
            )
        )
    return out


def period_cases(rng: np.random.Generator) -> list[dict]:
    """Series for the period estimate (TSB-AD's find_length_rank, rank 1)."""
    t = np.arange(1500)
    series = {
        "sine_37": np.sin(2 * np.pi * t / 37) + 0.3 * rng.normal(size=1500),
        "two_periods": np.sin(2 * np.pi * t / 24) + 0.5 * np.sin(2 * np.pi * t / 168),
        "random_walk": np.cumsum(rng.normal(size=1500)),
        "white_noise": rng.normal(size=1500),
        "short_period_4": np.tile([0.0, 1.0, 0.0, -1.0], 375)
        + 0.1 * rng.normal(size=1500),
        "long_period_350": np.sin(2 * np.pi * t / 350),
        "very_short_series": rng.normal(size=200),
    }
    out = []
    for name, x in series.items():
        x = np.round(x, 4)
        out.append(
            {"name": name, "x": x.tolist(), "period": int(find_length_rank(x, rank=1))}
        )
    return out


def main() -> None:
    parser = make_parser(__doc__, seed=True)
    parser.add_argument(
        "--out", type=Path, default=Path("tests/fixtures/vus_reference.json")
    )
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    payload = {
        "source": f"TSB-AD {version('TSB-AD')}, numpy {np.__version__}, seed {args.seed}",
        "metrics": metric_cases(rng),
        "periods": period_cases(rng),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload))
    print(
        f"wrote {args.out}: {len(payload['metrics'])} metric and "
        f"{len(payload['periods'])} period cases"
    )


if __name__ == "__main__":
    main()
