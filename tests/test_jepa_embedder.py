"""JEPAEmbedder: the latent-SSL family behind the scikit-learn transformer contract."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from _callbacks import EpochRecorder
from _tiny import TINY_JEPA
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sslts._validation import check_panel
from sslts.latent import JEPAEmbedder
from sslts.objectives import next_window_pairs
from sslts.pretrained import save_checkpoint


def tiny(**params):
    return JEPAEmbedder(**{**TINY_JEPA, "random_state": 0, **params})


@pytest.fixture
def long_panel():
    """(6, 2, 48): three whole 16-point windows per series."""
    rng = np.random.default_rng(1)
    t = np.arange(48)
    freq = rng.uniform(0.1, 0.5, size=(6, 2, 1))
    return (np.sin(freq * t) + 0.1 * rng.normal(size=(6, 2, 48))).astype(np.float32)


@pytest.mark.parametrize("objective", ["lejepa", "dino", "masked", "mts-jepa"])
def test_every_objective_trains_and_embeds(objective, long_panel):
    emb = tiny(objective=objective, standardize=False).fit(long_panel)
    Z = emb.transform(long_panel)
    assert Z.shape == (6, 2 * 8) and Z.dtype == np.float32 and np.isfinite(Z).all()
    assert len(emb.history_) == 1 and np.isfinite(emb.history_[0]["train_loss"])
    names = emb.get_feature_names_out()
    assert len(names) == 16 and names[0] == "jepaembedder0"
    mean = emb.set_params(channel_pooling="mean").transform(long_panel)
    np.testing.assert_allclose(mean, (Z[:, :8] + Z[:, 8:]) / 2, atol=1e-6)
    if objective == "dino":  # DINO embeds with the teacher, as in its evaluation
        assert emb.encoder_ is emb.model_.teacher.encoder


def test_mts_jepa_code_features(long_panel):
    emb = tiny(objective="mts-jepa", features="codes", standardize=False).fit(long_panel)
    Z = emb.transform(long_panel)
    # n_patches (4) x codebook_size (4), max-pooled over channels: width independent of C
    assert Z.shape == (6, 16) and (Z >= 0).all() and (Z <= 1).all()
    per_patch = Z.reshape(6, 4, 4)
    assert (per_patch.sum(-1) >= 1 - 1e-5).all()  # max over channels of distributions
    with torch.inference_mode():
        x = torch.from_numpy(long_panel[:, :, :16])
        expected = emb.model_.code_probabilities(x).amax(1).flatten(1).numpy()
    # series longer than the context: mean over the length policy's windows
    single = emb.transform(long_panel[:, :, :16])
    np.testing.assert_allclose(single, expected, atol=1e-6)
    assert "code_top_probability" in emb.history_[0]


@pytest.mark.parametrize("ablation", [{"use_codebook": False}, {"use_coarse": False}])
def test_mts_jepa_ablations_build_the_ablated_model(ablation, long_panel):
    emb = tiny(objective="mts-jepa", **ablation).fit(long_panel)
    (name, value), = ablation.items()
    assert getattr(emb.model_.config, name) is value
    part = {"use_codebook": "codebook", "use_coarse": "coarse_predictor"}[name]
    assert getattr(emb.model_, part) is None
    assert getattr(tiny(objective="mts-jepa").fit(long_panel).model_, part) is not None
    assert emb.transform(long_panel).shape == (6, 2 * 8)


def test_next_window_pairs(long_panel):
    panel = check_panel(long_panel, estimator=JEPAEmbedder(), reset=True)
    pairs = next_window_pairs(panel, 16)
    assert pairs["x"].shape == pairs["x_next"].shape == (12, 2, 16)
    np.testing.assert_array_equal(pairs["x"][0], long_panel[0, :, :16])
    np.testing.assert_array_equal(pairs["x_next"][0], long_panel[0, :, 16:32])
    np.testing.assert_array_equal(pairs["x"][1], pairs["x_next"][0])
    assert pairs["observed"].all()
    with pytest.raises(ValueError, match="at least 2 \\* context_length = 64"):
        next_window_pairs(panel, 32)


def test_mts_jepa_needs_series_of_two_windows(long_panel):
    with pytest.raises(ValueError, match="2 \\* context_length"):
        tiny(objective="mts-jepa").fit(long_panel[:, :, :20])


def test_fit_is_seeded_and_leaves_global_rng_alone(long_panel):
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = tiny(objective="lejepa", max_epochs=2).fit(long_panel).transform(long_panel)
    assert torch.equal(torch.get_rng_state(), before)
    b = tiny(objective="lejepa", max_epochs=2).fit(long_panel).transform(long_panel)
    c = tiny(objective="lejepa", max_epochs=2, random_state=1).fit(long_panel).transform(long_panel)
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert not np.allclose(a, c)


def test_training_changes_the_encoder_and_zero_epochs_keep_it(long_panel):
    frozen = tiny(max_epochs=0).fit(long_panel)
    assert frozen.history_ == []
    trained = tiny(max_epochs=2, lr=1e-2).fit(long_panel)
    assert not np.allclose(frozen.transform(long_panel), trained.transform(long_panel))


def test_pretrained_checkpoint_initialises_any_objective(long_panel, tmp_path):
    source = tiny(objective="mts-jepa").fit(long_panel)
    path = save_checkpoint(source.model_, tmp_path / "jepa", family="jepa")
    emb = JEPAEmbedder(objective="lejepa", pretrained=path, max_epochs=0).fit(long_panel)
    np.testing.assert_allclose(emb.transform(long_panel), source.transform(long_panel), atol=1e-6)
    assert emb.card_["model"] == "jepa" and source.card_ == {}
    # an MTS-JEPA checkpoint continues as the whole model under its own objective
    same = JEPAEmbedder(objective="mts-jepa", pretrained=path, max_epochs=0).fit(long_panel)
    torch.testing.assert_close(same.model_.state_dict(), source.model_.state_dict())
    # the checkpoint's architecture wins over the estimator's parameters
    assert emb.encoder_.config.d_model == 8
    with pytest.raises(ValueError, match="cannot start from a TSPulse"):
        JEPAEmbedder(pretrained="tspulse-tiny-random").fit(long_panel)


def test_missing_values_short_and_ragged_series(long_panel):
    X = long_panel[:, 0, :].copy()
    X[:, 3:9] = np.nan
    emb = tiny().fit(X)
    assert np.isfinite(emb.transform(X)).all()
    ragged = [long_panel[0, 0, :10], long_panel[1, 0, :], long_panel[2, 0, :30]]
    Z = emb.transform(ragged)
    assert Z.shape == (3, 8) and np.isfinite(Z).all()
    # the same series alone, in a batch of one: equal up to float32 rounding, which
    # depends on the batch's make-up (and on the CPU: about 2e-6 relative on AVX-512)
    np.testing.assert_allclose(
        Z[0], emb.transform(long_panel[:1, 0, :10])[0], rtol=1e-5, atol=1e-6
    )


def test_unfitted_and_channel_mismatch(long_panel):
    emb = tiny(max_epochs=0)
    with pytest.raises(NotFittedError):
        emb.transform(long_panel)
    emb.fit(long_panel)
    with pytest.raises(ValueError, match="X has 1 channel.*fitted with 2"):
        emb.transform(long_panel[:, 0, :])


@pytest.mark.parametrize(
    "params, match",
    [
        ({"objective": "simclr"}, "unknown objective 'simclr'; available: \\['dino'"),
        ({"features": "tokens"}, "'features' parameter"),
        ({"features": "codes", "objective": "lejepa"}, "features='codes' needs an objective"),
        (
            {"features": "codes", "objective": "mts-jepa", "use_codebook": False},
            "features='codes' needs a codebook",
        ),
        ({"use_coarse": False, "objective": "dino"}, "ablation of objective \\['mts-jepa'\\]"),
        ({"use_codebook": 0, "objective": "mts-jepa"}, "'use_codebook' parameter"),
        ({"channel_pooling": "max"}, "'channel_pooling' parameter"),
        ({"max_epochs": -1}, "'max_epochs' parameter"),
        ({"batch_size": 0}, "'batch_size' parameter"),
        ({"lr": 0.0}, "'lr' parameter"),
        ({"standardize": 1}, "'standardize' parameter of JEPAEmbedder must be a bool"),
        ({"context_length": 18}, "multiple of patch_length"),
        ({"objective": "masked", "context_length": 4}, "at least 2 patches"),
        ({"device": "tpu"}, "'device' parameter"),
    ],
)
def test_bad_parameters(long_panel, params, match):
    with pytest.raises(ValueError, match=match):
        tiny(**params).fit(long_panel)


def test_clone_and_pickle_round_trip(long_panel):
    emb = tiny(objective="dino", max_epochs=0).fit(long_panel)
    expected = emb.transform(long_panel)
    restored = pickle.loads(pickle.dumps(emb))
    np.testing.assert_array_equal(restored.transform(long_panel), expected)
    cloned = clone(emb)
    assert cloned.get_params() == emb.get_params() and not hasattr(cloned, "model_")


def test_sklearn_callbacks_see_epochs_and_can_stop(long_panel):
    recorder = EpochRecorder(stop_after=2)
    emb = tiny(objective="masked", max_epochs=5).set_callbacks(recorder).fit(long_panel)
    assert len(recorder.epochs) == 2 and len(emb.history_) == 2
    assert recorder.epochs[-1]["train_loss"] == pytest.approx(emb.history_[-1]["train_loss"])
    # the snapshot standardizes with its own encoder's statistics, like the final fit
    snapshot = recorder.snapshots[-1].transform(long_panel)
    assert snapshot.shape == (6, 16)
    np.testing.assert_allclose(snapshot.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(snapshot, emb.transform(long_panel), rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------- standardize
@pytest.mark.parametrize("features", ["embedding", "codes"])
def test_standardized_features_are_the_raw_ones_mapped_by_training_statistics(
    features, long_panel
):
    params = {"objective": "mts-jepa", "features": features}
    emb = tiny(**params).fit(long_panel)
    raw_emb = tiny(**params, standardize=False).fit(long_panel)
    assert raw_emb.mean_ is None and raw_emb.scale_ is None
    raw = raw_emb.transform(long_panel).astype(np.float64)
    Z = emb.transform(long_panel)
    assert Z.dtype == np.float32 and np.isfinite(Z).all()
    # statistics of the trained encoder's features on the training panel
    np.testing.assert_allclose(emb.mean_, raw.mean(axis=0), rtol=1e-4, atol=1e-6)
    std = raw.std(axis=0)
    varying = std > 1e-4
    np.testing.assert_allclose(emb.scale_[varying], std[varying], rtol=1e-4)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(Z.std(axis=0)[varying], 1.0, rtol=1e-3)
    # the affine map, on other (shorter) series too
    query = long_panel[:3, :, :20]
    np.testing.assert_allclose(
        emb.transform(query),
        (raw_emb.transform(query) - emb.mean_) / emb.scale_,
        rtol=1e-4,
        atol=1e-4,
    )


def test_constant_code_features_stay_finite(long_panel):
    # a 4-code codebook over 4 patches: codes never chosen are constant (0) in training
    emb = tiny(objective="mts-jepa", features="codes").fit(long_panel)
    raw = tiny(objective="mts-jepa", features="codes", standardize=False).fit(long_panel)
    constant = raw.transform(long_panel).std(axis=0) == 0
    np.testing.assert_array_equal(emb.scale_[constant], 1.0)
    assert np.isfinite(emb.transform(long_panel)).all()
    # identical training series: every feature is constant
    X = np.repeat(long_panel[:1], 4, axis=0)
    Z = tiny(objective="lejepa").fit_transform(X)
    assert np.isfinite(Z).all() and np.abs(Z).max() < 1e-6


@pytest.mark.parametrize("standardize", [True, False])
def test_fit_transform_equals_fit_then_transform(standardize, long_panel):
    a = tiny(standardize=standardize).fit_transform(long_panel)
    b = tiny(standardize=standardize).fit(long_panel).transform(long_panel)
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_canonical_pipeline_equals_the_scaler_pipeline(long_panel):
    rng = np.random.default_rng(0)
    y = np.arange(12) % 2
    t = np.arange(48)
    X = np.sin(np.where(y == 1, 0.6, 0.2)[:, None] * t + rng.uniform(0, 6, size=(12, 1)))
    X = (X + 0.2 * rng.normal(size=X.shape)).astype(np.float32)
    canonical = Pipeline([("emb", tiny()), ("clf", LogisticRegression())])
    scaled = Pipeline(
        [
            ("emb", tiny(standardize=False)),
            ("scale", StandardScaler()),
            ("clf", LogisticRegression()),
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        canonical.fit(X, y)
    scaled.fit(X, y)
    np.testing.assert_allclose(
        canonical.predict_proba(X), scaled.predict_proba(X), rtol=0, atol=1e-9
    )


def test_verbose_mtsjepa_fit_shows_a_progress_bar_beside_its_own_callbacks(capsys):
    X = np.random.default_rng(0).normal(size=(8, 1, 128)).astype(np.float32)
    emb = JEPAEmbedder(
        objective="mts-jepa", max_epochs=1, verbose=True, context_length=64,
        patch_length=8, d_model=16, n_layers=1, random_state=0,
    ).fit(X)
    assert len(emb.history_) == 1
    assert "train_loss" in capsys.readouterr().out
