import numpy as np
import pytest

from sslts._validation import Panel
from sslts.data.windows import context_windows, pool_windows, window_starts


def _panel(values, lengths=None, observed=None):
    values = np.asarray(values, np.float32)
    if lengths is None:
        lengths = np.full(values.shape[0], values.shape[2])
    return Panel(values, observed, np.asarray(lengths))


def test_short_series_left_padded_and_masked():
    w = context_windows(_panel(np.arange(1, 4).reshape(1, 1, 3)), context=8)
    assert w.values.shape == (1, 1, 8)
    np.testing.assert_array_equal(w.values[0, 0], [0, 0, 0, 0, 0, 1, 2, 3])
    np.testing.assert_array_equal(w.observed[0, 0], [0, 0, 0, 0, 0, 1, 1, 1])
    assert w.owner.tolist() == [0]


def test_exact_length_is_one_window():
    x = np.random.default_rng(0).normal(size=(3, 2, 8))
    w = context_windows(_panel(x), context=8)
    np.testing.assert_array_equal(w.values, x.astype(np.float32))
    assert w.observed.all()


@pytest.mark.parametrize("length, expected", [(8, [0]), (16, [0, 8]), (20, [0, 6, 12]), (9, [0, 1])])
def test_window_starts_cover_series(length, expected):
    starts = window_starts(length, 8)
    assert starts.tolist() == expected
    assert starts[-1] + 8 == max(length, 8)


def test_long_series_windows_and_ragged_order():
    values = np.zeros((2, 1, 20), np.float32)
    values[0, 0, :] = np.arange(20)
    values[1, 0, :5] = np.arange(5)
    observed = np.zeros_like(values, dtype=bool)
    observed[0] = True
    observed[1, :, :5] = True
    w = context_windows(_panel(values, [20, 5], observed), context=8)
    assert w.owner.tolist() == [0, 0, 0, 1]
    np.testing.assert_array_equal(w.values[2, 0], np.arange(12, 20))
    np.testing.assert_array_equal(w.values[3, 0, 3:], np.arange(5))
    assert not w.observed[3, 0, :3].any()


def test_pool_windows_averages_per_owner():
    emb = np.array([[1.0], [3.0], [10.0]])
    pooled = pool_windows(emb, np.array([0, 0, 1]), 2)
    np.testing.assert_allclose(pooled, [[2.0], [10.0]])
    assert pooled.dtype == np.float32


def test_sliding_windows_cover_every_point_and_average_back():
    from sslts._validation import Series
    from sslts.data.windows import points_from_windows, sliding_windows

    series = Series(np.arange(22, dtype=np.float32).reshape(11, 2), None)
    w = sliding_windows(series, length=4, stride=3)
    assert w.starts.tolist() == [0, 3, 6, 7]
    assert w.values.shape == (4, 2, 4)
    np.testing.assert_array_equal(w.values[1, 0], [6, 8, 10, 12])
    # per-point values placed back where they came from
    np.testing.assert_allclose(points_from_windows(w.values, w, per="point"), series.values)
    # one value per window: mean over covering windows
    spread = points_from_windows(np.array([0.0, 1.0, 2.0, 3.0]), w, per="window")
    assert spread.shape == (11,)
    assert spread[0] == 0 and spread[3] == 0.5 and spread[-1] == 3.0


def test_sliding_windows_left_pad_short_series():
    from sslts._validation import Series
    from sslts.data.windows import points_from_windows, sliding_windows

    series = Series(np.array([[1.0], [2.0]], np.float32), None)
    w = sliding_windows(series, length=5, stride=1)
    assert w.starts.tolist() == [-3]
    assert w.observed[0, 0].tolist() == [False, False, False, True, True]
    np.testing.assert_allclose(points_from_windows(w.values[:, 0], w, per="point"), [1.0, 2.0])
    with pytest.raises(ValueError, match="stride"):
        sliding_windows(series, length=5, stride=0)


def test_points_from_windows_is_told_what_it_gets_when_channels_equal_the_window():
    # 4 channels, windows of 4 points: (n_windows, 4) could be read either way
    from sslts._validation import Series
    from sslts.data.windows import points_from_windows, sliding_windows

    series = Series(np.arange(40, dtype=np.float32).reshape(10, 4), None)
    w = sliding_windows(series, length=4, stride=2)
    assert w.starts.tolist() == [0, 2, 4, 6]
    per_channel = np.arange(16, dtype=float).reshape(4, 4) * 10  # (n_windows, channels)
    spread = points_from_windows(per_channel, w, per="window")
    assert spread.shape == (10, 4)
    # point 0 lies in window 0 only; point 2 in windows 0 and 1, for every channel
    np.testing.assert_allclose(spread[0], per_channel[0])
    np.testing.assert_allclose(spread[2], per_channel[:2].mean(axis=0))
    np.testing.assert_allclose(spread[-1], per_channel[-1])
    # the same array read per point: (n_windows, length), one value per window point
    placed = points_from_windows(w.values[:, 1], w, per="point")
    np.testing.assert_allclose(placed, series.values[:, 1])


def test_points_from_windows_checks_its_arguments():
    from sslts._validation import Series
    from sslts.data.windows import points_from_windows, sliding_windows

    w = sliding_windows(Series(np.zeros((10, 1), np.float32), None), length=4, stride=2)
    with pytest.raises(TypeError, match="per"):
        points_from_windows(np.zeros(len(w)), w)  # per is required
    with pytest.raises(ValueError, match="per must be"):
        points_from_windows(np.zeros(len(w)), w, per="channel")
    with pytest.raises(ValueError, match="last axis = window length"):
        points_from_windows(np.zeros((len(w), 3)), w, per="point")
    with pytest.raises(ValueError, match="one row per window"):
        points_from_windows(np.zeros(len(w) + 1), w, per="window")


def test_resample_policy_interpolates_linearly_and_propagates_missing_points():
    values = np.arange(5, dtype=np.float32).reshape(1, 1, 5) ** 2  # 0 1 4 9 16
    observed = np.ones_like(values, dtype=bool)
    observed[0, 0, 2] = False
    w = context_windows(_panel(values, observed=observed), context=9, policy="resample")
    assert w.values.shape == (1, 1, 9) and w.owner.tolist() == [0]
    np.testing.assert_allclose(w.values[0, 0, ::2], [0, 1, 4, 9, 16])
    np.testing.assert_allclose(w.values[0, 0, [1, 7]], [0.5, 12.5])
    # points 3-5 interpolate from or fall on the missing point
    np.testing.assert_array_equal(w.observed[0, 0], [1, 1, 1, 0, 0, 0, 1, 1, 1])


@pytest.mark.parametrize(
    "policy, short_padded, long_windows",
    [("pad+windows", True, 3), ("pad+resample", True, 1), ("resample", False, 1)],
)
def test_policies_per_length_regime(policy, short_padded, long_windows):
    values = np.zeros((2, 1, 20), np.float32)
    values[0, 0] = np.arange(20)
    values[1, 0, :4] = [1, 2, 3, 4]
    observed = np.zeros_like(values, dtype=bool)
    observed[0] = True
    observed[1, :, :4] = True
    w = context_windows(_panel(values, [20, 4], observed), context=8, policy=policy)
    assert w.owner.tolist() == [0] * long_windows + [1]
    short = w.values[-1, 0]
    if short_padded:
        np.testing.assert_array_equal(short, [0, 0, 0, 0, 1, 2, 3, 4])
    else:
        np.testing.assert_allclose(short, np.linspace(1, 4, 8), rtol=1e-6)
    if long_windows == 1:
        np.testing.assert_allclose(w.values[0, 0], np.linspace(0, 19, 8), rtol=1e-6)


def test_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="policy must be one of"):
        context_windows(_panel(np.zeros((1, 1, 4))), context=4, policy="stretch")
