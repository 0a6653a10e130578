"""TSPulseClassifier and its TSLens head."""

import pickle

import numpy as np
import pytest
import torch
from _callbacks import EpochRecorder
from _tiny import TINY_CHECKPOINT as TINY
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV

from sslts.classification import TSPulseClassifier, _validation_rows
from sslts.models import TSLens, TSPulseForClassification
from sslts.pretrained import initial_model

FAST = dict(pretrained=TINY, max_epochs=2, batch_size=8, random_state=0)
#: the TSPulse paper's TSLens recipe (the head before the linear probe became the default)
TSLENS = dict(head="tslens", finetune="embeddings", mask_ratio=0.3, validation_fraction=0.2)


def _two_class(n=48, channels=1, length=64, seed=0):
    """Slow vs fast noisy sinusoids, string labels."""
    rng = np.random.default_rng(seed)
    y = np.where(np.arange(n) % 2 == 0, "slow", "fast")
    freq = np.where(y == "slow", 0.08, 0.6)[:, None, None]
    t = np.arange(length)
    phase = rng.uniform(0, 2 * np.pi, size=(n, channels, 1))
    X = np.sin(freq * t + phase) + 0.2 * rng.normal(size=(n, channels, length))
    return X.astype(np.float32), y


def _changed_parts(before, after):
    """Top-level encoder parts whose weights differ between two encoders."""
    state = after.state_dict()
    return {
        name.split(".")[0]
        for name, value in before.state_dict().items()
        if not torch.equal(value, state[name])
    }


# --------------------------------------------------------------------- head
def test_tslens_head_keeps_pretrained_decoder_output_at_init():
    encoder, _ = initial_model(TINY)
    cfg = encoder.config
    torch.manual_seed(0)
    head = TSLens(encoder.decoder, cfg.n_tokens, cfg.d_model, n_channels=3, n_classes=4).eval()
    assert len(head.channel_mixers) == len(encoder.decoder)
    tokens = torch.randn(5, 3, cfg.n_tokens, cfg.d_model)
    with torch.no_grad():
        torch.testing.assert_close(head.decode(tokens), encoder.decoder(tokens))
        assert head(tokens).shape == (5, 4)
    # the head owns a copy: training it never touches the pretrained decoder
    assert head.decoder[0].token_mlp.fc1.weight is not encoder.decoder[0].token_mlp.fc1.weight


def test_classification_module_reproduces_pretrained_tokens_at_init():
    encoder, _ = initial_model(TINY)
    module = TSPulseForClassification(encoder, n_channels=2, n_classes=3).eval()
    x = torch.randn(4, 2, encoder.config.context_length)
    with torch.no_grad():
        decoded = module.head.decode(module.backbone_tokens(x))
        torch.testing.assert_close(decoded, encoder.encode(x))
        assert module(x).shape == (4, 3)
    with pytest.raises(ValueError, match="windows"):
        module(torch.randn(4, 2, 10))


@pytest.mark.parametrize(
    "finetune, trainable",
    [
        ("head", set()),
        ("embeddings", {"time_embedding", "fft_embedding"}),
        ("all", {"time_embedding", "fft_embedding", "backbone", "mask_token", "registers"}),
    ],
)
def test_frozen_parts_stay_frozen(finetune, trainable):
    X, y = _two_class(n=24)
    before, _ = initial_model(TINY)
    clf = TSPulseClassifier(**{**FAST, **TSLENS, "finetune": finetune, "lr": 1e-2}).fit(X, y)
    assert _changed_parts(before, clf.model_.encoder) == trainable
    assert clf.model_.head.classifier.weight.requires_grad


# -------------------------------------------------------------- estimator
def test_fit_predict_shapes_and_string_classes():
    X, y = _two_class(n=24)
    clf = TSPulseClassifier(**FAST).fit(X, y)
    assert clf.classes_.tolist() == ["fast", "slow"]
    assert clf.n_features_in_ == 1 and clf.n_timepoints_ == 64
    proba = clf.predict_proba(X)
    assert proba.shape == (24, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert set(clf.predict(X)) <= {"fast", "slow"}
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(1)])
    assert 1 <= clf.best_epoch_ <= len(clf.history_) == 2


def test_bfloat16_precision_trains_and_predicts_close_to_float32():
    X, y = _two_class(n=24)
    exact = TSPulseClassifier(**FAST, patch_phases=1).fit(X, y)
    fast = TSPulseClassifier(**FAST, patch_phases=1, precision="bfloat16").fit(X, y)
    assert [row["train_loss"] for row in fast.history_] != [
        row["train_loss"] for row in exact.history_
    ]  # the forward passes did run in bfloat16
    np.testing.assert_allclose(
        [row["train_loss"] for row in fast.history_],
        [row["train_loss"] for row in exact.history_],
        rtol=0.05,
    )
    proba = fast.predict_proba(X)
    assert proba.dtype == np.float32 or proba.dtype == np.float64
    np.testing.assert_allclose(proba, exact.predict_proba(X), atol=0.05)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert not torch.is_autocast_enabled("cpu")


def test_learns_an_easy_problem():
    X, y = _two_class(n=64)
    X_test, y_test = _two_class(n=40, seed=1)
    clf = TSPulseClassifier(
        pretrained=TINY, max_epochs=3, lr=1e-2, batch_size=8, validation_fraction=None,
        random_state=0,
    ).fit(X, y)
    assert clf.score(X_test, y_test) >= 0.8


def test_multivariate_ragged_nan_and_long_series():
    X, y = _two_class(n=24, channels=3)
    X[0, 1, :5] = np.nan
    clf = TSPulseClassifier(**FAST, **TSLENS).fit(X, y)
    assert clf.n_features_in_ == 3
    assert len(clf.model_.head.channel_mixers) == 1
    # series of other lengths, unequal in one list: short padded, long windowed
    ragged = [X[0, :, :30], np.concatenate([X[1], X[1], X[1]], axis=1)]
    assert clf.predict_proba(ragged).shape == (2, 2)
    with pytest.raises(ValueError, match="channel"):
        clf.predict(X[:, :2])


def test_long_series_train_on_windows_and_average():
    X, y = _two_class(n=16, length=200)  # 4 windows of the tiny context (64)
    clf = TSPulseClassifier(**FAST).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (16, 2)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-6)


def test_determinism_and_seed_effect():
    X, y = _two_class(n=24)
    a = TSPulseClassifier(**FAST).fit(X, y).predict_proba(X)
    b = TSPulseClassifier(**FAST).fit(X, y).predict_proba(X)
    c = TSPulseClassifier(**{**FAST, "random_state": 1}).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert not np.allclose(a, c)


def test_pickle_and_clone():
    X, y = _two_class(n=24)
    clf = TSPulseClassifier(**FAST).fit(X, y)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(restored.predict_proba(X), clf.predict_proba(X))
    assert not hasattr(clone(clf), "model_")


@pytest.mark.parametrize(
    "params, match",
    [
        ({"finetune": "backbone"}, "finetune"),
        ({"head": "mlp"}, "head"),
        ({"views": ("series", "series")}, "views"),
        ({"max_epochs": 0}, "max_epochs"),
        ({"batch_size": 1.5}, "batch_size"),
        ({"lr": -1.0}, "lr"),
        ({"mask_ratio": 1.0}, "mask_ratio"),
        ({"validation_fraction": 0.0}, "validation_fraction"),
        ({"patience": 0}, "patience"),
        ({"device": "tpu9"}, "device"),
    ],
)
def test_bad_parameters_raise_in_fit(params, match):
    X, y = _two_class(n=8)
    clf = TSPulseClassifier(**{**FAST, **params})  # nothing checked in __init__
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y)


def test_input_errors():
    X, y = _two_class(n=8)
    with pytest.raises(NotFittedError):
        TSPulseClassifier(**FAST).predict(X)
    with pytest.raises(ValueError, match="at least 2 classes"):
        TSPulseClassifier(**FAST).fit(X, np.zeros(8))
    X_nan = X.copy()
    X_nan[3, 0] = np.nan
    with pytest.raises(ValueError, match="no observed value"):
        TSPulseClassifier(**FAST).fit(X_nan, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        TSPulseClassifier(**FAST).fit(X, y[:-1])
    with pytest.raises(ValueError, match="Unknown label type"):
        TSPulseClassifier(**FAST).fit(X, np.linspace(0, 1, 8))


def test_validation_split_is_stratified_or_skipped():
    y = np.repeat([0, 1, 2], 10)
    train, valid = _validation_rows(y, 0.2, seed=0)
    assert len(valid) == 6 and np.bincount(y[valid]).tolist() == [2, 2, 2]
    assert np.intersect1d(train, valid).size == 0 and len(train) + len(valid) == 30
    # a class with one series, or too few series for one per class: no split
    assert _validation_rows(np.array([0, 0, 0, 0, 1]), 0.4, seed=0)[1] is None
    assert _validation_rows(np.repeat([0, 1, 2], 2), 0.2, seed=0)[1] is None
    assert _validation_rows(y, None, seed=0)[1] is None
    # fit copes with a tiny class and records no validation loss then
    X, _ = _two_class(n=9)
    y_small = np.array(["a"] * 8 + ["b"])
    clf = TSPulseClassifier(**FAST, validation_fraction=0.2).fit(X, y_small)
    assert "valid_loss" not in clf.history_[0] and clf.best_epoch_ == 2


def test_early_stopping_restores_best_epoch():
    X, y = _two_class(n=40)
    params = {**FAST, **TSLENS, "max_epochs": 6, "patience": 1, "lr": 5e-2}
    clf = TSPulseClassifier(**params).fit(X, y)
    losses = [row["valid_loss"] for row in clf.history_]
    assert clf.best_epoch_ == int(np.argmin(losses)) + 1
    # patience 1: training stopped at the first epoch that did not improve
    assert len(clf.history_) == clf.best_epoch_ + 1 < 6


def test_grid_search():
    X, y = _two_class(n=24)
    search = GridSearchCV(
        TSPulseClassifier(**{**FAST, "max_epochs": 1}),
        {"mask_ratio": [0, 0.3]},
        cv=2,
        error_score="raise",  # a failed fit fails the test instead of scoring NaN
    ).fit(X, y)
    assert search.predict(X).shape == (24,)


def test_sklearn_callbacks_see_and_stop_epochs():
    X, y = _two_class(n=24)
    recorder = EpochRecorder(stop_after=2)
    clf = TSPulseClassifier(**{**FAST, "max_epochs": 5}).set_callbacks(recorder).fit(X, y)
    assert len(recorder.epochs) == 2 and len(clf.history_) == 2
    assert recorder.epochs[-1]["train_loss"] == pytest.approx(clf.history_[-1]["train_loss"])


# ------------------------------------------------------- linear probe, then fine-tuning
def _probe_reference(X, y, views, pooling, patch_phases=1):
    """The canonical pipeline's probe on the same read-out, fitted to convergence."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sslts import TSPulseEmbedder

    embedder = TSPulseEmbedder(
        pretrained=TINY, views=views, pooling=pooling, patch_phases=patch_phases, standardize=False
    )
    return make_pipeline(embedder, StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)


@pytest.mark.parametrize(
    ("views", "pooling", "phases"),
    [
        (("series",), ("mean",), 1),
        (("series", "half", "diff"), ("mean", "max"), 1),
        (("series", "diff"), ("mean", "max"), 4),
    ],
)
def test_linear_head_starts_at_the_canonical_probe(views, pooling, phases):
    # series of the tiny context's length: the embedder's and the head's windows,
    # locations and scales are the same, so an untrained head is the probe itself
    # (the head is linear in the phase-averaged features, as the pipeline's probe)
    X, y = _two_class(n=24, channels=2)
    X_test, _ = _two_class(n=10, channels=2, seed=1)
    params = {**FAST, "views": views, "pooling": pooling, "lr": 1e-12, "max_epochs": 1}
    clf = TSPulseClassifier(**params, patch_phases=phases).fit(X, y)
    expected = _probe_reference(X, y, views, pooling, phases).predict_proba(X_test)
    np.testing.assert_allclose(clf.predict_proba(X_test), expected, atol=2e-3)
    # tiny model: 2 registers, d_model 8; each pooling of time and FFT tokens; location, log-scale
    width = (2 + 2 * len(pooling)) * 8 + 2
    assert clf.model_.classifier.in_features == 2 * len(views) * width
    assert clf.model_.n_phases == phases


@pytest.mark.parametrize("n_classes", [2, 3])
def test_linear_head_penalty_makes_the_probe_a_stationary_point(n_classes):
    X, y = _two_class(n=24)
    if n_classes == 3:
        y = np.array(["a", "b", "c"])[np.arange(24) % 3]
    clf = TSPulseClassifier(**{**FAST, "lr": 1e-12, "max_epochs": 1}).fit(X, y)
    model = clf.model_.eval()
    inputs, owner = clf._windows(clf._check_X(X, reset=False), clf.model_.encoder.config)
    y_enc = torch.as_tensor(np.searchsorted(clf.classes_, y)[owner])
    x, observed = (torch.from_numpy(inputs[k]) for k in ("x", "observed"))

    def head_gradient(penalised):
        model.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x, observed), y_enc)
        (loss + model.penalty() if penalised else loss).backward()
        return model.classifier.weight.grad.norm().item()

    # the logistic regression's optimum: the penalised loss is flat in the head weights
    assert head_gradient(True) < 0.05 * head_gradient(False)
    # binary: two rows, each half the probe's w; multinomial: sklearn's own rows
    assert model.l2 == pytest.approx(1 / 24 if n_classes == 2 else 1 / 48)


@pytest.mark.parametrize(
    "finetune, trainable",
    [
        ("head", set()),
        ("decoder", {"decoder"}),
        ("embeddings", {"decoder", "time_embedding", "fft_embedding"}),
        ("all", {"decoder", "time_embedding", "fft_embedding", "backbone", "registers",
                 "mask_token"}),
    ],
)
def test_linear_head_trains_only_the_named_encoder_parts(finetune, trainable):
    X, y = _two_class(n=24)
    before, _ = initial_model(TINY)
    # (at lr 1e-2 the objective rises and the probe is kept: nothing would change)
    clf = TSPulseClassifier(**{**FAST, "finetune": finetune, "lr": 1e-3}).fit(X, y)
    assert clf.best_epoch_ == (0 if finetune == "head" else 2)
    # the reconstruction heads are never used, so never change
    assert _changed_parts(before, clf.model_.encoder) == trainable
    assert clf.model_.classifier.weight.requires_grad


def test_linear_head_learns_and_handles_long_ragged_and_missing_series():
    X, y = _two_class(n=48)
    X_test, y_test = _two_class(n=40, seed=1)
    clf = TSPulseClassifier(**FAST).fit(X, y)
    assert clf.score(X_test, y_test) >= 0.8
    assert len(clf.history_) == 2 and clf.best_epoch_ == 2
    X_nan = X_test.copy()
    X_nan[0, 0, :7] = np.nan
    ragged = [X_nan[0, :, :30], np.concatenate([X_test[1]] * 3, axis=1)]
    proba = clf.predict_proba(ragged)
    assert proba.shape == (2, 2) and np.isfinite(proba).all()


def test_linear_head_keeps_the_probe_when_fine_tuning_diverges():
    X, y = _two_class(n=24)
    X_test, _ = _two_class(n=10, seed=1)
    probe = TSPulseClassifier(**{**FAST, "lr": 1e-12}).fit(X, y)
    # a learning rate far too large: the objective ends above the probe's
    wild = TSPulseClassifier(**{**FAST, "lr": 50.0, "max_epochs": 3}).fit(X, y)
    objectives = [row["train_objective"] for row in wild.history_]
    keeper = wild.best_epoch_
    assert len(objectives) == 3 and keeper == 0
    assert min(objectives) > probe.history_[0]["train_objective"] - 1e-6
    np.testing.assert_allclose(wild.predict_proba(X_test), probe.predict_proba(X_test), atol=1e-5)


def test_linear_head_keeps_the_epoch_with_the_lowest_training_objective():
    X, y = _two_class(n=24)
    clf = TSPulseClassifier(**{**FAST, "max_epochs": 3}).fit(X, y)
    objectives = [row["train_objective"] for row in clf.history_]
    model = clf.model_
    inputs, owner = clf._windows(clf._check_X(X, reset=False), clf.model_.encoder.config)
    y_enc = torch.as_tensor(np.searchsorted(clf.classes_, y)[owner])
    with torch.no_grad():
        logits = model(*(torch.from_numpy(inputs[k]) for k in ("x", "observed")))
        kept = (torch.nn.functional.cross_entropy(logits, y_enc) + model.penalty()).item()
    # here training lowers the objective every epoch: the last epoch is kept
    assert clf.best_epoch_ == int(np.argmin(objectives)) + 1 == 3
    assert kept == pytest.approx(min(objectives), rel=1e-5)
    # validating: early stopping on the validation loss decides, no training objective
    validated = TSPulseClassifier(**{**FAST, "validation_fraction": 0.25}).fit(X, y)
    assert "train_objective" not in validated.history_[0]
