import pickle

import joblib
import numpy as np
import pytest
import torch
from _tiny import TINY_CHECKPOINT as TINY
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from sslts import TSPulseEmbedder


def test_output_shapes_per_embedding_and_pooling(panel):
    n, c, _ = panel.shape
    widths = {"semantic": 2 * 8, "detail": 2 * 8 * 8, "both": 2 * 8 + 2 * 8 * 8}
    for kind, width in widths.items():
        Z = TSPulseEmbedder(pretrained=TINY, embedding=kind).fit_transform(panel)
        assert Z.shape == (n, c * width) and Z.dtype == np.float32
        Z = TSPulseEmbedder(pretrained=TINY, embedding=kind, channel_pooling="mean").fit_transform(panel)
        assert Z.shape == (n, width)


def test_concat_is_channel_order_of_univariate_embeddings(panel):
    emb = TSPulseEmbedder(pretrained=TINY).fit(panel)
    Z = emb.transform(panel)
    single = TSPulseEmbedder(pretrained=TINY).fit(panel[:, 1, :])
    np.testing.assert_allclose(Z[:, 16:], single.transform(panel[:, 1, :]), atol=1e-6)
    mean = TSPulseEmbedder(pretrained=TINY, channel_pooling="mean").fit(panel).transform(panel)
    np.testing.assert_allclose(mean, (Z[:, :16] + Z[:, 16:]) / 2, atol=1e-6)


def test_fit_transform_equals_fit_then_transform(panel):
    a = TSPulseEmbedder(pretrained=TINY).fit_transform(panel)
    b = TSPulseEmbedder(pretrained=TINY).fit(panel).transform(panel)
    np.testing.assert_array_equal(a, b)


def test_long_series_are_windowed_and_averaged():
    rng = np.random.default_rng(0)
    half = rng.normal(size=(3, 64)).astype(np.float32)  # context is 64
    doubled = np.concatenate([half, half], axis=1)
    emb = TSPulseEmbedder(pretrained=TINY).fit(half)
    np.testing.assert_allclose(emb.transform(doubled), emb.transform(half), atol=1e-6)


def test_short_and_ragged_series(panel):
    emb = TSPulseEmbedder(pretrained=TINY).fit(panel[:, 0, :])
    ragged = [panel[0, 0, :30], panel[1, 0, :], panel[2, 0, :50]]
    Z = emb.transform(ragged)
    assert Z.shape == (3, 16) and np.isfinite(Z).all()
    # a ragged member embeds exactly as when given alone
    np.testing.assert_allclose(Z[0], emb.transform(panel[:1, 0, :30])[0], atol=1e-6)


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
    params = dict(pretrained=TINY, max_epochs=2, batch_size=8, lr=1e-2)
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
    assert df.shape == (len(panel), 32)
    assert list(df.columns[:2]) == ["tspulseembedder0", "tspulseembedder1"]
    assert list(emb.get_feature_names_out()) == list(df.columns)


def test_checkpoint_path_is_accepted(tmp_path, panel, tiny_model):
    from sslts.pretrained import save_checkpoint

    path = save_checkpoint(tiny_model, tmp_path / "mine")
    emb = TSPulseEmbedder(pretrained=str(path)).fit(panel)
    assert emb.card_["model"] == "tspulse"
    assert emb.transform(panel).shape == (len(panel), 32)


def test_default_loads_the_shipped_synthetic_checkpoint_offline(panel):
    emb = TSPulseEmbedder().fit(panel)
    training = emb.card_["training"]
    assert emb.card_["model"] == "tspulse"
    assert training["data"]["source"] == "mixed" and training["finished"] is True
    assert training["samples_seen"] >= 100_000
    assert emb.model_.config.context_length == 512
    assert emb.transform(panel).shape == (len(panel), 2 * 240)


@pytest.mark.slow
def test_canonical_pipeline_with_shipped_weights_on_gunpoint(gunpoint):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    X_train, y_train, X_test, y_test = gunpoint
    pipe = Pipeline([("emb", TSPulseEmbedder()), ("clf", LogisticRegression(max_iter=2000))])
    accuracy = pipe.fit(X_train, y_train).score(X_test, y_test)
    random = Pipeline(
        [("emb", TSPulseEmbedder(pretrained=None, random_state=0)), ("clf", LogisticRegression(max_iter=2000))]
    )
    assert accuracy >= 0.8
    assert accuracy > random.fit(X_train, y_train).score(X_test, y_test) + 0.1
