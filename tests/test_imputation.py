"""TSPulseImputer: contract, values kept, NaNs filled, quality with the shipped model."""

import pickle

import numpy as np
import pandas as pd
import pytest
from _callbacks import EpochRecorder
from _tiny import TINY_CHECKPOINT as TINY
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from sslts._params import InvalidParameterError
from sslts.imputation import TSPulseImputer

# many tiny fits: torch's thread start-up would dominate
pytestmark = pytest.mark.usefixtures("one_torch_thread")

# scikit-learn's estimator checks of the imputer are in test_common.py.


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
    with pytest.raises(ValueError, match="panel of several series"):
        imputer.transform(x[None])
    # a rule across the parameter and the model (context 64)
    with pytest.raises(ValueError, match=r"stride \(65\) must be at most"):
        TSPulseImputer(pretrained=TINY, stride=65).fit(x)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"reconstruction": "spline"}, "'reconstruction' parameter of TSPulseImputer"),
        ({"batch_size": 0}, "'batch_size' parameter"),
        ({"anchor": "yes"}, "'anchor' parameter"),
        ({"stride": 0}, "'stride' parameter"),
        ({"lr": 0.0}, "'lr' parameter"),
    ],
)
def test_bad_parameters_name_themselves(params, match):
    # declared constraints, checked before the input is read
    with pytest.raises(InvalidParameterError, match=match):
        TSPulseImputer(pretrained=TINY, **params).fit(_sine(100))


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
    tuned = TSPulseImputer(pretrained=TINY, max_epochs=2, random_state=0).fit(x)
    assert len(tuned.history_) == 2 and frozen.history_ == []
    assert np.isfinite(tuned.history_[-1]["train_loss"])
    out = tuned.transform(x)
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out[~np.isnan(x)], x[~np.isnan(x)])
    assert not np.allclose(out, frozen.transform(x))
    again = clone(tuned).fit(x).transform(x)
    np.testing.assert_allclose(again, out, rtol=1e-5, atol=1e-5)
    with pytest.raises(InvalidParameterError, match="'max_epochs' parameter of TSPulseImputer"):
        TSPulseImputer(pretrained=TINY, max_epochs=-1).fit(x)


# ------------------------------------------------ input gate and outputs
def test_wide_2d_input_is_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="more channels than time points.*X.T"):
        TSPulseImputer().fit(np.random.default_rng(0).normal(size=(5, 1000)))


def test_pandas_series_and_time_major_frame_impute_like_numpy():
    x = _with_gaps(_sine(150, 2))
    index = pd.date_range("2024-01-01", periods=150, freq="h")
    expected = TSPulseImputer(pretrained=TINY).fit_transform(x)
    frame = pd.DataFrame(x, columns=["a", "b"], index=index)
    np.testing.assert_array_equal(TSPulseImputer(pretrained=TINY).fit_transform(frame), expected)
    expected_uni = TSPulseImputer(pretrained=TINY).fit_transform(x[:, 0])
    series = pd.Series(x[:, 0], index=index)
    out = TSPulseImputer(pretrained=TINY).fit_transform(series)
    assert out.shape == (150,)
    np.testing.assert_array_equal(out, expected_uni)


def test_huge_and_complex_values_are_refused():
    x = _with_gaps(_sine(100))
    with pytest.raises(ValueError, match=r"magnitude up to [0-9.]+e\+20"):
        TSPulseImputer(pretrained=TINY).fit(x * 1e20)
    with pytest.raises(ValueError, match="complex values"):
        TSPulseImputer(pretrained=TINY).fit(x + 1j)
    imputer = TSPulseImputer(pretrained=TINY).fit(x)
    with pytest.raises(ValueError, match="magnitude"):
        imputer.transform(x * 1e20)
    with pytest.raises(ValueError, match="complex values"):
        imputer.transform(x.astype(np.complex128))


def test_non_finite_fill_raises_instead_of_being_returned(monkeypatch):
    x = _with_gaps(_sine(100))
    imputer = TSPulseImputer(pretrained=TINY).fit(x)
    monkeypatch.setattr(
        TSPulseImputer, "_impute", lambda self, series: np.full(series.values.shape, np.inf)
    )
    with pytest.raises(FloatingPointError, match="TSPulseImputer.transform produced"):
        imputer.transform(x)
    # nothing is missing: nothing is filled, the input comes back
    np.testing.assert_array_equal(imputer.transform(_sine(100)), _sine(100))


# ---------------------------------------------------- scikit-learn callbacks
def test_sklearn_callbacks_see_one_subtask_per_fine_tuning_epoch():
    x = _with_gaps(_sine(200, 2))
    recorder = EpochRecorder()
    imputer = TSPulseImputer(pretrained=TINY, max_epochs=3, random_state=0)
    imputer.set_callbacks(recorder).fit(x)
    assert len(recorder.epochs) == 3 == len(imputer.history_)
    assert recorder.epochs[-1]["train_loss"] == pytest.approx(imputer.history_[-1]["train_loss"])
    # the estimator handed over after each epoch imputes with that epoch's model
    snapshot = recorder.snapshots[-1]
    np.testing.assert_allclose(snapshot.transform(x), imputer.transform(x), rtol=1e-6, atol=1e-6)


def test_a_stopping_callback_ends_fine_tuning():
    x = _with_gaps(_sine(200, 2))
    recorder = EpochRecorder(stop_after=2)
    imputer = TSPulseImputer(pretrained=TINY, max_epochs=6, random_state=0)
    imputer.set_callbacks(recorder).fit(x)
    assert len(recorder.epochs) == 2 and len(imputer.history_) == 2
    assert np.isfinite(imputer.transform(x)).all()
