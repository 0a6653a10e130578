"""scikit-learn tools around the estimators: pipelines, searches, parallel CV, callbacks.

sklearn's estimator checks of every estimator are in test_common.py.
"""

import pickle

import numpy as np
import pytest
from _callbacks import EpochRecorder
from _tiny import TINY_CHECKPOINT as TINY
from sklearn.callback import ProgressBar
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sslts import TSPulseEmbedder


def _pipeline(**emb_params):
    return Pipeline(
        [
            ("emb", TSPulseEmbedder(pretrained=TINY, random_state=0, **emb_params)),
            ("scale", StandardScaler()),
            ("clf", LogisticRegression(max_iter=2000)),
        ]
    )


def test_canonical_pipeline_on_gunpoint(gunpoint):
    X_train, y_train, X_test, y_test = gunpoint
    pipe = Pipeline(
        [("emb", TSPulseEmbedder(pretrained=TINY)), ("clf", LogisticRegression())]
    ).fit(X_train, y_train)
    assert pipe.predict(X_test).shape == y_test.shape
    # with the features scaled, even the untrained tiny encoder beats chance
    accuracy = _pipeline().fit(X_train, y_train).score(X_test, y_test)
    assert accuracy > 0.6


def test_pipeline_runs_inside_sklearn_callback_context(gunpoint):
    X_train, y_train, X_test, _ = gunpoint
    pipe = _pipeline().set_callbacks(ProgressBar())
    pipe.fit(X_train, y_train)
    restored = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(restored.predict(X_test), pipe.predict(X_test))


def test_grid_search_over_embedder_parameter(gunpoint):
    X_train, y_train, _, _ = gunpoint
    search = GridSearchCV(
        _pipeline(), {"emb__embedding": ["semantic", "both"]}, cv=3, error_score="raise"
    ).fit(X_train, y_train)
    # the searched value reaches the embedder inside the refitted pipeline:
    # the tiny model's univariate widths are 16 (semantic) and 16 + 128 (both),
    # plus the location and log-scale, for each of the three views
    width = 3 * ({"semantic": 16, "both": 16 + 128}[search.best_params_["emb__embedding"]] + 2)
    assert search.best_estimator_.named_steps["clf"].n_features_in_ == width


@pytest.mark.slow  # GunPoint twice, once in two worker processes (about 6 s)
def test_cross_val_score_in_parallel(gunpoint):
    X_train, y_train, _, _ = gunpoint
    parallel = cross_val_score(_pipeline(), X_train, y_train, cv=3, n_jobs=2)
    serial = cross_val_score(_pipeline(), X_train, y_train, cv=3, n_jobs=1)
    np.testing.assert_allclose(parallel, serial)
    assert parallel.mean() > 0.5


def test_finetuning_epochs_reach_sklearn_callbacks(panel):
    recorder = EpochRecorder()
    emb = TSPulseEmbedder(pretrained=TINY, max_epochs=3, batch_size=8, random_state=0)
    emb.set_callbacks(recorder).fit(panel)
    assert len(recorder.epochs) == 3
    assert recorder.epochs[-1]["train_loss"] == pytest.approx(emb.history_[-1]["train_loss"])
    # the snapshot handed to callbacks is a usable fitted embedder
    assert recorder.snapshots[-1].transform(panel).shape == emb.transform(panel).shape


def test_sklearn_callback_can_stop_finetuning(panel):
    recorder = EpochRecorder(stop_after=2)
    emb = TSPulseEmbedder(pretrained=TINY, max_epochs=10, batch_size=8, random_state=0)
    emb.set_callbacks(recorder).fit(panel)
    assert len(emb.history_) == 2
    assert np.isfinite(emb.transform(panel)).all()


def test_pipeline_progress_bar_propagates_to_finetuning(gunpoint):
    X_train, y_train, _, _ = gunpoint
    pipe = _pipeline(max_epochs=1, batch_size=32).set_callbacks(ProgressBar())
    pipe.fit(X_train[:20], y_train[:20])
    assert len(pipe.named_steps["emb"].history_) == 1
