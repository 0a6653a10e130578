"""TSPulseImputer: contract, values kept, NaNs filled, quality with the shipped model."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import parametrize_with_checks

from sslts.imputation import TSPulseImputer

TINY = "tspulse-tiny-random"  # context 64


def _sine(length: int, channels: int = 1, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(length)[:, None]
    periods = rng.uniform(20, 60, size=channels)
    x = np.sin(2 * np.pi * t / periods) + 0.05 * rng.normal(size=(length, channels))
    return x[:, 0] if channels == 1 else x


def _with_gaps(x: np.ndarray, seed: int = 0, ratio: float = 0.2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = x.copy()
    mask = rng.random(x.shape) < ratio
    mask[10:20] = True  # one block in every channel
    out[mask] = np.nan
    return out


@parametrize_with_checks(
    [TSPulseImputer(pretrained=TINY, random_state=0)],
    expected_failed_checks=lambda est: {
        "check_fit1d": "a 1D array is a univariate series, which is a valid input",
        # the channel-count mismatch is rejected (test_errors), but the message
        # speaks of channels, not of sklearn's "features ... as input" wording
        "check_n_features_in_after_fitting": "mismatch message names channels",
        # 1D after a multichannel fit is a 1-channel series: rejected as a
        # channel mismatch rather than with sklearn's "Reshape your data"
        "check_fit2d_predict1d": "1D input is a series; rejected as channel mismatch",
    },
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("length", [30, 64, 500])  # shorter than, equal to, ~8x the context
@pytest.mark.parametrize("channels", [1, 3])
def test_fills_nans_and_keeps_observed(length, channels):
    x = _with_gaps(_sine(length, channels))
    out = TSPulseImputer(pretrained=TINY).fit_transform(x)
    assert out.shape == x.shape and out.dtype == np.float64
    assert np.isfinite(out).all()
    observed = ~np.isnan(x)
    np.testing.assert_array_equal(out[observed], x[observed])


def test_dtype_float32_preserved_and_2d_univariate():
    x = _with_gaps(_sine(100)).astype(np.float32)[:, None]
    out = TSPulseImputer(pretrained=TINY).fit_transform(x)
    assert out.dtype == np.float32 and out.shape == (100, 1)


def test_no_nan_input_returned_unchanged():
    x = _sine(200, 2)
    out = TSPulseImputer(pretrained=TINY).fit(x).transform(x)
    np.testing.assert_array_equal(out, x)
    assert out is not x


def test_dataframe_in_dataframe_out():
    x = pd.DataFrame(_with_gaps(_sine(80, 2)), columns=["a", "b"])
    imputer = TSPulseImputer(pretrained=TINY).set_output(transform="pandas")
    out = imputer.fit_transform(x)
    assert list(out.columns) == ["a", "b"] and not out.isna().any().any()


def test_anchoring_joins_the_gap_ends(monkeypatch):
    # With a model that reconstructs every window as 0, the raw fill is 0 and
    # the anchored fill is the linear interpolation of the residual, i.e. of
    # the observed values themselves.
    monkeypatch.setattr(
        TSPulseImputer, "_reconstruct", lambda self, windows: np.zeros(windows.values.shape)
    )
    x = np.linspace(0.0, 10.0, 200)
    gapped = x.copy()
    gapped[90:110] = np.nan
    raw = TSPulseImputer(pretrained=TINY, anchor=False).fit_transform(gapped)
    anchored = TSPulseImputer(pretrained=TINY).fit_transform(gapped)
    np.testing.assert_allclose(raw[90:110], 0.0)
    np.testing.assert_allclose(anchored[90:110], x[90:110], atol=1e-9)


def test_gap_longer_than_the_context_falls_back_to_interpolation():
    x = np.linspace(-1.0, 1.0, 400)
    gapped = x.copy()
    gapped[50:350] = np.nan  # 300 points, context 64: some points see no observed value
    out = TSPulseImputer(pretrained=TINY, stride=16).fit_transform(gapped)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out[150:250], x[150:250], atol=1e-6)


def test_all_nan_channel_is_rejected():
    x = _sine(100, 2)
    x[:, 1] = np.nan
    with pytest.raises(ValueError, match="channel 1 with no observed value"):
        TSPulseImputer(pretrained=TINY).fit(x)


def test_errors():
    x = _sine(100, 2)
    imputer = TSPulseImputer(pretrained=TINY)
    with pytest.raises(NotFittedError):
        imputer.transform(x)
    imputer.fit(x)
    with pytest.raises(ValueError, match="3 channel"):
        imputer.transform(_sine(100, 3))
    with pytest.raises(ValueError, match="dim 3|3D"):
        imputer.transform(x[None])
    with pytest.raises(ValueError, match="stride"):
        TSPulseImputer(pretrained=TINY, stride=65).fit(x)
    with pytest.raises(ValueError, match="reconstruction"):
        TSPulseImputer(pretrained=TINY, reconstruction="spline").fit(x)
    with pytest.raises(ValueError, match="batch_size"):
        TSPulseImputer(pretrained=TINY, batch_size=0).fit(x)


def test_pickle_clone_and_determinism():
    x = _with_gaps(_sine(300, 2))
    imputer = TSPulseImputer(pretrained=None, random_state=3, stride=100).fit(x)
    first = imputer.transform(x)
    restored = pickle.loads(pickle.dumps(imputer))
    np.testing.assert_allclose(restored.transform(x), first, rtol=1e-6, atol=1e-6)
    again = clone(imputer).fit(x).transform(x)
    np.testing.assert_allclose(again, first, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("reconstruction", ["fft_time", "time", "mean"])
def test_every_head_gives_a_fill(reconstruction):
    x = _with_gaps(_sine(150))
    out = TSPulseImputer(pretrained=TINY, reconstruction=reconstruction).fit_transform(x)
    assert np.isfinite(out).all()


def test_shipped_model_beats_mean_fill_on_a_sine():
    t = np.arange(1024)
    x = np.sin(2 * np.pi * t / 48) + 0.5 * np.sin(2 * np.pi * t / 17)
    gapped = x.copy()
    hidden = np.zeros_like(x, dtype=bool)
    hidden[400:440] = True
    gapped[hidden] = np.nan
    out = TSPulseImputer(stride=256).fit_transform(gapped)
    mse = np.mean((out[hidden] - x[hidden]) ** 2)
    mean_fill = np.mean((np.nanmean(gapped) - x[hidden]) ** 2)
    assert mse < 0.5 * mean_fill


def test_finetuning_on_the_observed_values_changes_the_model_deterministically():
    x = _with_gaps(_sine(200, 2))
    frozen = TSPulseImputer(pretrained=TINY).fit(x)
    tuned = TSPulseImputer(pretrained=TINY, finetune_epochs=2, random_state=0).fit(x)
    out = tuned.transform(x)
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out[~np.isnan(x)], x[~np.isnan(x)])
    assert not np.allclose(out, frozen.transform(x))
    again = clone(tuned).fit(x).transform(x)
    np.testing.assert_allclose(again, out, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="finetune_epochs"):
        TSPulseImputer(pretrained=TINY, finetune_epochs=-1).fit(x)
