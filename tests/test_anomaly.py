"""Series anomaly detectors: shapes, pyod conventions, heads, errors, round trips."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from _callbacks import EpochRecorder
from _tiny import TINY_CHECKPOINT as TINY
from sklearn.exceptions import NotFittedError

from sslts._base import epoch_history
from sslts._params import InvalidParameterError
from sslts._validation import Series, check_series
from sslts.anomaly import (
    DeepSVDDAnomalyDetector,
    KMeansAnomalyDetector,
    TSPulseAnomalyDetector,
    estimate_period,
)
from sslts.data.windows import sliding_windows
from sslts.models.deepsvdd import DeepSVDDNetwork

# many tiny fits: torch's thread start-up would dominate
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _kmeans(**kw):
    return KMeansAnomalyDetector(n_clusters=5, random_state=0, **kw)


def _svdd(**kw):
    params = {"hidden_sizes": (16, 8), "max_epochs": 2, "batch_size": 64, "random_state": 0}
    return DeepSVDDAnomalyDetector(**{**params, **kw})


def _tspulse(**kw):
    kw.setdefault("mode", "ensemble")
    return TSPulseAnomalyDetector(pretrained=TINY, random_state=0, **kw)


def _tspulse_embedding(**kw):
    return _tspulse(mode="embedding", **kw)


FACTORIES = [_kmeans, _svdd, _tspulse, _tspulse_embedding]
IDS = ["kmeans", "deepsvdd", "tspulse", "tspulse-embedding"]


def _sine(n=600, period=25, noise=0.05, seed=0, channels=None):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    x = np.sin(2 * np.pi * t / period) + noise * rng.normal(size=n)
    if channels is None:
        return x
    return np.column_stack([np.roll(x, 3 * c) * (c + 1) for c in range(channels)])


# ----------------------------------------------------------------- shapes
@pytest.mark.parametrize("make", FACTORIES, ids=IDS)
@pytest.mark.parametrize(
    ("fit_shape", "score_shape"),
    [((400,), (250,)), ((400, 3), (250, 3)), ((20,), (7,)), ((1200,), (1500,))],
    ids=["univariate", "multivariate", "short", "long"],
)
def test_output_shapes(make, fit_shape, score_shape):
    rng = np.random.default_rng(0)
    det = make().fit(rng.normal(size=fit_shape))
    n = fit_shape[0]
    channels = 1 if len(fit_shape) == 1 else fit_shape[1]
    assert det.n_features_in_ == channels
    assert (
        det.decision_scores_.shape == (n,) and det.decision_scores_.dtype == np.float64
    )
    assert det.labels_.shape == (n,)
    assert det.channel_scores_.shape == (n, channels)
    X = rng.normal(size=score_shape)
    scores = det.decision_function(X)
    assert scores.shape == (score_shape[0],) and np.isfinite(scores).all()
    assert det.channel_scores(X).shape == (score_shape[0], channels)
    assert det.predict_proba(X).shape == (score_shape[0], 2)


def test_single_point_series():
    det = _kmeans().fit(np.zeros(1))
    assert det.decision_function(np.ones(1)).shape == (1,)


# ------------------------------------------------------------ conventions
@pytest.mark.parametrize("make", FACTORIES, ids=IDS)
@pytest.mark.parametrize("contamination", [0.05, 0.2])
def test_threshold_labels_and_predict(make, contamination):
    x = _sine(noise=0.3)
    det = make(contamination=contamination).fit(x)
    assert det.threshold_ == pytest.approx(
        np.quantile(det.decision_scores_, 1 - contamination)
    )
    predicted = det.predict(x)
    assert set(np.unique(predicted)) <= {0, 1}
    np.testing.assert_array_equal(predicted, det.labels_)
    assert abs(predicted.mean() - contamination) < 0.02
    np.testing.assert_allclose(
        det.decision_function(x), det.decision_scores_, atol=1e-9
    )


@pytest.mark.parametrize("method", ["linear", "unify"])
def test_predict_proba(method):
    x = _sine(noise=0.3)
    det = _kmeans().fit(x)
    proba = det.predict_proba(x * 1.5, method=method)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert ((proba >= 0) & (proba <= 1)).all()
    scores = det.decision_function(x * 1.5)
    # the anomaly probability is monotone in the score
    order = np.argsort(scores)
    assert (np.diff(proba[order, 1]) >= -1e-12).all()
    with pytest.raises(ValueError, match="method"):
        det.predict_proba(x, method="softmax")


def test_channels_standardised_then_averaged():
    X = _sine(channels=3, noise=0.2)
    det = _kmeans().fit(X)
    channels = det.channel_scores(X)
    np.testing.assert_allclose(np.median(channels, axis=0), 0.0, atol=1e-9)
    np.testing.assert_allclose(det.decision_function(X), channels.mean(axis=1))


def test_channel_scores_point_at_the_anomalous_channel():
    X = _sine(channels=3)
    det = _kmeans().fit(X)
    X_test = X.copy()
    X_test[300, 1] += 6.0
    channels = det.channel_scores(X_test)
    assert np.argmax(channels[300]) == 1
    assert np.argmax(det.decision_function(X_test)) in range(290, 311)


# ---------------------------------------------------------- detection power
@pytest.mark.parametrize("make", [_kmeans, _svdd], ids=["kmeans", "deepsvdd"])
def test_baselines_score_a_planted_spike_highest(make):
    x = _sine(n=800)
    det = make().fit(x[:500])
    test = x.copy()
    test[650] += 3.0
    scores = det.decision_function(test)
    assert np.argmax(scores) in range(625, 676)
    assert scores[650] > np.percentile(scores, 99)


def test_tspulse_default_model_scores_a_planted_spike_highest():
    x = _sine(n=2000, period=40, noise=0.02)
    det = TSPulseAnomalyDetector(mode="ensemble").fit(x[:1200])
    test = x.copy()
    test[1500] += 2.0
    scores = det.decision_function(test)
    assert np.argmax(scores) in range(1490, 1511)
    assert scores[1500] > 3 * np.percentile(scores, 95)


# -------------------------------------------------------------- TSPulse heads
@pytest.mark.parametrize(
    "mode", ["time", "fft", "forecast", "ensemble", "triangulation", "embedding", "hybrid"]
)
def test_tspulse_modes(mode):
    x = _sine(n=300, period=16)
    det = _tspulse(mode=mode).fit(x)
    expected = "ensemble" if mode == "triangulation" else mode
    assert det.selected_mode_ == expected
    scores = det.decision_function(x)
    assert scores.shape == (300,) and np.isfinite(scores).all()


def test_tspulse_ensemble_is_max_of_standardised_heads():
    x = _sine(n=300, period=16, noise=0.2)
    det = _tspulse(mode="ensemble").fit(x)
    series = check_series(x, estimator=det, reset=False)
    raw = det._head_scores(series, ("time", "fft", "forecast"))
    heads = np.stack([det._standard_head(h, raw[h]) for h in raw])
    np.testing.assert_allclose(det._raw_scores(series), heads.max(axis=0))


def test_triangulation_with_labels_picks_the_best_head():
    x = _sine(n=400, period=16, noise=0.1)
    x[250:254] += 4.0
    y = np.zeros(400, dtype=int)
    y[250:254] = 1
    det = _tspulse(mode="triangulation").fit(x, y)
    assert set(det.head_ap_) == {"time", "fft", "forecast", "ensemble"}
    assert det.selected_mode_ == max(det.head_ap_, key=det.head_ap_.get)
    assert all(0.0 <= ap <= 1.0 for ap in det.head_ap_.values())
    # the chosen stream is what the detector scores with
    single = _tspulse(mode=det.selected_mode_).fit(x)
    np.testing.assert_allclose(det.decision_function(x), single.decision_function(x))


def test_triangulation_without_both_classes_falls_back_to_ensemble():
    x = _sine(n=300, period=16)
    det = _tspulse(mode="triangulation").fit(x, np.zeros(300, dtype=int))
    assert det.selected_mode_ == "ensemble" and det.head_ap_ == {}


def test_triangulation_rejects_bad_labels():
    x = _sine(n=300, period=16)
    with pytest.raises(ValueError, match="one label per time point"):
        _tspulse(mode="triangulation").fit(x, np.zeros(299))
    with pytest.raises(ValueError, match="0 \\(normal\\) or 1"):
        _tspulse(mode="triangulation").fit(x, np.full(300, 2))


def test_tspulse_finetuning_is_seeded_and_recorded():
    x = _sine(n=300, period=16, noise=0.2)
    a = _tspulse(max_epochs=2, batch_size=8, lr=1e-3).fit(x)
    b = _tspulse(max_epochs=2, batch_size=8, lr=1e-3).fit(x)
    assert len(a.history_) == 2
    assert np.isfinite(a.history_[-1]["train_loss"])
    np.testing.assert_allclose(
        a.decision_scores_, b.decision_scores_, rtol=1e-5, atol=1e-6
    )
    frozen = _tspulse().fit(x)
    assert frozen.history_ == []
    assert not np.allclose(a.decision_scores_, frozen.decision_scores_)


def test_tspulse_masks_missing_values():
    x = _sine(n=300, period=16, noise=0.1)
    gappy = x.copy()
    gappy[100:110] = np.nan
    det = _tspulse().fit(gappy)
    scores = det.decision_function(gappy)
    assert np.isfinite(scores).all()
    # missing points get their channel's median error: never flagged
    assert (det.predict(gappy)[100:110] == 0).all()
    # what lies behind a NaN is never read: masking equals any placeholder value
    series = check_series(gappy, estimator=det, reset=False, allow_nan=True)
    shifted = Series(
        np.where(series.observed, series.values, 5.0).astype(np.float32),
        series.observed,
    )
    np.testing.assert_allclose(
        det._raw_scores(shifted), det._raw_scores(series), atol=1e-5
    )
    with pytest.raises(ValueError, match="no observed value"):
        det.decision_function(np.full(50, np.nan))


def test_tspulse_stride_beyond_context_still_covers_every_point():
    x = _sine(n=500, period=16)
    det = _tspulse(mode="time", stride=10_000).fit(x)
    assert np.isfinite(det.decision_scores_).all()


# ------------------------------------------------------------------- errors
@pytest.mark.parametrize("make", FACTORIES, ids=IDS)
def test_input_errors(make):
    det = make()
    with pytest.raises(NotFittedError):
        det.decision_function(np.zeros(50))
    with pytest.raises(ValueError, match="panel of several series"):
        det.fit(np.zeros((2, 50, 1)))
    if make not in (_tspulse, _tspulse_embedding):
        with pytest.raises(ValueError, match="NaN"):
            det.fit(np.array([0.0, np.nan, 1.0] * 20))
    with pytest.raises(ValueError, match="infinity|inf"):
        det.fit(np.array([0.0, np.inf, 1.0] * 20))
    det.fit(_sine(n=200, channels=2))
    with pytest.raises(ValueError, match="fitted with 2 channel"):
        det.decision_function(_sine(n=200, channels=3))
    with pytest.raises(ValueError, match="0 sample"):
        det.decision_function(np.zeros((0, 2)))


@pytest.mark.parametrize(
    ("make", "params", "match"),
    [
        (_kmeans, {"contamination": 0.6}, "'contamination' parameter of KMeansAnomalyDetector"),
        (_kmeans, {"contamination": 0}, r"contamination.*\(0, 0.5\]"),
        (_kmeans, {"window": 1}, "'window' parameter"),
        (_kmeans, {"window": "period"}, "'window' parameter"),
        (_kmeans, {"n_clusters": 0}, "'n_clusters' parameter"),
        (_kmeans, {"stride": 0}, "'stride' parameter"),
        (_svdd, {"hidden_sizes": ()}, "'hidden_sizes' parameter"),
        (_svdd, {"hidden_sizes": (8, 0)}, "'hidden_sizes' parameter"),
        (_svdd, {"max_epochs": 0}, "'max_epochs' parameter of DeepSVDDAnomalyDetector"),
        (_svdd, {"lr": -1.0}, "'lr' parameter"),
        (_svdd, {"device": "gpu-please"}, "'device' parameter"),
        (_tspulse, {"mode": "best"}, "'mode' parameter of TSPulseAnomalyDetector"),
        (_tspulse, {"stride": 0}, "'stride' parameter"),
        (_tspulse, {"smoothing_length": 0}, "'smoothing_length' parameter"),
        (_tspulse, {"max_epochs": -1}, "'max_epochs' parameter"),
        (_tspulse, {"batch_size": 0}, "'batch_size' parameter"),
        (_tspulse, {"combine_channels": "sum"}, "'combine_channels' parameter"),
        (_tspulse_embedding, {"window": 1}, "'window' parameter"),
        (_tspulse_embedding, {"window": "period"}, "'window' parameter"),
    ],
)
def test_bad_parameters(make, params, match):
    # declared constraints, checked before the input is read
    with pytest.raises(InvalidParameterError, match=match):
        make().set_params(**params).fit(_sine(n=100))


# --------------------------------------------------------- state round trips
@pytest.mark.parametrize("make", FACTORIES, ids=IDS)
def test_pickle_round_trip_and_determinism(make):
    x = _sine(n=300, noise=0.2)
    det = make().fit(x)
    restored = pickle.loads(pickle.dumps(det))
    test = _sine(n=200, noise=0.2, seed=1)
    np.testing.assert_array_equal(
        restored.decision_function(test), det.decision_function(test)
    )
    again = make().fit(x)
    np.testing.assert_allclose(
        again.decision_scores_, det.decision_scores_, rtol=1e-6, atol=1e-9
    )


def test_fitting_leaves_global_torch_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    _svdd().fit(_sine(n=200))
    torch.testing.assert_close(torch.rand(3), expected)


# ---------------------------------------------------------------- helpers
def test_estimate_period():
    t = np.arange(3000)
    assert estimate_period(np.sin(2 * np.pi * t / 50)[:, None]) == 50
    assert estimate_period(np.sin(2 * np.pi * t / 1000)[:, None]) == 128  # clipped
    assert estimate_period(np.sin(2 * np.pi * t / 4)[:, None]) == 8  # clipped
    assert estimate_period(np.zeros((5, 1))) == 32  # too short: fallback
    assert estimate_period(np.arange(500.0)[:, None]) == 32  # trend, no period
    assert _kmeans().fit(np.sin(2 * np.pi * t / 40)).window_ == 40


def test_deepsvdd_network_has_no_bias_and_a_safe_center():
    net = DeepSVDDNetwork(12, (6, 4))
    assert not any("bias" in name for name, _ in net.named_parameters())
    net.init_center(
        torch.zeros(10, 12)
    )  # all representations 0 -> center pushed to eps
    torch.testing.assert_close(net.center, torch.full((4,), 0.1))
    assert net.distance(torch.zeros(3, 12)).shape == (3,)


def test_plot_anomaly_scores():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sslts.plotting import plot_anomaly_scores

    x = _sine(n=300)
    labels = np.zeros(300, dtype=int)
    labels[[50, 51, 200]] = 1
    ax = plot_anomaly_scores(x, np.abs(x), labels=labels, threshold=0.5, title="t")
    top, bottom = ax.figure.axes
    assert bottom is ax and len(ax.patches) == 2 and len(top.patches) == 2
    assert ax.lines[-1].get_ydata()[0] == 0.5
    _, own = plt.subplots()
    assert plot_anomaly_scores(x, np.abs(x), ax=own) is own
    with pytest.raises(ValueError, match="scores has"):
        plot_anomaly_scores(x, np.zeros(10))
    plt.close("all")


# scikit-learn's estimator checks of the detectors are in test_common.py (one
# expected-failure table for every estimator, tests/_checks.py).


def test_shared_finetune_routine(tiny_model):
    from sslts.training import finetune_tspulse

    cfg = tiny_model.config
    rng = np.random.default_rng(0)
    windows = rng.normal(size=(6, 2, cfg.context_length + cfg.forecast_length))
    before = [p.detach().clone() for p in tiny_model.parameters()]
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = finetune_tspulse(
            tiny_model,
            windows.astype(np.float32),
            None,
            max_epochs=2,
            lr=1e-2,
            batch_size=4,
            device="cpu",
        )
    assert net.module_ is tiny_model
    history = epoch_history(net)
    assert len(history) == 2 and {"train_loss", "loss_time"} <= set(history[0])
    changed = [not torch.equal(a, b) for a, b in zip(before, tiny_model.parameters())]
    assert any(changed)


# ------------------------------------------------ TSPulse embedding distance
def test_embedding_windows_are_one_and_two_periods_and_capped():
    x = _sine(n=600, period=10)
    det = _tspulse_embedding().fit(x)
    period = estimate_period(x[:, None])
    context = det.model_.config.context_length
    assert 2 * period < context
    assert det.windows_ == (period, 2 * period)
    assert _tspulse_embedding(window=40).fit(x).windows_ == (40,)
    assert _tspulse_embedding(window=10 * context).fit(x).windows_ == (context,)
    assert _tspulse_embedding(window=50).fit(x[:30]).windows_ == (30,)
    # capped at the fit length; lengths capped to the same value are kept once
    assert _tspulse_embedding(window=20).fit(x[:12]).windows_ == (12,)
    short = x[:60]
    p = estimate_period(short[:, None])
    assert _tspulse_embedding().fit(short).windows_ == tuple(
        dict.fromkeys(min(k * p, 60) for k in (1, 2))
    )


def test_embedding_scores_are_distances_to_the_nearest_fit_window():
    x = _sine(n=400, period=16, noise=0.1)
    det = _tspulse_embedding(window=32).fit(x)
    # each fit window's nearest other fit window: scoring the fit series again
    # gives the fit scores (a window never matches itself)
    np.testing.assert_allclose(det.decision_function(x), det.decision_scores_, atol=1e-9)
    assert det.decision_scores_.std() > 0
    # one reference set per window length and channel, standardised with the fit windows
    multi = _tspulse_embedding().fit(_sine(n=400, period=16, channels=3))
    assert len(multi.neighbors_) == len(multi.windows_) == 2
    assert all(len(per_channel) == 3 for per_channel in multi.neighbors_)
    cfg = multi.model_.config
    assert multi.pooling_ == ("mean",)
    dim = (cfg.n_registers + 2) * cfg.d_model
    for mean, scale in zip(multi.embedding_mean_, multi.embedding_scale_):
        assert mean.shape == scale.shape == (3, dim + 2)
    assert multi.embedding_center_.shape == multi.embedding_spread_.shape == (2, 3)
    assert multi.channel_scores(_sine(n=150, channels=3)).shape == (150, 3)


def test_embedding_averages_the_standardised_window_lengths():
    x = _sine(n=500, period=16, noise=0.2)
    test = _sine(n=300, period=16, noise=0.2, seed=5)
    det = _tspulse_embedding().fit(x)
    series = check_series(test, estimator=det, reset=False)
    singles = []
    for length in det.windows_:
        one = _tspulse_embedding(window=length).fit(x)
        singles.append(one._embedding_stream(series))  # standardised on the same fit
    np.testing.assert_allclose(
        det._embedding_stream(series), np.mean(singles, axis=0), rtol=1e-5, atol=1e-6
    )


def test_embedding_reference_is_clustered_when_the_fit_series_is_long(monkeypatch):
    from sslts.anomaly import _tspulse as module

    monkeypatch.setattr(module, "_MAX_REFERENCES", 10)
    det = _tspulse_embedding(stride=4).fit(_sine(n=400, period=16, noise=0.1))
    assert det.neighbors_[0][0].n_samples_fit_ == 10
    scores = det.decision_function(_sine(n=200, seed=1))
    assert np.isfinite(scores).all()


def test_embedding_channels_are_independent():
    x = _sine(n=400, period=16, noise=0.1, channels=2)
    # the same patch phases and pooling for both ("auto" reads one channel with 4
    # phases and the maximum too, several with one phase and the average alone)
    det = _tspulse_embedding(patch_phases=2, pooling=("mean",)).fit(x)
    test = _sine(n=300, period=16, noise=0.1, seed=3, channels=2)
    alone = _tspulse_embedding(patch_phases=2, pooling=("mean",)).fit(x[:, :1])
    np.testing.assert_allclose(
        det.channel_scores(test)[:, 0], alone.channel_scores(test[:, :1])[:, 0],
        rtol=1e-5, atol=1e-6,
    )


def test_embedding_masks_missing_values():
    x = _sine(n=300, period=16, noise=0.1)
    gappy = x.copy()
    gappy[100:110] = np.nan
    det = _tspulse_embedding().fit(gappy)
    assert np.isfinite(det.decision_function(gappy)).all()
    assert (det.predict(gappy)[100:110] == 0).all()


def test_hybrid_is_max_of_standardised_ensemble_and_embedding():
    x = _sine(n=300, period=16, noise=0.2)
    hybrid = _tspulse(mode="hybrid").fit(x)
    ensemble = _tspulse(mode="ensemble").fit(x)
    embedding = _tspulse_embedding().fit(x)
    test = _sine(n=250, period=16, noise=0.2, seed=2)
    series = check_series(test, estimator=hybrid, reset=False)
    ens = ensemble._raw_scores(series)
    ens = (ens - hybrid.head_center_["ensemble"]) / hybrid.head_scale_["ensemble"]
    emb = embedding._raw_scores(series)  # standardised with the same fit series
    np.testing.assert_allclose(
        hybrid._raw_scores(series), np.maximum(ens, emb), rtol=1e-5, atol=1e-6
    )


def test_embedding_default_model_scores_a_planted_anomaly_highest():
    x = _sine(n=2000, period=40, noise=0.02)
    det = TSPulseAnomalyDetector(mode="embedding").fit(x[:1200])
    test = x.copy()
    test[1500:1520] = test[1500:1520][::-1] + 0.5  # a bump that breaks the cycle
    scores = det.decision_function(test)
    assert np.argmax(scores) in range(1440, 1580)
    assert scores[1490:1530].mean() > 3 * np.percentile(scores[:1200], 95)


def test_window_location_scale_uses_observed_points_only():
    from sslts.anomaly._tspulse import window_location_scale

    x = np.array([1.0, 3.0, np.nan, 5.0, 5.0, 5.0], dtype=np.float32)
    windows = sliding_windows(Series(x[:, None], ~np.isnan(x[:, None])), 3, 3)
    feats = window_location_scale(windows)
    assert feats.shape == (2, 1, 2)
    np.testing.assert_allclose(feats[:, 0, 0], [2.0, 5.0])
    np.testing.assert_allclose(
        feats[:, 0, 1], 0.5 * np.log(np.array([1.0, 0.0]) + 1e-5), rtol=1e-6
    )


@pytest.mark.parametrize("change", ["level", "amplitude"])
def test_embedding_detects_level_and_amplitude_changes(change):
    x = _sine(n=1600, period=40, noise=0.02)
    det = TSPulseAnomalyDetector(mode="embedding").fit(x[:1000])
    test = x.copy()
    if change == "level":
        test[1200:1400] += 3.0
    else:
        test[1200:1400] *= 3.0
    # the model normalises each window: its embedding alone misses the change
    length = det.windows_[0]
    windows = det._embedding_windows(Series(test[:, None].astype(np.float32), None), length)
    plain = det._embedding_windows(Series(x[:, None].astype(np.float32), None), length)
    inside = (windows.starts >= 1200) & (windows.starts + length <= 1400)
    dim = det.embedding_mean_[0].shape[1] - 2
    feats, plain_feats = det._embed(windows)[inside], det._embed(plain)[inside]
    np.testing.assert_allclose(feats[..., :dim], plain_feats[..., :dim], atol=1e-3)
    # its location and log-scale make it stand out
    scores = det.decision_function(test)
    assert scores[1220:1380].min() > 3 * np.percentile(scores[:1000], 95)


# ------------------------------------------- flat channels and combination
def test_channel_spread_is_the_iqr_unless_it_is_rounding_noise():
    from sslts.anomaly import channel_spread
    from sslts.anomaly._base import robust_scale

    rng = np.random.default_rng(0)
    noisy = rng.normal(size=(500, 2)) * [1.0, 7.0]
    np.testing.assert_allclose(channel_spread(noisy), robust_scale(noisy))
    # rare events on a flat level: the IQR is 0 (or rounding noise), the std is not
    rare = np.zeros(500)
    rare[::50] = 1.0
    jitter = 1.0 + 1e-7 * rng.normal(size=500)  # flat up to float32 rounding
    raw = np.column_stack(
        [noisy[:, 0], rare, rare + 1e-9 * rng.normal(size=500), jitter]
    )
    scale = channel_spread(raw)
    assert scale[0] == pytest.approx(robust_scale(raw[:, :1])[0])
    np.testing.assert_allclose(scale[1:3], 1.349 * rare.std())
    # flat in both: the median spread of the other channels
    assert scale[3] == pytest.approx(np.median(scale[:3]))
    np.testing.assert_allclose(channel_spread(np.zeros((10, 3))), 1.0)


def test_feature_scale_borrows_from_other_channels_where_flat():
    from sslts.anomaly._tspulse import feature_scale

    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 3, 4)) * np.array([1.0, 2.0, 4.0])[None, :, None]
    features[:, 1, 0] = 5.0 + 1e-6 * rng.normal(size=200)  # rounding noise on a level
    features[:, :, 3] = 0.0  # flat in every channel
    scale = feature_scale(features)
    std = features.std(axis=0)
    np.testing.assert_allclose(scale[[0, 2], :3], std[[0, 2], :3])
    assert scale[1, 0] == pytest.approx(np.median(std[[0, 2], 0]))
    np.testing.assert_allclose(scale[:, 3], 1.0)


def _telemetry_with_flags(n=1600, fit=800):
    """A telemetry-like channel and two command flags constant in the fit part.

    Flag 1 is exactly constant, flag 2 constant up to rounding-size jitter
    (1e-6); both step up by 1 for 200 points of the evaluation part.
    """
    rng = np.random.default_rng(0)
    t = np.arange(n)
    telemetry = np.sin(2 * np.pi * t / 25) + np.sin(2 * np.pi * t / 320)
    telemetry += 0.05 * rng.normal(size=n)
    flags = np.zeros((n, 2))
    flags[:, 1] = 1.0 + 1e-6 * rng.normal(size=n)
    flags[fit + 200 : fit + 400] += 1.0
    X = np.column_stack([telemetry, flags])
    return X[:fit], X[fit:]


def test_embedding_scores_of_a_flat_channel_do_not_depend_on_rounding_noise():
    fit, test = _telemetry_with_flags()
    det = _tspulse_embedding().fit(fit)
    channels = det.channel_scores(test)
    assert np.isfinite(channels).all()
    # the same step scores alike with or without the jitter: both channels are
    # measured in the units of the channels that vary, not in units of the
    # jitter (dividing by a spread of ~1e-7 gave scores of ~1e9 before)
    exact, jittered = channels[150:450, 1].max(), channels[150:450, 2].max()
    assert 0.1 < jittered / exact < 10
    # the flags' window locations are flat: they take the telemetry's spread
    for scale in det.embedding_scale_:
        np.testing.assert_allclose(scale[1:, -2], scale[0, -2])


@pytest.mark.parametrize("combine", ["max", "mean"])
def test_combine_channels(combine):
    X = _sine(n=400, period=16, noise=0.2, channels=3)
    det = _tspulse_embedding(combine_channels=combine).fit(X)
    test = _sine(n=300, period=16, noise=0.2, seed=4, channels=3)
    channels = det.channel_scores(test)
    expected = channels.max(axis=1) if combine == "max" else channels.mean(axis=1)
    np.testing.assert_allclose(det.decision_function(test), expected)
    fit_combined = getattr(det.channel_scores_, combine)(axis=1)
    np.testing.assert_allclose(det.decision_scores_, fit_combined)
    # one channel: every combination is the channel's score
    uni = _tspulse_embedding(combine_channels=combine).fit(X[:, 0])
    np.testing.assert_allclose(
        uni.decision_function(test[:, 0]), uni.channel_scores(test[:, 0])[:, 0]
    )


def test_patch_phases_auto_is_four_for_one_channel_and_one_for_several():
    assert _tspulse_embedding().fit(_sine(n=300, period=16)).patch_phases_ == 4
    multi = _tspulse_embedding().fit(_sine(n=300, period=16, channels=2))
    assert multi.patch_phases_ == 1
    assert _tspulse_embedding(patch_phases=2).fit(_sine(n=300, period=16)).patch_phases_ == 2


def test_patch_phases_average_the_features_of_shortened_windows():
    x = _sine(n=300, period=16, noise=0.1)
    det = _tspulse_embedding(patch_phases=4).fit(x)
    windows = sliding_windows(check_series(x, estimator=det, reset=False), 16, 4)
    expected = np.mean(
        [det._embed_once(windows.without_last(k)) for k in (0, 2, 4, 6)], axis=0
    )
    np.testing.assert_allclose(det._embed(windows), expected, rtol=1e-6)
    one = _tspulse_embedding(patch_phases=1).fit(x)
    np.testing.assert_allclose(one._embed(windows), one._embed_once(windows))
    assert not np.allclose(det.decision_scores_, one.decision_scores_)


@pytest.mark.parametrize("phases", [0, 9, "some", 2.5])
def test_bad_patch_phases_raise_errors_naming_the_parameter(phases):
    error = ValueError if phases == 9 else InvalidParameterError  # 9 > patch_length
    with pytest.raises(error, match="patch_phases"):
        _tspulse_embedding(patch_phases=phases).fit(_sine(n=300, period=16))


def test_pooling_sets_the_window_read_out():
    x = _sine(n=300, period=16, noise=0.1)
    both = _tspulse_embedding(patch_phases=1).fit(x)
    mean = _tspulse_embedding(patch_phases=1, pooling=("mean",)).fit(x)
    assert both.pooling_ == ("mean", "max") and mean.pooling_ == ("mean",)
    windows = sliding_windows(check_series(x, estimator=both, reset=False), 16, 4)
    config = both.model_.config
    wide, narrow = both._embed_once(windows), mean._embed_once(windows)
    # registers + (time and FFT tokens) x statistics, then location and log-scale
    assert wide.shape[2] == (config.n_registers + 4) * config.d_model + 2
    assert narrow.shape[2] == (config.n_registers + 2) * config.d_model + 2
    # the registers and the averages are shared; the maxima are added
    registers = config.n_registers * config.d_model
    np.testing.assert_allclose(wide[..., :registers], narrow[..., :registers], rtol=1e-5)
    assert not np.allclose(both.decision_scores_, mean.decision_scores_)
    assert TSPulseAnomalyDetector().pooling == "auto"
    several = _tspulse_embedding().fit(_sine(n=300, period=16, channels=2))
    assert several.pooling_ == ("mean",)
    chosen = _tspulse_embedding(pooling=("max",)).fit(_sine(n=300, period=16, channels=2))
    assert chosen.pooling_ == ("max",)


@pytest.mark.parametrize("pooling", [("mean", "mean"), ("median",), (), "some"])
def test_bad_pooling_raises_an_error_naming_the_parameter(pooling):
    with pytest.raises(InvalidParameterError, match="pooling"):
        _tspulse_embedding(pooling=pooling).fit(_sine(n=300, period=16))


def test_sliding_windows_without_last_points():
    det = _tspulse_embedding().fit(_sine(n=300, period=16))
    windows = sliding_windows(check_series(_sine(n=100), estimator=det, reset=False), 20, 5)
    short = windows.without_last(3)
    assert short.length == 17
    np.testing.assert_array_equal(short.values, windows.values[..., :17])
    np.testing.assert_array_equal(short.starts, windows.starts)
    assert windows.without_last(0).length == 20
    with pytest.raises(ValueError, match="n_points"):
        windows.without_last(20)


# ------------------------------------------------ input gate and outputs
@pytest.mark.parametrize("make", FACTORIES, ids=IDS)
def test_wide_2d_input_is_refused_with_a_clear_message(make):
    wide = np.random.default_rng(0).normal(size=(5, 1000))
    with pytest.raises(ValueError, match="more channels than time points.*X.T"):
        make().fit(wide)


def test_default_detector_refuses_a_wide_array_before_loading_a_model():
    with pytest.raises(ValueError, match=r"shape \(5, 1000\)"):
        TSPulseAnomalyDetector().fit(np.random.randn(5, 1000))


@pytest.mark.parametrize("make", FACTORIES, ids=IDS)
def test_pandas_inputs_score_like_numpy(make):
    X = _sine(n=300, noise=0.2, channels=2)
    index = pd.date_range("2024-01-01", periods=300, freq="h")
    frame = pd.DataFrame(X, columns=["a", "b"], index=index)  # time-major
    det = make().fit(X)
    np.testing.assert_allclose(
        make().fit(frame).decision_scores_, det.decision_scores_, rtol=1e-6, atol=1e-9
    )
    np.testing.assert_array_equal(det.decision_function(frame), det.decision_function(X))
    uni = make().fit(X[:, 0])
    series = pd.Series(X[:, 0], index=index)
    np.testing.assert_allclose(
        make().fit(series).decision_scores_, uni.decision_scores_, rtol=1e-6, atol=1e-9
    )
    np.testing.assert_array_equal(uni.decision_function(series), uni.decision_function(X[:, 0]))


@pytest.mark.parametrize("make", FACTORIES, ids=IDS)
def test_huge_and_complex_values_are_refused(make):
    x = _sine(n=200)
    with pytest.raises(ValueError, match=r"magnitude up to [0-9.]+e\+20"):
        make().fit(x * 1e20)
    with pytest.raises(ValueError, match="complex values"):
        make().fit(x + 1j * x)
    det = make().fit(x)
    with pytest.raises(ValueError, match="magnitude"):
        det.decision_function(np.full(200, 1e20))
    with pytest.raises(ValueError, match="complex values"):
        det.decision_function(x.astype(np.complex128))


@pytest.mark.parametrize("make", FACTORIES, ids=IDS)
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_non_finite_scores_raise_instead_of_being_returned(make, monkeypatch):
    x = _sine(n=200)
    det = make().fit(x)
    name = type(det).__name__
    monkeypatch.setattr(
        type(det), "_raw_scores", lambda self, series: np.full(series.values.shape, np.nan)
    )
    with pytest.raises(FloatingPointError, match=f"{name}.decision_function produced 200"):
        det.decision_function(x)
    with pytest.raises(FloatingPointError, match=f"{name}.channel_scores produced"):
        det.channel_scores(x)
    for method in (det.predict, det.predict_proba):
        with pytest.raises(FloatingPointError):
            method(x)
    monkeypatch.setattr(
        type(det), "_fit_scorer", lambda self, series, y: np.full(series.values.shape, np.inf)
    )
    with pytest.raises(FloatingPointError, match=f"{name}.fit produced"):
        make().fit(x)


def test_labels_are_ignored_by_detectors_that_do_not_read_them():
    x = _sine(n=200)
    expected = _kmeans().fit(x).decision_scores_
    np.testing.assert_array_equal(_kmeans().fit(x, np.full(7, 3.5)).decision_scores_, expected)
    # a TSPulse detector reads y only in triangulation mode
    _tspulse(mode="ensemble").fit(x, np.full(7, 3.5))


# --------------------------------------- window length equal to channel count
def test_embedding_mode_when_the_window_equals_the_channel_count():
    X = _sine(n=200, period=16, noise=0.1, channels=16)
    det = _tspulse_embedding(window=16).fit(X)
    assert det.windows_ == (16,)
    scores = det.channel_scores(X)
    assert scores.shape == (200, 16) and np.isfinite(scores).all()
    # per-window distances were spread per channel, not read as window points
    alone = _tspulse_embedding(window=16, patch_phases=1, pooling=("mean",)).fit(X[:, :1])
    np.testing.assert_allclose(
        det.channel_scores_[:, 0], alone.channel_scores_[:, 0], rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("make", [_kmeans, _svdd], ids=["kmeans", "deepsvdd"])
def test_window_baselines_when_the_window_equals_the_channel_count(make):
    X = _sine(n=300, channels=8)
    det = make(window=8).fit(X)
    assert det.window_ == 8 and det.channel_scores_.shape == (300, 8)
    test = X.copy()
    test[150, 3] += 10.0
    channels = det.channel_scores(test)
    assert np.isfinite(channels).all()
    assert np.argmax(channels[150]) == 3
    if make is _kmeans:  # one model per channel: channel 0 scores as if alone
        alone = make(window=8).fit(X[:, :1])
        np.testing.assert_allclose(
            det.channel_scores_[:, 0], alone.channel_scores_[:, 0], rtol=1e-5, atol=1e-5
        )


# ---------------------------------------------------- scikit-learn callbacks
def _tspulse_tuned(**kw):
    return _tspulse(batch_size=8, lr=1e-3, **kw)


TRAINED = [_svdd, _tspulse_tuned]
TRAINED_IDS = ["deepsvdd", "tspulse"]


@pytest.mark.parametrize("make", TRAINED, ids=TRAINED_IDS)
def test_sklearn_callbacks_see_one_subtask_per_epoch(make):
    recorder = EpochRecorder()
    det = make(max_epochs=3).set_callbacks(recorder).fit(_sine(n=300, period=16))
    assert len(recorder.epochs) == 3 == len(det.history_)
    assert recorder.epochs[-1]["train_loss"] == pytest.approx(det.history_[-1]["train_loss"])
    assert [len(s.history_) for s in recorder.snapshots] == [1, 2, 3]


@pytest.mark.parametrize("make", TRAINED, ids=TRAINED_IDS)
def test_a_stopping_callback_ends_training(make):
    x = _sine(n=300, period=16)
    recorder = EpochRecorder(stop_after=2)
    det = make(max_epochs=6).set_callbacks(recorder).fit(x)
    assert len(recorder.epochs) == 2 and len(det.history_) == 2
    assert np.isfinite(det.decision_function(x)).all()  # scored after the stop
    # the last snapshot holds the model training stopped with
    snapshot = recorder.snapshots[-1]
    assert snapshot is not det and len(snapshot.history_) == 2
    final = {k: v.cpu() for k, v in det.model_.state_dict().items()}
    for key, value in snapshot.model_.state_dict().items():
        torch.testing.assert_close(value.cpu(), final[key])


def test_deepsvdd_snapshot_model_is_usable():
    recorder = EpochRecorder()
    det = _svdd(window=10).set_callbacks(recorder).fit(_sine(n=200))
    model = recorder.snapshots[0].model_
    assert isinstance(model, DeepSVDDNetwork) and not model.training
    assert model.distance(torch.zeros(3, 10)).shape == (3,)
    assert det.history_ == [{"train_loss": pytest.approx(r["train_loss"])} for r in recorder.epochs]


# ------------------------------------------- window-position calibration
def test_position_profile_flattens_inflated_window_edges():
    from sslts.anomaly._tspulse import position_profile

    rng = np.random.default_rng(0)
    length, patch = 32, 4
    base = rng.gamma(2.0, size=(50, 2, 3, length))
    inflation = np.ones(length)
    inflation[:patch] = 6.0  # first patch: one-sided context
    errors = base * inflation
    observed = np.ones((50, 3, length), bool)
    profile = position_profile(errors, observed, patch)
    assert profile.shape == (2, length)
    np.testing.assert_allclose(np.median(profile, axis=1), 1.0)
    # constant within a patch, the inflated patch about 6x the others
    np.testing.assert_allclose(profile[:, :patch], profile[:, :1].repeat(patch, 1))
    assert (profile[:, :patch] > 4).all() and (profile[:, patch:] < 1.5).all()
    calibrated = np.median(errors / profile[None, :, None, :], axis=(0, 2))
    assert calibrated[:, :patch].mean() / calibrated[:, patch:].mean() < 1.3


def test_position_profile_ignores_unobserved_points_and_constant_channels():
    from sslts.anomaly._tspulse import position_profile

    errors = np.ones((4, 2, 2, 16))
    errors[:, :, 1] = 0.0  # a constant channel: no error anywhere
    observed = np.ones((4, 2, 16), bool)
    observed[..., :8] = False  # padding: its errors are meaningless
    errors[..., :8] = 1e6
    profile = position_profile(errors, observed, 4)
    np.testing.assert_array_equal(profile, np.ones((2, 16)))


def test_reconstruction_calibration_is_learnt_on_the_fit_series():
    x = _sine(n=700, period=25)
    det = _tspulse(mode="time").fit(x)
    context = det.model_.config.context_length
    assert det.position_scale_.shape == (2, context)
    assert (det.position_scale_ > 0).all()
    # refitting learns it again rather than keeping the earlier one
    again = det.fit(_sine(n=700, period=25, noise=0.5, seed=4)).position_scale_
    assert again.shape == (2, context)
    assert _tspulse_embedding().fit(x).position_scale_ is None


@pytest.mark.slow
def test_shipped_detector_does_not_alarm_at_the_ends_of_a_series():
    x = np.sin(np.arange(1000) * 2 * np.pi / 50)
    x[600] += 4
    for mode in ("time", "fft", "ensemble"):
        det = TSPulseAnomalyDetector(mode=mode, contamination=0.01, device="cpu")
        scores = det.fit(x).decision_function(x)
        top = np.argsort(scores)[-10:]
        assert ((top > 10) & (top < 990)).all(), (mode, sorted(top))
        assert abs(int(np.argmax(scores)) - 600) <= 10, (mode, sorted(top))
