"""Early-warning anomaly prediction: protocol helpers, featurisers, AnomalyPredictor."""

import pickle

import numpy as np
import pytest
from _tiny import TINY_CHECKPOINT
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.pipeline import FeatureUnion

from sslts import TSPulseEmbedder
from sslts.anomaly import KMeansAnomalyDetector
from sslts.latent import JEPAEmbedder
from sslts.prediction import (
    AnomalyPredictor,
    WindowScorer,
    WindowStatistics,
    best_f1_threshold,
    chronological_split,
    make_precursor_series,
    make_prediction_windows,
)


# ---------------------------------------------------------------- protocol
def test_prediction_windows_exact_on_hand_made_series():
    series = np.arange(12.0)
    labels = np.zeros(12, dtype=int)
    labels[[5, 11]] = 1
    X, y = make_prediction_windows(series, labels, context=3, horizon=3, stride=3)
    # pairs start at 0 and 3; 6 + 3 + 3 > 12 stops there
    np.testing.assert_array_equal(X, np.array([[[0, 1, 2]], [[3, 4, 5]], [[6, 7, 8]]]))
    # targets: [3, 6) holds 5, [6, 9) holds nothing, [9, 12) holds 11
    np.testing.assert_array_equal(y, [1, 0, 1])
    assert X.dtype == np.float32 and y.dtype == np.int64


def test_prediction_windows_multichannel_layout_and_stride():
    series = np.column_stack([np.arange(10.0), -np.arange(10.0)])  # (T, C)
    labels = np.zeros(10, dtype=int)
    labels[9] = 1
    X, y = make_prediction_windows(series, labels, context=4, horizon=2, stride=2)
    assert X.shape == (3, 2, 4)  # starts 0, 2, 4; 6 + 4 + 2 > 10
    np.testing.assert_array_equal(X[1], [[2, 3, 4, 5], [-2, -3, -4, -5]])
    np.testing.assert_array_equal(y, [0, 0, 1])  # targets [4,6), [6,8), [8,10)


def test_prediction_windows_default_protocol_counts():
    series, labels = make_precursor_series(1_050, random_state=0)
    X, y = make_prediction_windows(series, labels)
    assert X.shape == (9, 2, 100)  # (1050 - 200) // 100 + 1
    np.testing.assert_array_equal(X[3, :, 0], series[300])


@pytest.mark.parametrize(
    "series, labels, kwargs, match",
    [
        (np.zeros(10), np.zeros(9), {}, "one label per time point"),
        (np.zeros(10), np.full(10, 2), {}, "only 0"),
        (np.zeros((10, 2, 2)), np.zeros(10), {}, "n_timepoints"),
        (np.zeros(150), np.zeros(150), {}, "fewer than one context"),
        (np.zeros(10), np.zeros(10), {"context": 0}, "context"),
        (np.array([0.0, np.inf, 1, 2]), np.zeros(4), {"context": 1, "horizon": 1}, "infinity"),
    ],
)
def test_prediction_windows_errors(series, labels, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_prediction_windows(series, labels, **kwargs)


def test_chronological_split_keeps_order_and_sizes():
    X, y = np.arange(20)[:, None], np.arange(20)
    X_tr, X_va, X_te, y_tr, y_va, y_te = chronological_split(X, y)
    np.testing.assert_array_equal(y_tr, np.arange(12))
    np.testing.assert_array_equal(y_va, np.arange(12, 16))
    np.testing.assert_array_equal(y_te, np.arange(16, 20))
    np.testing.assert_array_equal(X_te[:, 0], y_te)
    sizes = [len(p) for p in chronological_split(np.arange(7), np.arange(7), (0.5, 0.25, 0.25))[3:]]
    assert sizes == [4, 1, 2]  # round(3.5) = 4, round(5.25) = 5


@pytest.mark.parametrize(
    "n, ratios, match",
    [
        (10, (0.6, 0.2), "three positive"),
        (10, (0.6, 0.3, 0.3), "summing to 1"),
        (10, (1.2, -0.1, -0.1), "three positive"),
        (2, (0.6, 0.2, 0.2), "too few"),
    ],
)
def test_chronological_split_errors(n, ratios, match):
    with pytest.raises(ValueError, match=match):
        chronological_split(np.zeros(n), np.zeros(n), ratios)
    with pytest.raises(ValueError, match="differ in length"):
        chronological_split(np.zeros(5), np.zeros(4))


def test_precursor_series_plants_noise_before_each_anomaly():
    series, labels = make_precursor_series(5_000, random_state=3)
    starts = np.flatnonzero(np.diff(labels) == 1) + 1
    assert len(starts) >= 5
    before = np.concatenate([series[s - 100 : s] for s in starts])
    assert before.std() > 2 * series[labels == 0].std() / 1.5
    again, _ = make_precursor_series(5_000, random_state=3)
    np.testing.assert_array_equal(series, again)


# ------------------------------------------------------------- featurisers
def test_window_statistics_values():
    X = np.array([[[1.0, 2.0, 3.0, 4.0], [4.0, 4.0, 4.0, 0.0]]])
    stats = WindowStatistics().fit(X)
    features = stats.transform(X)
    expected = [2.5, 3.0, np.std([1, 2, 3, 4]), np.std([4, 4, 4, 0]), 1, 0, 4, 4, 1.0, -1.2]
    np.testing.assert_allclose(features[0], expected, rtol=1e-6)
    assert list(stats.get_feature_names_out()[:3]) == ["mean_0", "mean_1", "std_0"]
    with pytest.raises(ValueError, match="channel"):
        stats.transform(X[:, :1])
    with pytest.raises(NotFittedError):
        WindowStatistics().transform(X)


class _ZScoreDetector:
    """A minimal point-level detector: |z-score| of the first channel."""

    def get_params(self, deep=True):
        return {}

    def set_params(self, **params):
        return self

    def fit(self, series):
        self.mean_, self.std_ = series[:, 0].mean(), series[:, 0].std()
        return self

    def decision_function(self, series):
        return np.abs(series[:, 0] - self.mean_) / self.std_


def test_window_scorer_scores_each_window_with_the_detector():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(30, 1, 20))
    scorer = WindowScorer(_ZScoreDetector(), reduce="max").fit(train)
    joined = train[:, 0].ravel()
    assert scorer.detector_.mean_ == pytest.approx(joined.mean())
    test = np.zeros((2, 1, 20))
    test[1, 0, 5] = 10.0
    scores = scorer.transform(test)
    assert scores.shape == (2, 1)
    assert scores[1, 0] == pytest.approx(abs(10.0 - joined.mean()) / joined.std())
    with pytest.raises(ValueError, match="reduce"):
        WindowScorer(_ZScoreDetector(), reduce="median").fit(train)


def test_window_scorer_with_the_kmeans_detector():
    series, labels = make_precursor_series(4_000, random_state=1)
    X, y = make_prediction_windows(series, labels)
    normal = X[y == 0]
    scorer = WindowScorer(KMeansAnomalyDetector(n_clusters=4, random_state=0))
    scores = scorer.fit(normal).transform(X)[:, 0]
    assert scores.shape == (len(X),)
    assert roc_auc_score(y, scores) > 0.7  # precursors look abnormal


# ----------------------------------------------------------- the predictor
@pytest.fixture(autouse=True)
def tiny_default_encoder(monkeypatch):
    """The default encoder's frozen TSPulse is the tiny checkpoint here (speed);
    ``test_default_encoder_uses_the_shipped_checkpoint`` checks the real one."""
    from sslts.prediction import _predictor

    monkeypatch.setattr(_predictor, "_DEFAULT_PRETRAINED", TINY_CHECKPOINT)


@pytest.fixture(scope="module")
def precursor_split():
    series, labels = make_precursor_series(40_000, random_state=0)
    X, y = make_prediction_windows(series, labels)
    X_tr, X_va, X_te, y_tr, y_va, y_te = chronological_split(X, y)
    return np.concatenate([X_tr, X_va]), np.concatenate([y_tr, y_va]), X_te, y_te


def test_predictor_learns_planted_precursors(precursor_split):
    X_fit, y_fit, X_test, y_test = precursor_split
    model = AnomalyPredictor(random_state=0).fit(X_fit, y_fit)
    proba = model.predict_proba(X_test)
    assert proba.shape == (len(X_test), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert roc_auc_score(y_test, proba[:, 1]) > 0.8
    assert f1_score(y_test, model.predict(X_test)) > 0.6
    assert isinstance(model.encoder_, FeatureUnion)


def test_default_encoder_is_frozen_tspulse_and_statistics_fitted_on_the_training_part(
    precursor_split,
):
    X_fit, y_fit, X_test, _ = precursor_split
    X_fit, y_fit = X_fit[-160:], y_fit[-160:]
    model = AnomalyPredictor(classifier="logistic", validation_fraction=0.25).fit(X_fit, y_fit)
    (name_a, tspulse), (name_b, statistics) = model.encoder_.transformer_list
    assert (name_a, name_b) == ("tspulse", "statistics")
    assert isinstance(statistics, WindowStatistics)
    assert tspulse.get_params()["pretrained"] == TINY_CHECKPOINT
    assert tspulse.channel_pooling == "mean" and tspulse.max_epochs == 0  # frozen
    # the embedding the default was chosen with
    assert tspulse.views == ("series",) and tspulse.pooling == ("mean",)
    assert tspulse.patch_phases == 4
    # fitted (standardisation statistics) on the 120 training windows only: the
    # validation windows and the labels never reach the encoder
    reference = TSPulseEmbedder(
        pretrained=TINY_CHECKPOINT,
        views=("series",),
        pooling=("mean",),
        patch_phases=4,
        channel_pooling="mean",
    )
    reference.fit(X_fit[:120])
    embedding = reference.transform(X_test)
    expected = np.hstack([embedding, WindowStatistics().fit(X_fit).transform(X_test)])
    assert expected.shape[1] == embedding.shape[1] + 5 * 2  # 5 statistics per channel
    np.testing.assert_allclose(model.encoder_.transform(X_test), expected, rtol=1e-5, atol=1e-5)
    assert AnomalyPredictor().encoder is None  # the default is built in fit, not __init__


def test_default_encoder_uses_the_shipped_checkpoint(monkeypatch, precursor_split):
    from sslts.prediction import _predictor
    from sslts.pretrained import DEFAULT_CHECKPOINT

    monkeypatch.setattr(_predictor, "_DEFAULT_PRETRAINED", "default")
    X_fit, y_fit, X_test, _ = precursor_split
    model = AnomalyPredictor(classifier="logistic", random_state=0)
    model.fit(X_fit[-80:], y_fit[-80:])
    tspulse = model.encoder_.transformer_list[0][1]
    one_view = {"views": ("series",), "pooling": ("mean",), "channel_pooling": "mean"}
    shipped = TSPulseEmbedder(**one_view).fit(X_fit[-80:-20])
    assert DEFAULT_CHECKPOINT == "tspulse-synth" and tspulse.card_ == shipped.card_
    n_embedding = shipped.transform(X_test[:2]).shape[1]
    assert model.encoder_.transform(X_test[:2]).shape == (2, n_embedding + 5 * 2)


def test_shuffled_labels_stay_near_chance(precursor_split):
    X_fit, y_fit, X_test, y_test = precursor_split
    rng = np.random.default_rng(0)
    aucs = []
    for seed in range(4):
        model = AnomalyPredictor(classifier="logistic", random_state=seed)
        model.fit(X_fit, rng.permutation(y_fit))
        aucs.append(roc_auc_score(y_test, model.predict_proba(X_test)[:, 1]))
    assert abs(np.mean(aucs) - 0.5) < 0.15


def test_threshold_maximises_f1_on_validation(precursor_split):
    X_fit, y_fit, _, _ = precursor_split
    model = AnomalyPredictor(classifier="logistic", validation_fraction=0.25).fit(X_fit, y_fit)
    n_val = int(round(len(y_fit) * 0.25))
    X_val, y_val = X_fit[-n_val:], y_fit[-n_val:]
    scores = model.predict_proba(X_val)[:, 1]
    f1_at = [f1_score(y_val, scores >= t) for t in np.unique(scores)]
    assert model.validation_f1_ == pytest.approx(max(f1_at))
    assert f1_score(y_val, model.predict(X_val)) == pytest.approx(max(f1_at))
    np.testing.assert_allclose(
        model.decision_function(X_val), scores - model.threshold_, atol=1e-12
    )


def test_validation_auc_is_measured_on_the_held_out_part_only(precursor_split):
    X_fit, y_fit, _, _ = precursor_split
    model = AnomalyPredictor(classifier="logistic", validation_fraction=0.25).fit(X_fit, y_fit)
    n_val = int(round(len(y_fit) * 0.25))
    scores = model.predict_proba(X_fit[-n_val:])[:, 1]
    assert model.validation_auc_ == pytest.approx(roc_auc_score(y_fit[-n_val:], scores))
    y = y_fit.copy()
    y[-n_val:] = 0  # one class in the validation part: no AUC, F1 0
    model.fit(X_fit, y)
    assert model.validation_auc_ is None and model.validation_f1_ == 0.0
    model.set_params(validation_fraction=None).fit(X_fit, y_fit)
    assert model.validation_auc_ is None


class _UntaggedFlattener:
    """A featuriser outside sklearn's tag system (like sktime's MiniRocket)."""

    def get_params(self, deep=True):
        return {}

    def set_params(self, **params):
        return self

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return np.asarray(X).reshape(len(X), -1)


def test_encoder_without_sklearn_tags(precursor_split):
    X_fit, y_fit, X_test, _ = precursor_split
    model = AnomalyPredictor(encoder=_UntaggedFlattener(), classifier="logistic")
    assert not model.__sklearn_tags__().input_tags.allow_nan
    model.fit(X_fit[-200:], y_fit[-200:])
    assert model.predict_proba(X_test).shape == (len(X_test), 2)


def test_best_f1_threshold():
    assert best_f1_threshold([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx((0.225, 0.8))
    cut, f1 = best_f1_threshold([1, 1, 0], [0.3, 0.3, 0.1])
    assert 0.1 < cut < 0.3 and f1 == 1.0
    cut, _ = best_f1_threshold([1, 1], [0.3, 0.7])  # lowest score positive: cut just below
    assert cut < 0.3 and cut == pytest.approx(0.3)
    assert best_f1_threshold([0, 0, 0], [0.1, 0.2, 0.3]) == (0.5, 0.0)


def test_predictor_without_validation_keeps_half(precursor_split):
    X_fit, y_fit, _, _ = precursor_split
    model = AnomalyPredictor(classifier="logistic", validation_fraction=None).fit(X_fit, y_fit)
    assert model.threshold_ == 0.5 and model.validation_f1_ is None


def test_predictor_determinism_and_pickle(precursor_split):
    X_fit, y_fit, X_test, _ = precursor_split
    a = AnomalyPredictor(random_state=7, max_epochs=30).fit(X_fit, y_fit)
    b = clone(a).fit(X_fit, y_fit)
    np.testing.assert_array_equal(a.predict_proba(X_test), b.predict_proba(X_test))
    restored = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(restored.predict_proba(X_test), a.predict_proba(X_test))
    assert restored.threshold_ == a.threshold_


def test_predictor_string_labels(precursor_split):
    X_fit, y_fit, X_test, _ = precursor_split
    labels = np.where(y_fit == 1, "warn", "ok")
    model = AnomalyPredictor(classifier="logistic").fit(X_fit, labels)
    np.testing.assert_array_equal(model.classes_, ["ok", "warn"])
    assert set(model.predict(X_test)) <= {"ok", "warn"}


def test_frozen_fitted_encoder_is_used_as_given(precursor_split):
    X_fit, y_fit, X_test, _ = precursor_split
    other = X_fit[:, :1] * 0 + np.arange(100)  # fitted on other data (1 channel, wrong)
    encoder = WindowStatistics().fit(other)
    model = AnomalyPredictor(encoder=encoder, classifier="logistic")
    with pytest.raises(ValueError, match="channel"):
        model.fit(X_fit, y_fit)  # used as given: its channel count (1) is kept
    encoder = WindowStatistics().fit(X_fit[:3])
    model.set_params(encoder=encoder).fit(X_fit, y_fit)
    assert model.encoder_ is not encoder
    refit = AnomalyPredictor(encoder=WindowStatistics().fit(other), freeze_encoder=False)
    refit.set_params(classifier="logistic").fit(X_fit, y_fit)  # cloned and refitted
    assert refit.encoder_.n_features_in_ == 2


def test_predictor_with_tspulse_embedder(precursor_split):
    from sslts import TSPulseEmbedder

    X_fit, y_fit, X_test, y_test = precursor_split
    encoder = TSPulseEmbedder(pretrained=TINY_CHECKPOINT)
    model = AnomalyPredictor(encoder=encoder, classifier="logistic", random_state=0)
    model.fit(X_fit[-120:], y_fit[-120:])
    assert model.predict_proba(X_test).shape == (len(X_test), 2)


def test_predictor_with_pretrained_mts_jepa_codes(precursor_split):
    X_fit, y_fit, X_test, _ = precursor_split
    encoder = JEPAEmbedder(
        objective="mts-jepa", features="codes", d_model=8, n_layers=1, n_heads=2,
        codebook_size=8, max_epochs=1, device="cpu", random_state=0,
    )
    normal, _ = make_precursor_series(2_000, random_state=5)
    encoder.fit(normal.T[None])  # pretrained on another stretch of the system, then frozen
    model = AnomalyPredictor(encoder=encoder, classifier="logistic", random_state=0)
    model.fit(X_fit[-120:], y_fit[-120:])
    assert model.encoder_.n_features_in_ == 2
    assert model.predict_proba(X_test).shape == (len(X_test), 2)
    np.testing.assert_array_equal(  # frozen: the given encoder's features, unchanged
        model.encoder_.transform(X_test), encoder.transform(X_test)
    )


@pytest.mark.parametrize(
    "params, y_change, match",
    [
        ({"classifier": "svm"}, None, "classifier"),
        ({"validation_fraction": 1.0}, None, "validation_fraction"),
        ({"freeze_encoder": "yes"}, None, "freeze_encoder"),
        ({}, "one_class", "both classes"),
        ({}, "three_classes", "Only binary"),
        ({}, "train_one_class", "training part"),
        ({}, "short", "one label per window"),
        ({"class_weight": "auto"}, None, "class_weight"),
    ],
)
def test_predictor_errors(precursor_split, params, y_change, match):
    X_fit, y_fit, _, _ = precursor_split
    y = y_fit.copy()
    if y_change == "one_class":
        y[:] = 0
    elif y_change == "three_classes":
        y[:3] = [0, 1, 2]
    elif y_change == "train_one_class":
        y[:] = 0
        y[-5:] = 1  # only the validation part has positives
    elif y_change == "short":
        y = y[:-1]
    with pytest.raises(ValueError, match=match):
        AnomalyPredictor(**params).fit(X_fit, y)


def test_predictor_rejects_channel_mismatch_and_unfitted(precursor_split):
    X_fit, y_fit, X_test, _ = precursor_split
    with pytest.raises(NotFittedError):
        AnomalyPredictor().predict(X_test)
    model = AnomalyPredictor(classifier="logistic").fit(X_fit, y_fit)
    with pytest.raises(ValueError, match="channel"):
        model.predict(X_test[:, :1])
    with pytest.raises(ValueError, match="windows of 50 time points"):
        model.predict(X_test[:, :, :50])
