import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import BaseEstimator

from sslts._validation import check_panel


class Dummy(BaseEstimator):
    pass


def test_2d_is_univariate_panel():
    X = np.arange(12, dtype=float).reshape(3, 4)
    est = Dummy()
    panel = check_panel(X, estimator=est, reset=True)
    assert panel.values.shape == (3, 1, 4)
    assert panel.values.dtype == np.float32
    assert panel.observed is None
    assert panel.lengths.tolist() == [4, 4, 4]
    assert est.n_features_in_ == 1
    assert est.n_timepoints_ == 4


def test_3d_keeps_channels():
    est = Dummy()
    panel = check_panel(np.zeros((2, 3, 5)), estimator=est, reset=True)
    assert panel.values.shape == (2, 3, 5)
    assert est.n_features_in_ == 3


def test_ragged_list_is_right_padded_with_mask():
    X = [np.arange(3.0), np.arange(5.0)]
    panel = check_panel(X, estimator=Dummy(), reset=True)
    assert panel.values.shape == (2, 1, 5)
    assert panel.lengths.tolist() == [3, 5]
    np.testing.assert_array_equal(panel.observed[0, 0], [1, 1, 1, 0, 0])
    assert panel.observed[1].all()
    np.testing.assert_array_equal(panel.values[0, 0], [0, 1, 2, 0, 0])


def test_ragged_multichannel_list():
    X = [np.ones((2, 3)), np.ones((2, 6))]
    panel = check_panel(X, estimator=Dummy(), reset=True)
    assert panel.values.shape == (2, 2, 6)


def test_equal_length_list_is_an_array():
    panel = check_panel([[1.0, 2.0], [3.0, 4.0]], estimator=Dummy(), reset=True)
    assert panel.values.shape == (2, 1, 2)
    assert panel.observed is None


def test_nan_becomes_unobserved_when_allowed():
    X = np.array([[1.0, np.nan, 3.0]])
    panel = check_panel(X, estimator=Dummy(), reset=True, allow_nan=True)
    np.testing.assert_array_equal(panel.observed[0, 0], [True, False, True])
    assert np.isfinite(panel.values).all()


@pytest.mark.parametrize(
    "X, error, match",
    [
        (np.array([1.0, 2.0]), ValueError, r"X is 1D \(shape \(2,\)\)"),
        (np.zeros((0, 4)), ValueError, "0 sample"),
        (np.zeros((2, 1, 0)), ValueError, "zero-length"),
        (np.zeros((2, 0, 4)), ValueError, "zero-length series or zero channels"),
        (np.zeros((2, 2, 2, 2)), ValueError, "2D .* or 3D"),
        (np.array([["a", "b"]]), ValueError, "could not convert|dtype"),
        (np.array([[1.0, np.inf]]), ValueError, "infinity"),
        (np.array([[1.0, np.nan]]), ValueError, "NaN"),
        (sp.csr_matrix(np.ones((2, 3))), TypeError, "Sparse"),
        ([np.ones(3), np.ones((2, 4))], ValueError, "same number of channels"),
        ([np.ones(3), np.ones(0)], ValueError, "minimum of 1"),
        ([np.ones(3), np.array([1.0, np.inf, 2.0, 3.0])], ValueError, "infinity"),
        ([np.ones(3), np.ones((2, 2, 2))], ValueError, "1D .* or 2D"),
    ],
)
def test_bad_input_raises_clear_errors(X, error, match):
    with pytest.raises(error, match=match):
        check_panel(X, estimator=Dummy(), reset=True)


def test_all_nan_series_is_rejected_even_when_nan_allowed():
    X = np.array([[1.0, 2.0], [np.nan, np.nan]])
    with pytest.raises(ValueError, match="no observed value.*instance 1"):
        check_panel(X, estimator=Dummy(), reset=True, allow_nan=True)


def test_channel_mismatch_after_fit():
    est = Dummy()
    check_panel(np.zeros((2, 3, 5)), estimator=est, reset=True)
    # Another length is fine (length policy), another channel count is not.
    check_panel(np.zeros((2, 3, 9)), estimator=est, reset=False)
    with pytest.raises(ValueError, match="X has 2 channel.*fitted with 3"):
        check_panel(np.zeros((2, 2, 5)), estimator=est, reset=False)
    with pytest.raises(ValueError, match="X has 1 channel.*fitted with 3"):
        check_panel(np.zeros((2, 5)), estimator=est, reset=False)


class _Est:
    pass


def test_check_series_shapes_nan_and_channels():
    from sslts._validation import check_series

    est = _Est()
    s = check_series(np.arange(5.0), estimator=est, reset=True)
    assert s.values.shape == (5, 1) and s.values.dtype == np.float32 and s.observed is None
    assert est.n_features_in_ == 1
    x = np.ones((6, 3))
    x[2, 1] = np.nan
    s = check_series(x, estimator=est, reset=True, allow_nan=True)
    assert s.observed[2, 1] == False and s.values[2, 1] == 0  # noqa: E712
    with pytest.raises(ValueError, match="NaN"):
        check_series(x, estimator=est, reset=False)
    with pytest.raises(ValueError, match="fitted with 3 channel"):
        check_series(np.ones((6, 2)), estimator=est, reset=False)
    with pytest.raises(ValueError, match="panel of several series"):
        check_series(np.ones((2, 6, 3)), estimator=est, reset=False)
    with pytest.raises(ValueError, match="at least 4 time points"):
        check_series(np.ones((3, 3)), estimator=est, reset=False, min_length=4)
    x[:, 0] = np.nan
    with pytest.raises(ValueError, match="channel 0 with no observed"):
        check_series(x, estimator=est, reset=True, allow_nan=True)
