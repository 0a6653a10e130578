"""Anomaly metrics against TSB-AD 1.5 reference values, sklearn, and brute force."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from sslts.metrics import auc_pr, auc_roc, best_f1, find_period, vus_pr, vus_roc

REFERENCE = json.loads(
    (Path(__file__).parent / "fixtures" / "vus_reference.json").read_text()
)
METRIC_CASES = {case["name"]: case for case in REFERENCE["metrics"]}
PERIOD_CASES = {case["name"]: case for case in REFERENCE["periods"]}


@pytest.mark.parametrize("name", sorted(METRIC_CASES))
def test_matches_tsbad(name):
    case = METRIC_CASES[name]
    y, s, window = (
        np.array(case["labels"]),
        np.array(case["scores"]),
        case["sliding_window"],
    )
    assert vus_pr(y, s, sliding_window=window) == pytest.approx(
        case["VUS-PR"], abs=1e-9
    )
    assert vus_roc(y, s, sliding_window=window) == pytest.approx(
        case["VUS-ROC"], abs=1e-9
    )
    assert auc_pr(y, s) == pytest.approx(case["AUC-PR"], abs=1e-9)
    assert auc_roc(y, s) == pytest.approx(case["AUC-ROC"], abs=1e-9)
    # TSB-AD divides by (P + R + 1e-5); ours is the exact F1, so slightly higher
    assert 0 <= best_f1(y, s) - case["Standard-F1"] <= 1e-5


@pytest.mark.parametrize("name", sorted(PERIOD_CASES))
def test_find_period_matches_tsbad(name):
    case = PERIOD_CASES[name]
    assert find_period(np.array(case["x"])) == case["period"]


def test_auc_match_sklearn_with_ties():
    rng = np.random.default_rng(1)
    y = (rng.random(300) < 0.2).astype(int)
    s = np.round(rng.normal(size=300) + y, 1)  # many ties
    assert auc_roc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert auc_pr(y, s) == pytest.approx(average_precision_score(y, s), abs=1e-12)


def _brute_f1(y, s, event):
    runs = np.split(np.arange(len(y)), np.flatnonzero(np.diff(y)) + 1)
    events = [r for r in runs if y[r[0]] == 1]
    best = 0.0
    for t in np.unique(s):
        pred = s >= t
        precision = (pred & (y == 1)).sum() / pred.sum()
        if event:
            recall = np.mean([pred[r].any() for r in events])
        else:
            recall = (pred & (y == 1)).sum() / y.sum()
        if precision + recall:
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


@pytest.mark.parametrize("kind", ["point", "event"])
def test_best_f1_brute_force(kind):
    rng = np.random.default_rng(2)
    y = np.zeros(200, dtype=int)
    y[[5, 6, 7, 50, 120, 121, 199]] = 1  # a run ending at the last point
    s = np.round(rng.random(200) + 0.4 * y, 2)
    assert best_f1(y, s, kind=kind) == pytest.approx(_brute_f1(y, s, kind == "event"))


def test_event_f1_rewards_one_hit_per_event():
    y = np.array([0, 1, 1, 1, 0, 0, 1, 1, 0, 0])
    s = np.array([0, 1, 0, 0, 0, 0, 0, 1, 0, 0], dtype=float)
    assert best_f1(y, s, kind="event") == 1.0
    # point F1: the two hits give P=1, R=0.4 (F1 0.57); flagging all gives 2/3
    assert best_f1(y, s, kind="point") == pytest.approx(2 / 3)


def test_vus_of_perfect_and_reversed_detectors():
    y = np.zeros(300, dtype=int)
    y[100:120] = 1
    y[250:255] = 1
    assert vus_pr(y, y.astype(float), sliding_window=30) == pytest.approx(1.0)
    assert vus_roc(y, y.astype(float), sliding_window=30) == pytest.approx(1.0)
    assert vus_pr(y, -y.astype(float), sliding_window=30) < 0.2


def test_vus_rewards_near_misses_more_than_auc():
    y = np.zeros(400, dtype=int)
    y[200:210] = 1
    s = np.zeros(400)
    s[212:215] = 1.0  # fires just after the anomaly
    assert auc_pr(y, s) < 0.05
    assert vus_pr(y, s, sliding_window=20) > 0.1 + auc_pr(y, s)


@pytest.mark.parametrize(
    "y, s, match",
    [
        ([0, 1, 0], [0.1, 0.2], "has 3 points but scores has 2"),
        ([0, 2, 0], [0.1, 0.2, 0.3], "only 0"),
        ([0, 0, 0], [0.1, 0.2, 0.3], "no anomalous point"),
        ([1, 1, 1], [0.1, 0.2, 0.3], "no normal point"),
        ([0, 1, 0], [0.1, np.nan, 0.3], "NaN"),
        ([[0, 1, 0]], [[0.1, 0.2, 0.3]], "must be 1D"),
    ],
)
def test_input_errors(y, s, match):
    for metric in (auc_roc, auc_pr, best_f1, vus_pr, vus_roc):
        with pytest.raises(ValueError, match=match):
            metric(y, s)


def test_parameter_errors():
    y, s = [0, 1, 0, 0], [0.1, 0.9, 0.2, 0.3]
    with pytest.raises(ValueError, match="'kind' parameter must be one of"):
        best_f1(y, s, kind="range")
    with pytest.raises(ValueError, match=r"'sliding_window' parameter must be an int in the range \[0, inf\)"):
        vus_pr(y, s, sliding_window=-1)
    with pytest.raises(ValueError, match=r"'n_thresholds' parameter must be an int in the range"):
        vus_roc(y, s, n_thresholds=0)
    with pytest.raises(ValueError, match="univariate"):
        find_period(np.zeros((10, 2)))
    assert find_period(np.ones(500)) == 125  # constant: no autocorrelation, the default
