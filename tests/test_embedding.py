import pickle
import warnings

import joblib
import numpy as np
import pytest
import torch
from _tiny import TINY_CHECKPOINT as TINY
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sslts import TSPulseEmbedder


@pytest.mark.parametrize(
    ("views", "pooling"),
    [(("series",), ("mean", "max")), (("series", "half", "diff"), ("mean",)), (("diff", "half"), ("max",))],
)
def test_output_shapes_per_embedding_and_pooling(panel, views, pooling):
    n, c, _ = panel.shape
    widths = {
        "semantic+pooled": 2 * 8 + len(pooling) * 2 * 8,
        "semantic": 2 * 8,
        "detail": 2 * 8 * 8,
        "both": 2 * 8 + 2 * 8 * 8,
    }
    for kind, width in widths.items():
        for location_scale, extra in ((False, 0), (True, 2)):
            params = {
                "pretrained": TINY,
                "embedding": kind,
                "pooling": pooling,
                "location_scale": location_scale,
                "views": views,
            }
            emb = TSPulseEmbedder(**params).fit(panel)
            Z = emb.transform(panel)
            per_channel = len(views) * (width + extra)
            assert Z.shape == (n, c * per_channel) == (n, emb._n_features_out)
            assert Z.dtype == np.float32
            Z = TSPulseEmbedder(**params, channel_pooling="mean").fit_transform(panel)
            assert Z.shape == (n, per_channel)


def test_default_read_out_is_registers_mean_and_max_pooled_patches_then_location_and_log_scale(
    panel,
):
    x = torch.from_numpy(panel[:, :, :64])
    observed = torch.ones_like(x, dtype=torch.bool)
    emb = TSPulseEmbedder(pretrained=TINY, standardize=False, patch_phases=1).fit(panel[:, :, :64])
    Z = emb.transform(panel[:, :, :64]).reshape(len(panel), 2, -1)
    with torch.no_grad():
        tokens = emb.model_.encode(x, observed)
        registers = emb.model_.embed(x, observed, kind="semantic")
    n = emb.model_.config.n_patches
    np.testing.assert_allclose(Z[..., :16], registers.numpy(), atol=1e-5)
    np.testing.assert_allclose(Z[..., 16:24], tokens[..., :n, :].mean(-2).numpy(), atol=1e-5)
    np.testing.assert_allclose(Z[..., 24:32], tokens[..., n : 2 * n, :].mean(-2).numpy(), atol=1e-5)
    np.testing.assert_allclose(Z[..., 32:40], tokens[..., :n, :].amax(-2).numpy(), atol=1e-5)
    np.testing.assert_allclose(Z[..., 40:48], tokens[..., n : 2 * n, :].amax(-2).numpy(), atol=1e-5)
    series = panel[:, :, :64].astype(np.float64)
    np.testing.assert_allclose(Z[..., 48], series.mean(-1), atol=1e-5)
    np.testing.assert_allclose(Z[..., 49], np.log(np.sqrt(series.var(-1) + 1e-5)), atol=1e-4)


def test_pooled_patches_ignore_padding():
    rng = np.random.default_rng(0)
    short = rng.normal(size=(2, 1, 24)).astype(np.float32)  # context 64, patch 8: 3 patches seen
    emb = TSPulseEmbedder(
        pretrained=TINY, standardize=False, location_scale=False, patch_phases=1
    ).fit(short)
    Z = emb.transform(short)
    x = np.zeros((2, 1, 64), np.float32)
    x[..., 40:] = short
    observed = np.zeros_like(x, dtype=bool)
    observed[..., 40:] = True
    with torch.no_grad():
        tokens = emb.model_.encode(torch.from_numpy(x), torch.from_numpy(observed))
    n = emb.model_.config.n_patches
    seen = tokens[:, 0, n - 3 : n, :]
    np.testing.assert_allclose(Z[:, 16:24], seen.mean(-2).numpy(), atol=1e-5)
    np.testing.assert_allclose(Z[:, 32:40], seen.amax(-2).numpy(), atol=1e-5)
    # the padded patches' tokens exceed the maximum of the observed ones, but are ignored
    assert (tokens[:, 0, : n - 3, :].amax(-2) > seen.amax(-2)).any()


@pytest.mark.parametrize("standardize", [True, False])
def test_concat_is_channel_order_of_univariate_embeddings(panel, standardize):
    # standardization is per feature, so concatenation commutes with it
    emb = TSPulseEmbedder(pretrained=TINY, standardize=standardize).fit(panel)
    Z = emb.transform(panel)
    single = TSPulseEmbedder(pretrained=TINY, standardize=standardize).fit(panel[:, 1, :])
    np.testing.assert_allclose(Z[:, 150:], single.transform(panel[:, 1, :]), atol=1e-5)


def test_mean_pooling_is_the_channel_mean_of_raw_embeddings(panel):
    raw = {"pretrained": TINY, "standardize": False}
    Z = TSPulseEmbedder(**raw).fit(panel).transform(panel)
    mean = TSPulseEmbedder(**raw, channel_pooling="mean").fit(panel).transform(panel)
    np.testing.assert_allclose(mean, (Z[:, :150] + Z[:, 150:]) / 2, atol=1e-6)


@pytest.mark.parametrize(
    "params",
    [{}, {"standardize": False}, {"embedding": "both", "max_epochs": 1, "batch_size": 8}],
    ids=["standardized", "raw", "finetuned"],
)
def test_fit_transform_equals_fit_then_transform(panel, params):
    a = TSPulseEmbedder(pretrained=TINY, random_state=0, **params).fit_transform(panel)
    b = TSPulseEmbedder(pretrained=TINY, random_state=0, **params).fit(panel).transform(panel)
    np.testing.assert_array_equal(a, b)


# --------------------------------------------------------------- standardize
def test_standardized_output_has_zero_mean_and_unit_std_on_training_data(panel):
    emb = TSPulseEmbedder(pretrained=TINY, embedding="both").fit(panel)
    Z = emb.transform(panel)
    assert Z.dtype == np.float32 and Z.shape == (12, 2 * 3 * (16 + 128 + 2))
    varying = emb.scale_ != 1.0
    assert varying.mean() > 0.9  # the tiny random encoder: a few features may be constant
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(Z.std(axis=0)[varying], 1.0, rtol=1e-4)
    # other data goes through the same affine map, not its own statistics
    other = TSPulseEmbedder(pretrained=TINY, embedding="both").fit(panel[:6]).transform(panel)
    assert np.abs(other.mean(axis=0)).max() > 0.1


def test_standardize_false_returns_the_raw_embedding_and_the_map_is_affine(panel):
    raw_emb = TSPulseEmbedder(pretrained=TINY, standardize=False).fit(panel)
    assert raw_emb.mean_ is None and raw_emb.scale_ is None
    raw = raw_emb.transform(panel)
    # raw token embeddings of the tiny random encoder are tiny: the reason for the default
    assert raw.reshape(len(panel), 2, 150)[..., :16].std(axis=0).max() < 0.1
    emb = TSPulseEmbedder(pretrained=TINY).fit(panel)
    np.testing.assert_allclose(emb.mean_, raw.astype(np.float64).mean(axis=0), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(emb.scale_, raw.astype(np.float64).std(axis=0), rtol=1e-4)
    assert emb.mean_.shape == emb.scale_.shape == (300,)
    query = panel[:5, :, :60]  # other series, other length: the same map
    np.testing.assert_allclose(
        emb.transform(query),
        (raw_emb.transform(query) - emb.mean_) / emb.scale_,
        rtol=1e-5,
        atol=1e-5,
    )


def test_statistics_come_from_the_finetuned_encoder(panel):
    params = {
        "pretrained": TINY, "max_epochs": 2, "batch_size": 8, "lr": 1e-2, "random_state": 0
    }
    emb = TSPulseEmbedder(**params).fit(panel)
    raw = TSPulseEmbedder(**params, standardize=False).fit(panel).transform(panel)
    np.testing.assert_allclose(emb.mean_, raw.mean(axis=0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(emb.transform(panel).mean(axis=0), 0.0, atol=1e-5)


def test_fit_transform_embeds_the_training_panel_once(panel, monkeypatch):
    calls = []
    embed = TSPulseEmbedder._embed
    monkeypatch.setattr(
        TSPulseEmbedder, "_embed", lambda self, p: calls.append(p.n_instances) or embed(self, p)
    )
    emb = TSPulseEmbedder(pretrained=TINY)
    emb.fit_transform(panel)
    assert calls == [12]
    assert not hasattr(emb, "_fit_transform_output")  # nothing left behind to pickle
    emb.fit(panel).transform(panel)
    assert calls == [12, 12, 12]
    calls.clear()
    TSPulseEmbedder(pretrained=TINY, standardize=False).fit_transform(panel)
    assert calls == [12]  # no statistics: fit does not embed, transform does


def test_constant_features_are_centred_not_divided_by_zero(panel):
    # identical training series: every feature is constant in training
    X = np.repeat(panel[:1, 0, :], 6, axis=0)
    emb = TSPulseEmbedder(pretrained=TINY).fit(X)
    np.testing.assert_array_equal(emb.scale_, 1.0)
    Z = emb.fit_transform(X)
    assert np.isfinite(Z).all() and np.abs(Z).max() < 1e-6
    Z_other = emb.transform(panel[:, 0, :])
    assert np.isfinite(Z_other).all() and np.abs(Z_other).max() > 0
    # rounding differences between identical series are not blown up into features
    raw = TSPulseEmbedder(pretrained=TINY, standardize=False).fit(X).transform(panel[:, 0, :])
    np.testing.assert_allclose(Z_other, raw - emb.mean_, rtol=1e-5, atol=1e-5)
    # one training series: the same rule
    assert np.isfinite(TSPulseEmbedder(pretrained=TINY).fit_transform(panel[:1])).all()


def test_parameters_changing_the_width_after_fit_raise_a_clear_error(panel):
    emb = TSPulseEmbedder(pretrained=TINY).fit(panel)
    with pytest.raises(ValueError, match="produced 150 features, but was fitted with 300.*fit again"):
        emb.set_params(channel_pooling="mean").transform(panel)
    emb = TSPulseEmbedder(pretrained=TINY).fit(panel)
    with pytest.raises(ValueError, match="produced 100 features.*views.*fit again"):
        emb.set_params(views=("series",)).transform(panel)


def _two_class_problem(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Noisy sinusoids, slow (class 0) or fast (class 1), random phase and amplitude."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    t = np.arange(64)
    freq = np.where(y == 1, 0.35, 0.15)[:, None] + rng.normal(0, 0.03, size=(n, 1))
    amplitude = rng.uniform(0.5, 2.0, size=(n, 1))
    X = amplitude * np.sin(freq * t + rng.uniform(0, 2 * np.pi, size=(n, 1)))
    return (X + 0.3 * rng.normal(size=X.shape)).astype(np.float32), y


def test_canonical_pipeline_equals_the_scaler_pipeline_and_converges():
    X_train, y_train = _two_class_problem(60, seed=0)
    X_test, y_test = _two_class_problem(40, seed=1)
    canonical = Pipeline(
        [("emb", TSPulseEmbedder(pretrained=TINY, embedding="both")), ("clf", LogisticRegression())]
    )
    scaled = Pipeline(
        [
            ("emb", TSPulseEmbedder(pretrained=TINY, embedding="both", standardize=False)),
            ("scale", StandardScaler()),
            ("clf", LogisticRegression()),
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        canonical.fit(X_train, y_train)
    scaled.fit(X_train, y_train)
    np.testing.assert_allclose(
        canonical.predict_proba(X_test), scaled.predict_proba(X_test), rtol=0, atol=1e-9
    )
    np.testing.assert_array_equal(canonical.predict(X_test), scaled.predict(X_test))
    assert canonical.score(X_test, y_test) == scaled.score(X_test, y_test) > 0.6


def test_long_series_are_windowed_and_averaged_with_pad_windows():
    rng = np.random.default_rng(0)
    half = rng.normal(size=(3, 64)).astype(np.float32)  # context is 64
    doubled = np.concatenate([half, half], axis=1)
    # the policy, not the views or the patch phases
    one_view = {"pretrained": TINY, "views": ("series",), "patch_phases": 1}
    emb = TSPulseEmbedder(**one_view, length_policy="pad+windows").fit(half)
    np.testing.assert_allclose(emb.transform(doubled), emb.transform(half), atol=1e-5)


@pytest.mark.parametrize("policy", ["pad+resample", "resample"])
def test_long_series_are_resampled_to_the_context_by_default(policy):
    rng = np.random.default_rng(0)
    long = rng.normal(size=(3, 1, 200)).astype(np.float32)
    grid = np.linspace(0, 199, 64)
    resampled = np.stack([np.interp(grid, np.arange(200), s[0]) for s in long])[:, None].astype(np.float32)
    params = {"pretrained": TINY, "length_policy": policy, "location_scale": False}
    params["views"], params["patch_phases"] = ("series",), 1  # the policy alone
    emb = TSPulseEmbedder(**params).fit(resampled)
    np.testing.assert_allclose(emb.transform(long), emb.transform(resampled), atol=1e-4)
    assert TSPulseEmbedder().length_policy == "pad+resample"


def test_short_and_ragged_series(panel):
    emb = TSPulseEmbedder(pretrained=TINY).fit(panel[:, 0, :])
    ragged = [panel[0, 0, :30], panel[1, 0, :], panel[2, 0, :50]]
    Z = emb.transform(ragged)
    assert Z.shape == (3, 150) and np.isfinite(Z).all()
    # a ragged member embeds exactly as when given alone (up to float32 rounding of
    # the batch, which standardization scales up with the tiny encoder's 1/std)
    np.testing.assert_allclose(Z[0], emb.transform(panel[:1, 0, :30])[0], rtol=1e-5, atol=1e-5)


def test_missing_values_are_masked_not_rejected(panel):
    X = panel[:, 0, :].copy()
    emb = TSPulseEmbedder(pretrained=TINY).fit(X)
    X_nan = X.copy()
    X_nan[:, 5:20] = np.nan
    X_other = X.copy()
    X_other[:, 5:20] = 123.0
    Z_nan = emb.transform(X_nan)
    assert np.isfinite(Z_nan).all()
    assert not np.allclose(Z_nan, emb.transform(X_other))
    with pytest.raises(ValueError, match="infinity"):
        emb.transform(np.where(np.isnan(X_nan), np.inf, X_nan))


def test_unfitted_and_channel_mismatch(panel):
    emb = TSPulseEmbedder(pretrained=TINY)
    with pytest.raises(NotFittedError):
        emb.transform(panel)
    emb.fit(panel)
    with pytest.raises(ValueError, match="X has 1 channel.*fitted with 2"):
        emb.transform(panel[:, 0, :])


@pytest.mark.parametrize(
    "params, match",
    [
        ({"embedding": "mean"}, "'embedding' parameter of TSPulseEmbedder must be one of"),
        ({"channel_pooling": "max"}, "'channel_pooling' parameter .* must be one of"),
        ({"max_epochs": -1}, r"'max_epochs' parameter .* must be an int in the range \[0, inf\)"),
        ({"batch_size": 0}, r"'batch_size' parameter .* must be an int in the range \[1, inf\)"),
        ({"lr": 0.0}, r"'lr' parameter .* must be a float in the range \(0, inf\)"),
        ({"standardize": "yes"}, "'standardize' parameter of TSPulseEmbedder must be a bool"),
        ({"device": "tpu"}, "'device' parameter .* must be 'auto' or a torch device"),
        ({"pretrained": "no-such-checkpoint"}, "unknown checkpoint"),
    ],
)
def test_bad_parameters(panel, params, match):
    with pytest.raises(ValueError, match=match):
        TSPulseEmbedder(pretrained=TINY).set_params(**params).fit(panel)


def test_random_init_is_seeded_and_leaves_global_rng_alone(panel):
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = TSPulseEmbedder(pretrained=None, random_state=7).fit(panel).transform(panel)
    assert torch.equal(torch.get_rng_state(), before)
    b = TSPulseEmbedder(pretrained=None, random_state=7).fit(panel).transform(panel)
    c = TSPulseEmbedder(pretrained=None, random_state=8).fit(panel).transform(panel)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_finetuning_is_seeded_and_changes_the_encoder(panel):
    params = {"pretrained": TINY, "max_epochs": 2, "batch_size": 8, "lr": 1e-2}
    frozen = TSPulseEmbedder(pretrained=TINY).fit(panel).transform(panel)
    a = TSPulseEmbedder(random_state=0, **params).fit(panel)
    b = TSPulseEmbedder(random_state=0, **params).fit(panel)
    np.testing.assert_allclose(a.transform(panel), b.transform(panel), atol=1e-6)
    assert not np.allclose(a.transform(panel), frozen)
    assert len(a.history_) == 2
    assert set(a.history_[0]) >= {"train_loss", "loss_time", "loss_fft"}
    # the shipped weights themselves are never modified
    again = TSPulseEmbedder(pretrained=TINY).fit(panel).transform(panel)
    np.testing.assert_array_equal(again, frozen)


def test_clone_pickle_and_joblib_round_trip(panel, tmp_path):
    emb = TSPulseEmbedder(pretrained=TINY, embedding="both", random_state=0).fit(panel)
    expected = emb.transform(panel)
    restored = pickle.loads(pickle.dumps(emb))
    np.testing.assert_array_equal(restored.transform(panel), expected)
    joblib.dump(emb, tmp_path / "emb.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "emb.joblib").transform(panel), expected)
    cloned = clone(emb)
    assert not hasattr(cloned, "model_")
    np.testing.assert_array_equal(cloned.fit(panel).transform(panel), expected)


def test_set_output_pandas(panel):
    pd = pytest.importorskip("pandas")
    emb = TSPulseEmbedder(pretrained=TINY).set_output(transform="pandas").fit(panel)
    df = emb.transform(panel)
    assert isinstance(df, pd.DataFrame)
    assert df.shape == (len(panel), 300)
    assert list(df.columns[:2]) == ["tspulseembedder0", "tspulseembedder1"]
    assert list(emb.get_feature_names_out()) == list(df.columns)
    # fit_transform (the embedder's own, which embeds once) is wrapped too
    fitted = TSPulseEmbedder(pretrained=TINY).set_output(transform="pandas").fit_transform(panel)
    pd.testing.assert_frame_equal(fitted, df)


def test_checkpoint_path_is_accepted(tmp_path, panel, tiny_model):
    from sslts.pretrained import save_checkpoint

    path = save_checkpoint(tiny_model, tmp_path / "mine")
    emb = TSPulseEmbedder(pretrained=str(path)).fit(panel)
    assert emb.card_["model"] == "tspulse"
    assert emb.transform(panel).shape == (len(panel), 300)


def test_default_loads_the_shipped_synthetic_checkpoint_offline(panel):
    emb = TSPulseEmbedder().fit(panel)
    training = emb.card_["training"]
    assert emb.card_["model"] == "tspulse"
    assert training["data"]["source"] == "mixed" and training["finished"] is True
    assert training["samples_seen"] >= 100_000
    assert emb.model_.config.context_length == 512
    assert emb.transform(panel).shape == (len(panel), 2 * 3 * (240 + 2 * 48 + 2))


@pytest.mark.slow
def test_canonical_pipeline_with_shipped_weights_on_gunpoint(gunpoint):
    X_train, y_train, X_test, y_test = gunpoint

    def accuracy(**params):
        pipe = Pipeline([("emb", TSPulseEmbedder(**params)), ("clf", LogisticRegression())])
        with warnings.catch_warnings():
            # standardised embeddings converge; raw ones need not (they are the control)
            action = "error" if params.get("standardize", True) else "ignore"
            warnings.simplefilter(action, ConvergenceWarning)
            pipe.fit(X_train, y_train)
        return pipe.score(X_test, y_test)

    canonical = accuracy()  # 0.967 with tspulse-synth (three views, mean and max, 8 phases)
    assert canonical >= 0.95
    assert canonical > accuracy(standardize=False)  # 0.947: raw embeddings, unscaled
    # one patch phase: 0.973 with the shipped weights, 0.880 with random ones (0.960
    # with 8 phases: averaging over phases smooths random features too)
    one = {"patch_phases": 1}
    assert accuracy(**one) > accuracy(**one, pretrained=None, random_state=0) + 0.05
    # the series view alone: 0.973 standardised, 0.840 raw
    assert accuracy(views=("series",)) > accuracy(views=("series",), standardize=False) + 0.1


def test_finetuning_snapshots_standardize_like_the_fitted_estimator(panel):
    from _callbacks import EpochRecorder

    recorder = EpochRecorder(stop_after=1)
    emb = TSPulseEmbedder(pretrained=TINY, max_epochs=3, batch_size=8, random_state=0)
    emb.set_callbacks(recorder).fit(panel)
    assert len(emb.history_) == 1
    snapshot = recorder.snapshots[-1]
    np.testing.assert_allclose(snapshot.mean_, emb.mean_, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(
        snapshot.transform(panel), emb.transform(panel), rtol=1e-5, atol=1e-5
    )


def test_pooled_readout_of_a_channel_with_nothing_observed_is_zero():
    from sslts.models.tspulse import TSPulseConfig, pooled_readout, pooled_readout_width

    cfg = TSPulseConfig(context_length=64, d_model=8, n_layers=1, n_registers=2)
    tokens = torch.randn(3, 2, 2 * cfg.n_patches + cfg.n_registers, cfg.d_model)
    observed = torch.ones(3, 2, 64, dtype=torch.bool)
    observed[:, 1] = False
    out = pooled_readout(tokens, observed, cfg, ("mean", "max"))
    assert out.shape == (3, 2, pooled_readout_width(cfg, ("mean", "max"))) == (3, 2, 6 * 8)
    assert torch.isfinite(out).all()
    assert (out[:, 1, 16:] == 0).all() and (out[:, 0, 32:40] == tokens[:, 0, :8].amax(-2)).all()
    with pytest.raises(ValueError, match="pooling"):
        pooled_readout(tokens, observed, cfg, ("median",))


@pytest.mark.parametrize("pooling", [(), ("mean", "mean"), ("median",), "max"])
def test_embedder_rejects_bad_pooling(panel, pooling):
    from sslts._params import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="pooling"):
        TSPulseEmbedder(pretrained=TINY, pooling=pooling).fit(panel)


def test_bfloat16_precision_gives_float32_features_close_to_the_float32_ones(panel):
    raw = {"pretrained": TINY, "standardize": False, "patch_phases": 2, "random_state": 0}
    exact = TSPulseEmbedder(**raw).fit(panel).transform(panel)
    fast_embedder = TSPulseEmbedder(**raw, precision="bfloat16").fit(panel)
    fast = fast_embedder.transform(panel)
    assert fast.dtype == np.float32 and fast.shape == exact.shape
    assert np.isfinite(fast).all()
    assert np.linalg.norm(fast - exact) / np.linalg.norm(exact) < 0.02
    assert not np.array_equal(fast, exact)  # the products did run in bfloat16
    # outside the estimator, torch's autocast state is left as it was
    assert not torch.is_autocast_enabled("cpu")


def test_embedder_rejects_an_unknown_precision(panel):
    from sslts._params import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="precision"):
        TSPulseEmbedder(pretrained=TINY, precision="float16").fit(panel)
