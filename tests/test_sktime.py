"""sktime adapters: sktime's own estimator checks, delegation and the sklearn Pipeline fix."""

from __future__ import annotations

import inspect
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from _tiny import TINY_CHECKPOINT
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sktime.datatypes import convert_to
from sktime.utils.estimator_checks import check_estimator

from sslts import TSPulseEmbedder
from sslts.anomaly import TSPulseAnomalyDetector
from sslts.classification import TSPulseClassifier
from sslts.sktime import (
    TSPulseSktimeAnomalyDetector,
    TSPulseSktimeClassifier,
    TSPulseTransformer,
)

ADAPTERS = {
    TSPulseTransformer: TSPulseEmbedder,
    TSPulseSktimeClassifier: TSPulseClassifier,
    TSPulseSktimeAnomalyDetector: TSPulseAnomalyDetector,
}
TINY = {"pretrained": TINY_CHECKPOINT, "device": "cpu", "random_state": 0}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.slow  # about a hundred tiny fits per adapter: 4 to 35 s each
@pytest.mark.parametrize("adapter", list(ADAPTERS), ids=lambda cls: cls.__name__)
def test_sktime_check_estimator(adapter):
    # No exclusions: every sktime check applies and passes.
    check_estimator(adapter, raise_exceptions=True)


@pytest.mark.parametrize("adapter, wrapped", list(ADAPTERS.items()), ids=lambda c: c.__name__)
def test_parameters_mirror_the_wrapped_estimator(adapter, wrapped):
    ours = inspect.signature(adapter.__init__).parameters
    theirs = inspect.signature(wrapped.__init__).parameters
    assert list(ours) == list(theirs)
    assert {k: p.default for k, p in ours.items()} == {k: p.default for k, p in theirs.items()}


def _ragged_frames(panel: np.ndarray) -> list[pd.DataFrame]:
    """Unequal lengths as sktime's df-list: one (T_i, C) frame per series."""
    return [pd.DataFrame(x[:, : 40 + 3 * i].T) for i, x in enumerate(panel)]


def test_transformer_features_equal_the_embedder(panel):
    expected = TSPulseEmbedder(**TINY).fit(panel).transform(panel)
    adapter = TSPulseTransformer(**TINY).fit(panel)
    got = adapter.transform(panel)
    assert isinstance(got, pd.DataFrame)
    np.testing.assert_allclose(got.to_numpy(), expected, rtol=1e-5, atol=1e-6)
    # the same panel in sktime's multi-index format gives the same features
    multiindex = convert_to(panel, to_type="pd-multiindex")
    from_multiindex = adapter.transform(multiindex).to_numpy()
    np.testing.assert_allclose(from_multiindex, expected, rtol=1e-5, atol=1e-6)


def test_transformer_unequal_length_and_missing_values(panel):
    frames = _ragged_frames(panel)
    frames[0].iloc[5, 1] = np.nan
    arrays = [f.to_numpy().T for f in frames]
    expected = TSPulseEmbedder(**TINY).fit(arrays).transform(arrays)
    got = TSPulseTransformer(**TINY).fit(frames).transform(frames)
    assert got.shape == (len(panel), expected.shape[1])
    assert np.isfinite(got.to_numpy()).all()
    np.testing.assert_allclose(got.to_numpy(), expected, rtol=1e-5, atol=1e-6)


def test_transformer_rejects_a_different_channel_count(panel):
    adapter = TSPulseTransformer(**TINY).fit(panel)
    with pytest.raises(ValueError, match="channel|feature"):
        adapter.transform(panel[:, :1])


def test_classifier_delegates_and_keeps_class_order(panel):
    y = np.array(["b", "a", "c"] * 4)
    params = {**TINY, "max_epochs": 2, "validation_fraction": None}
    expected = TSPulseClassifier(**params).fit(panel, y)
    adapter = TSPulseSktimeClassifier(**params).fit(panel, y)
    np.testing.assert_array_equal(adapter.classes_, ["a", "b", "c"])
    np.testing.assert_array_equal(adapter.classes_, expected.classes_)
    proba = adapter.predict_proba(panel)
    np.testing.assert_allclose(proba, expected.predict_proba(panel), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(adapter.predict(panel), adapter.classes_[proba.argmax(axis=1)])
    clone = pickle.loads(pickle.dumps(adapter))
    np.testing.assert_allclose(clone.predict_proba(panel), proba, rtol=1e-6)


@pytest.fixture
def spiky() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = np.sin(np.arange(400) * 2 * np.pi / 20) + 0.05 * rng.normal(size=400)
    x[[120, 300]] += 6.0
    return pd.DataFrame({"a": x, "b": np.cos(np.arange(400) * 2 * np.pi / 25)})


def test_detector_outputs_follow_sktime_conventions(spiky):
    params = {**TINY, "mode": "time", "contamination": 0.02}
    wrapped = TSPulseAnomalyDetector(**params).fit(spiky.to_numpy())
    adapter = TSPulseSktimeAnomalyDetector(**params).fit(spiky)
    scores = wrapped.decision_function(spiky.to_numpy())

    dense = adapter.transform_scores(spiky)
    assert list(dense.columns) == ["scores"] and dense.index.equals(spiky.index)
    np.testing.assert_allclose(dense["scores"].to_numpy(), scores, rtol=1e-5, atol=1e-6)

    events = adapter.predict(spiky)
    flagged = np.flatnonzero(wrapped.predict(spiky.to_numpy()))
    np.testing.assert_array_equal(events["ilocs"].to_numpy(), flagged)
    assert 0 < len(flagged) <= 0.05 * len(spiky)
    labels = adapter.transform(spiky)
    np.testing.assert_array_equal(np.flatnonzero(labels["labels"].to_numpy()), flagged)
    event_scores = adapter.predict_scores(spiky).to_numpy().ravel()
    np.testing.assert_allclose(event_scores, scores[flagged], rtol=1e-5)


def test_detector_scores_series_with_missing_values(spiky):
    holey = spiky.copy()
    holey.iloc[50:55, 0] = np.nan
    params = {**TINY, "mode": "time"}
    values = holey.to_numpy()
    expected = TSPulseAnomalyDetector(**params).fit(values).decision_function(values)
    got = TSPulseSktimeAnomalyDetector(**params).fit(holey).transform_scores(holey)
    assert np.isfinite(got["scores"].to_numpy()).all()
    np.testing.assert_allclose(got["scores"].to_numpy(), expected, rtol=1e-5, atol=1e-6)


def test_detector_passes_known_anomalies_as_point_labels(spiky):
    known = pd.DataFrame({"ilocs": [120, 121, 300]})
    adapter = TSPulseSktimeAnomalyDetector(**TINY, mode="triangulation").fit(spiky, known)
    assert set(adapter.detector_.head_ap_) >= {"time", "fft", "forecast"}
    assert adapter.detector_.selected_mode_ in adapter.detector_.head_ap_


def test_sklearn_pipeline_keeps_parent_callback_context(gunpoint):
    """sklearn >= 1.9 Pipelines set ``_parent_callback_ctx`` on steps and delete it after fit.

    sktime's ``fit`` calls ``reset()``, which deletes unknown attributes; the
    adapters keep this one, so the Pipeline can finish.
    """
    X_train, y_train, X_test, y_test = gunpoint
    pipe = Pipeline([("tspulse", TSPulseTransformer(**TINY)), ("clf", LogisticRegression())])
    pipe.fit(X_train, y_train)
    assert not hasattr(pipe.named_steps["tspulse"], "_parent_callback_ctx")
    assert pipe.predict(X_test).shape == y_test.shape

    marker = object()
    adapter = TSPulseTransformer(**TINY)
    adapter._parent_callback_ctx = marker
    adapter.fit(X_train[:4])
    assert adapter._parent_callback_ctx is marker
    assert hasattr(adapter, "embedder_")


def test_plain_sktime_estimators_still_break_sklearn_pipelines(gunpoint):
    """The upstream problem the adapters work around; when this fails, drop the workaround."""
    from sktime.transformations.panel.reduce import Tabularizer

    X_train, y_train, _, _ = gunpoint
    pipe = Pipeline([("flat", Tabularizer()), ("clf", LogisticRegression())])
    with pytest.raises(AttributeError, match="_parent_callback_ctx"):
        pipe.fit(X_train[:10], y_train[:10])
