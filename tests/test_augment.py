"""Tests for the DWT / simple augmentations, the pipeline and the view recipes."""

from __future__ import annotations

import time
from functools import partial

import numpy as np
import pytest
import pywt

from sslts.augment import (
    DINO_WAVELETS,
    AugmentationPipeline,
    amplitude_scale,
    channel_dropout,
    dino_views,
    dwt_band_scale,
    dwt_low_pass,
    dwt_perturb_details,
    dwt_soft_threshold,
    dwt_zero_details,
    fft_bin_mask,
    jitter,
    lejepa_views,
    random_crop,
)

DWT_FUNCS = [
    dwt_low_pass,
    dwt_soft_threshold,
    dwt_zero_details,
    dwt_perturb_details,
    dwt_band_scale,
]
RANDOM_FUNCS = [
    partial(dwt_soft_threshold, wavelet=DINO_WAVELETS),  # random only via the wavelet
    dwt_zero_details,
    dwt_perturb_details,
    dwt_band_scale,
    jitter,
    amplitude_scale,
    partial(channel_dropout, p=0.5),
    fft_bin_mask,
]
ALL_FUNCS = [dwt_low_pass, dwt_soft_threshold, *RANDOM_FUNCS]


def _name(f) -> str:
    return getattr(f, "__name__", None) or f"{f.func.__name__}{tuple(f.keywords)}"


def _batch(n=16, c=3, length=96, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, c, length)).astype(np.float32)


# --- shape, dtype, determinism -----------------------------------------------
@pytest.mark.parametrize("func", ALL_FUNCS, ids=_name)
@pytest.mark.parametrize("shape", [(8, 3, 100), (8, 100), (5, 2, 37)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shape_and_dtype_preserved(func, shape, dtype):
    X = np.random.default_rng(0).normal(size=shape).astype(dtype)
    before = X.copy()
    Y = func(X, 0)
    assert Y.shape == X.shape
    assert Y.dtype == dtype
    assert np.isfinite(Y).all()
    np.testing.assert_array_equal(X, before)  # input not modified in place


@pytest.mark.parametrize("func", RANDOM_FUNCS, ids=_name)
def test_same_seed_same_output_different_seed_differs(func):
    X = _batch()
    a = func(X, 123)
    b = func(X, np.random.default_rng(123))
    c = func(X, 124)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert not np.allclose(a, X)


def test_low_pass_is_deterministic_and_wavelet_sequence_is_seeded():
    X = _batch()
    np.testing.assert_array_equal(dwt_low_pass(X), dwt_low_pass(X, 5))
    np.testing.assert_array_equal(dwt_soft_threshold(X, 1), dwt_soft_threshold(X, 2))
    # haar vs db8 low-passes differ; the draw follows the seed
    outs = [dwt_low_pass(X, seed, wavelet=["haar", "db8"]) for seed in range(8)]
    refs = [dwt_low_pass(X, wavelet=w) for w in ("haar", "db8")]
    picked = [next(i for i, r in enumerate(refs) if np.array_equal(o, r)) for o in outs]
    assert set(picked) == {0, 1}
    np.testing.assert_array_equal(outs[3], dwt_low_pass(X, 3, wavelet=["haar", "db8"]))


def test_rng_rejects_positional_wavelet_name():
    with pytest.raises(TypeError, match="wavelet"):
        dwt_low_pass(_batch(), "db4")


# --- DWT semantics -----------------------------------------------------------
def _power(x: np.ndarray) -> np.ndarray:
    return np.abs(np.fft.rfft(x, axis=-1)) ** 2


def test_low_pass_removes_high_frequencies():
    length = 512
    t = np.arange(length)
    slow = np.sin(2 * np.pi * 4 * t / length)
    fast = np.sin(2 * np.pi * 150 * t / length)
    X = np.stack([slow + fast, 2 * slow + fast])[:, None, :].astype(np.float32)
    P_in, P_out = _power(X), _power(dwt_low_pass(X, level=3))
    assert (P_out[..., 150] < 1e-3 * P_in[..., 150]).all()
    assert (P_out[..., 4] > 0.9 * P_in[..., 4]).all()
    high = slice(length // 8, None)
    assert (P_out[..., high].sum(-1) < 1e-3 * P_in[..., high].sum(-1)).all()


def _coeffs(X, level=3):
    return pywt.wavedec(X, "db4", mode="periodization", level=level, axis=-1)


def test_soft_threshold_shrinks_details_keeps_approximation():
    X = _batch(c=2, length=256)
    Y = dwt_soft_threshold(X, 0, sigma=0.3, mode="periodization")
    cx, cy = _coeffs(X), _coeffs(Y)
    np.testing.assert_allclose(cy[0], cx[0], atol=1e-4)
    for dx, dy in zip(cx[1:], cy[1:]):
        ex, ey = (dx**2).sum(-1), (dy**2).sum(-1)
        assert (ey < 0.8 * ex).all()
        # shrinkage: magnitudes only decrease, by exactly the threshold
        thr = 0.3 * np.abs(dx).max(-1, keepdims=True)
        shrunk = np.maximum(np.abs(dx) - thr, 0)
        np.testing.assert_allclose(np.abs(dy), shrunk, atol=1e-4)
    # sigma = 1 keeps only the approximation, i.e. is the low pass
    np.testing.assert_allclose(
        dwt_soft_threshold(X, 0, sigma=1.0), dwt_low_pass(X), atol=1e-5
    )


@pytest.mark.parametrize("fraction", [0.1, 0.4, 0.75])
def test_zero_details_zeroes_requested_fraction(fraction):
    X = _batch(n=32, c=2, length=512)
    Y = dwt_zero_details(X, 1, fraction=fraction, finest_levels=2, mode="periodization")
    cx, cy = _coeffs(X), _coeffs(Y)
    # approximation and coarsest detail band (cD3) untouched
    np.testing.assert_allclose(cy[0], cx[0], atol=1e-4)
    np.testing.assert_allclose(cy[1], cx[1], atol=1e-4)
    for dx, dy in zip(cx[2:], cy[2:]):  # cD2, cD1
        zeroed = np.abs(dy) < 1e-4
        assert abs(zeroed.mean() - fraction) < 0.01
        kept = ~zeroed
        np.testing.assert_allclose(dy[kept], dx[kept], atol=1e-4)
        # the positions differ between series
        assert not (zeroed == zeroed[:1]).all()


def test_perturb_details_noise_relative_to_band_std():
    X = _batch(n=64, c=1, length=512)
    Y = dwt_perturb_details(X, 0, noise=(0.2, 0.2), mode="periodization")
    cx, cy = _coeffs(X), _coeffs(Y)
    np.testing.assert_allclose(cy[0], cx[0], atol=1e-4)
    for dx, dy in zip(cx[1:], cy[1:]):
        ratio = (dy - dx).std(-1) / dx.std(-1)
        assert abs(np.median(ratio) - 0.2) < 0.02


@pytest.mark.parametrize("wavelet", ["db4", "sym6", "haar", DINO_WAVELETS])
@pytest.mark.parametrize("length", [512, 101])
def test_band_scale_unit_range_is_identity(wavelet, length):
    X = _batch(length=length)
    Y = dwt_band_scale(X, 0, approx=(1, 1), detail=(1, 1), wavelet=wavelet)
    np.testing.assert_allclose(Y, X, atol=1e-4)


def test_band_scale_gains_within_ranges():
    X = _batch(n=64, c=2, length=512)
    Y = dwt_band_scale(X, 0, approx=(0.8, 1.2), detail=(0.4, 1.6), mode="periodization")
    cx, cy = _coeffs(X), _coeffs(Y)
    gains = [(y * x).sum(-1) / (x * x).sum(-1) for x, y in zip(cx, cy)]
    assert ((gains[0] > 0.8 - 1e-4) & (gains[0] < 1.2 + 1e-4)).all()
    for g in gains[1:]:
        assert ((g > 0.4 - 1e-4) & (g < 1.6 + 1e-4)).all()
        assert g.std() > 0.2  # each band/series draws its own gain
    assert not np.allclose(gains[1], gains[2])


# --- simple augmentations ----------------------------------------------------
def test_jitter_scale_relative_to_series_std():
    X = _batch(n=64, c=2, length=256) * np.array([1.0, 1000.0], np.float32)[:, None]
    noise = jitter(X, 0, std=0.05) - X
    rel = noise.std(-1) / X.std(-1)
    assert np.allclose(rel, 0.05, rtol=0.25)


def test_amplitude_scale_per_series():
    X = _batch(n=200)
    gain = amplitude_scale(X, 0, 0.8, 1.2) / X
    per_series = gain.reshape(len(X), -1)
    np.testing.assert_allclose(
        per_series, np.broadcast_to(per_series[:, :1], per_series.shape), rtol=1e-5
    )
    assert per_series.min() >= 0.8 - 1e-6 and per_series.max() <= 1.2 + 1e-6
    assert per_series[:, 0].std() > 0.08


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_channel_dropout_rate_and_never_all(p):
    X = np.ones((4000, 5, 16), np.float32)
    Y = channel_dropout(X, 0, p=p)
    dropped = ~Y.any(-1)
    assert ((Y == 0) | (Y == 1)).all()
    assert (dropped.sum(1) < 5).all()
    assert abs(dropped.mean() - p) < 0.02


def test_channel_dropout_extremes():
    X = np.ones((300, 3, 8), np.float32)
    Y = channel_dropout(X, 0, p=1.0)
    np.testing.assert_array_equal(Y.any(-1).sum(1), 1)  # exactly one kept
    assert len(np.unique(Y.any(-1).argmax(1))) == 3  # the kept channel is random
    np.testing.assert_array_equal(channel_dropout(X[:, :1], 0, p=0.9), X[:, :1])
    np.testing.assert_array_equal(channel_dropout(X, 0, p=0.0), X)


def test_fft_mask_keeps_dc_and_bounded_fraction():
    X = _batch(n=200, c=2, length=128) + 3.0
    Y = fft_bin_mask(X, 0, max_fraction=0.3)
    np.testing.assert_allclose(Y.mean(-1), X.mean(-1), atol=1e-4)
    spec_x, spec_y = np.fft.rfft(X, axis=-1), np.fft.rfft(Y, axis=-1)
    zeroed = (np.abs(spec_y[..., 1:]) < 1e-3) & (np.abs(spec_x[..., 1:]) > 1e-2)
    frac = zeroed.mean(-1)
    assert frac.max() <= 0.3 + 1e-9
    assert 0.1 < frac.mean() < 0.2  # U(0, 0.3) has mean 0.15
    kept = ~zeroed
    np.testing.assert_allclose(spec_y[..., 1:][kept], spec_x[..., 1:][kept], atol=1e-3)


@pytest.mark.parametrize("output_length", [None, 96, 20])
def test_random_crop(output_length):
    X = np.tile(np.arange(100, dtype=np.float32), (6, 2, 1))
    Y = random_crop(X, 0, fraction=0.4, output_length=output_length)
    assert Y.shape == (6, 2, output_length or 40)
    assert Y.dtype == np.float32
    np.testing.assert_array_equal(Y[:, 0], Y[:, 1])  # channels cropped together
    # the crop of a ramp is a ramp spanning 39 points starting at a random offset
    np.testing.assert_allclose(Y[:, 0, -1] - Y[:, 0, 0], 39, atol=1e-4)
    assert (np.diff(Y, axis=-1) > 0).all()
    assert len(np.unique(Y[:, 0, 0])) > 1


# --- degenerate input --------------------------------------------------------
@pytest.mark.parametrize("func", ALL_FUNCS, ids=_name)
@pytest.mark.parametrize(
    "X",
    [
        np.full((4, 2, 64), 3.5, np.float32),
        np.zeros((4, 2, 64), np.float32),
        np.random.default_rng(0).normal(size=(4, 2, 8)).astype(np.float32),
        np.random.default_rng(0).normal(size=(4, 2, 1)).astype(np.float32),
        np.random.default_rng(0).normal(size=(4, 9)).astype(np.float32),
    ],
    ids=["constant", "zeros", "len8", "len1", "2d-len9"],
)
def test_degenerate_series_stay_finite(func, X):
    with np.errstate(all="raise"):
        Y = func(X, 0)
    assert Y.shape == X.shape
    assert np.isfinite(Y).all()
    if np.all(X == X[..., :1]) and func not in (amplitude_scale, dwt_band_scale):
        # constant inputs carry no detail / spectrum to perturb (up to dropout;
        # the two scalings rescale the level itself)
        kept = Y.any(-1) if X.any() else np.ones(X.shape[:-1], bool)
        expected = np.broadcast_to(X, Y.shape)[kept]
        np.testing.assert_allclose(Y[kept], expected, atol=1e-4)


def test_short_series_clamp_level():
    X = _batch(length=8)
    # db4 needs 7+ points per level: level clamps to 0, details-only ops are no-ops
    np.testing.assert_array_equal(dwt_low_pass(X, level=3), X)
    # haar still has 3 levels at length 8 and removes detail
    assert not np.allclose(dwt_low_pass(X, wavelet="haar", level=10), X)


# --- pipeline ----------------------------------------------------------------
def _add_one(X, rng):
    return X + 1


def _double(X, rng):
    return X * 2


def test_pipeline_p0_identity_p1_all_steps_in_order():
    X = _batch()
    steps = [_add_one, _double, jitter]
    np.testing.assert_array_equal(AugmentationPipeline(steps, p=0.0)(X, 0), X)
    np.testing.assert_array_equal(
        AugmentationPipeline([_add_one, _double], p=1.0)(X, 0), (X + 1) * 2
    )
    Y = AugmentationPipeline([_add_one, _double], p=[1.0, 0.0])(X, 0)
    np.testing.assert_array_equal(Y, X + 1)


def test_pipeline_per_sample_application():
    X = _batch(n=1000, c=1, length=16)
    Y = AugmentationPipeline([_double], p=0.5)(X, 0)
    changed = ~np.isclose(Y, X).all(axis=(1, 2))
    np.testing.assert_array_equal(Y[changed], 2 * X[changed])
    np.testing.assert_array_equal(Y[~changed], X[~changed])
    assert 0.45 < changed.mean() < 0.55
    # two independent steps at 0.5: about a quarter of the rows get both
    Y2 = AugmentationPipeline([_add_one, _double], p=0.5)(X, 0)
    both = np.isclose(Y2, 2 * (X + 1)).all(axis=(1, 2))
    assert 0.2 < both.mean() < 0.3


def test_pipeline_seeded_and_shapes():
    pipe = AugmentationPipeline([jitter, amplitude_scale, dwt_soft_threshold], p=0.5)
    X = _batch()
    np.testing.assert_array_equal(pipe(X, 7), pipe(X, np.random.default_rng(7)))
    assert not np.array_equal(pipe(X, 7), pipe(X, 8))
    Y2 = pipe(X[:, 0], 7)
    assert Y2.shape == X[:, 0].shape and Y2.dtype == np.float32
    with pytest.raises(ValueError):
        AugmentationPipeline([jitter], p=[0.5, 0.5])
    with pytest.raises(ValueError):
        AugmentationPipeline([jitter], p=1.5)
    assert "jitter" in repr(pipe)


def test_lejepa_views():
    view1, view2 = lejepa_views(p=1.0, dwt_p=1.0)
    assert len(view1) == len(view2) == 5
    X = _batch(n=8, c=3, length=336)
    rng = np.random.default_rng(0)
    v1, v2 = view1(X, rng), view2(X, rng)
    assert v1.shape == v2.shape == X.shape and v1.dtype == np.float32
    assert not np.allclose(v1, v2) and not np.allclose(v1, X)
    assert "dwt_soft_threshold" in repr(view1) and "dwt_perturb_details" in repr(view2)


@pytest.mark.parametrize("local_length", [None, 320])
def test_dino_views(local_length):
    (g1, g2), local = dino_views(
        n_local=6, local_fraction=0.4, local_length=local_length
    )
    X = _batch(n=4, c=2, length=320)
    assert g1(X, 0).shape == g2(X, 0).shape == X.shape
    crops = local(X, 0)
    assert len(crops) == 6
    expected = local_length or 128
    assert all(c.shape == (4, 2, expected) and c.dtype == np.float32 for c in crops)
    assert all(np.isfinite(c).all() for c in crops)
    assert not np.allclose(crops[0], crops[1])
    np.testing.assert_array_equal(local(X, 3)[2], local(X, 3)[2])
    assert local(X[:, 0], 0)[0].shape == (4, expected)


# --- speed -------------------------------------------------------------------
@pytest.mark.parametrize("func", DWT_FUNCS, ids=_name)
def test_dwt_is_vectorised(func):
    X = _batch(n=256, c=1, length=512)
    start = time.perf_counter()
    func(X, 0)
    assert time.perf_counter() - start < 1.0
