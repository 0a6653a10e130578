"""Fuzzing the input gate (:mod:`sslts._validation`) with hypothesis.

Whatever a user passes (any dtype, 0-4 dimensions, empty or one-point
series, NaN/inf, values at the magnitude cap, ragged lists, sktime's pandas
layouts, odd Python objects), the gate either returns a well-formed
float32 panel or series, or raises a ValueError/TypeError with a message;
and an embedder fitted on what the gate accepts returns finite output of the
announced shape. Most examples go to the gate directly (fast); a few go
through ``TSPulseEmbedder.fit(X).transform(X)``.

The runs are derandomised (the same examples on every run, no example
database written), so the suite stays deterministic; raise ``max_examples``
locally to fuzz harder.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from _tiny import TINY_CHECKPOINT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sslts import TSPulseEmbedder
from sslts._validation import MAX_ABS_VALUE, Panel, Series, check_panel, check_series

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# ----------------------------------------------------------------- values
EDGES = (0.0, -0.0, 1.0, -1.0, 5e-324, 1e-30, 65504.0, 3.4e38, 1e14, 9.99e14,
         MAX_ABS_VALUE, -MAX_ABS_VALUE, 1.000001 * MAX_ABS_VALUE, 1e300)
SPECIAL = (np.nan, np.inf, -np.inf)


def _values(special: bool = True) -> st.SearchStrategy[float]:
    """Floats with the interesting ones often: edges, the cap, NaN and infinities."""
    parts = [
        st.floats(-1e3, 1e3, allow_nan=False),
        st.sampled_from(EDGES),
        st.floats(allow_nan=special, allow_infinity=special),
    ]
    if special:
        parts.append(st.sampled_from(SPECIAL))
    return st.one_of(*parts)


def _float_array(shape, special: bool = True) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(np.float64, shape, elements=_values(special))


@st.composite
def numpy_inputs(draw) -> np.ndarray:
    """Arrays of 0-4 dimensions (sides 0-6) in every dtype family."""
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=6))
    kind = draw(
        st.sampled_from(["float", "int", "uint", "bool", "complex", "object", "time"])
    )
    if kind == "float":
        dtype = draw(st.sampled_from([np.float16, np.float32, np.float64]))
        with np.errstate(over="ignore"):  # what a float16 user would pass: inf
            return draw(_float_array(shape)).astype(dtype)
    if kind in ("int", "uint"):
        dtype = draw(hnp.integer_dtypes() if kind == "int" else hnp.unsigned_integer_dtypes())
        return draw(hnp.arrays(dtype, shape))
    if kind == "bool":
        return draw(hnp.arrays(np.bool_, shape))
    if kind == "time":
        dtype = draw(st.sampled_from(["datetime64[s]", "timedelta64[ms]"]))
        return draw(hnp.arrays(np.int64, shape, elements=st.integers(0, 10**9))).astype(dtype)
    if kind == "complex":
        return draw(hnp.arrays(np.complex128, shape, elements=st.complex_numbers(max_magnitude=1e3)))
    objects = st.one_of(
        _values(), st.integers(-(2**70), 2**70), st.integers(10**300, 10**400),
        st.none(), st.text(max_size=3),
        st.complex_numbers(max_magnitude=10), st.booleans(),
    )
    return draw(hnp.arrays(object, shape, elements=objects))


@st.composite
def one_series(draw, channels: int | None = None):
    """A series for a list: 1D or 2D array (or nested list), 0-9 points."""
    length = draw(st.integers(0, 9))
    if channels is None:
        channels = draw(st.sampled_from([None, 1, 2, 3]))
    shape = (length,) if channels is None else (channels, length)
    x = draw(_float_array(shape))
    return x.tolist() if draw(st.booleans()) else x


@st.composite
def ragged_inputs(draw):
    """Lists or tuples of series, usually of one channel count, sometimes not."""
    same = draw(st.booleans())
    channels = draw(st.sampled_from([None, 1, 2])) if same else None
    series = draw(st.lists(one_series(channels=channels), min_size=0, max_size=4))
    if series and draw(st.integers(0, 9)) == 0:  # a stray scalar or a nested oddity
        series.append(draw(st.sampled_from([1.0, "a", None, [[1.0, 2.0], [3.0]]])))
    return tuple(series) if draw(st.booleans()) else series


def _frame_values(draw, rows: int, columns: int) -> np.ndarray:
    return draw(_float_array((rows, columns)))


@st.composite
def pandas_inputs(draw):
    """sktime's panel layouts, well formed or slightly broken, and plain frames."""
    layout = draw(st.sampled_from(["nested_univ", "pd-multiindex", "series-list", "df-list", "plain"]))
    n = draw(st.integers(1, 4))
    channels = draw(st.integers(1, 3))
    equal = draw(st.booleans())
    common = draw(st.integers(1, 8))
    lengths = [common if equal else draw(st.integers(0, 8)) for _ in range(n)]
    if layout == "nested_univ":
        # now and then one channel of the last instance is one point longer
        longer = draw(st.integers(-1, 3 * channels))
        cells = {
            f"c{j}": [
                pd.Series(draw(_float_array((lengths[i] + (i == n - 1 and j == longer),))))
                for i in range(n)
            ]
            for j in range(channels)
        }
        frame = pd.DataFrame(cells)
        if draw(st.integers(0, 5)) == 0:  # a cell that is not a series
            frame.iat[n - 1, 0] = draw(st.sampled_from([1.0, "x", None]))
        return frame
    if layout == "pd-multiindex":
        index = pd.MultiIndex.from_tuples(
            [(i, t) for i in range(n) for t in range(lengths[i])], names=["instance", "time"]
        )
        frame = pd.DataFrame(
            _frame_values(draw, len(index), channels), index=index,
            columns=[f"c{j}" for j in range(channels)],
        )
        damage = draw(
            st.sampled_from(["none", "none", "shuffle", "duplicate", "strings", "levels", "nan"])
        )
        if damage == "shuffle" and len(frame) > 1:
            frame = frame.iloc[::-1]
        elif damage == "duplicate" and len(frame):
            frame = pd.concat([frame, frame.iloc[:1]])
        elif damage == "strings":
            frame = frame.astype(object)
            if len(frame):
                frame.iat[0, 0] = "x"
        elif damage == "levels" and len(frame):  # a third level: a hierarchical panel
            frame.index = pd.MultiIndex.from_tuples([(0, *k) for k in frame.index])
        elif damage == "nan" and len(frame):
            frame.index = pd.MultiIndex.from_tuples(
                [(np.nan, t) if k == 0 else (i, t) for k, (i, t) in enumerate(frame.index)]
            )
        return frame
    if layout == "plain" and draw(st.booleans()):  # pandas' own dtypes
        frame = pd.DataFrame(_frame_values(draw, n, common))
        column = frame.columns[0]
        kind = draw(st.sampled_from(["Float64", "Int64", "category", "string", "bool"]))
        if kind in ("Float64", "string"):
            frame[column] = frame[column].astype(kind)
        elif kind == "Int64":
            frame[column] = pd.array([1, None] * (n // 2) + [3] * (n % 2), dtype="Int64")
        elif kind == "category":
            frame[column] = pd.Categorical(["a", "b"] * (n // 2) + ["a"] * (n % 2))
        else:
            frame[column] = frame[column] > 0
        return frame
    if layout == "series-list":
        return [pd.Series(draw(_float_array((length,)))) for length in lengths]
    if layout == "df-list":
        widths = [channels if equal or i else channels + 1 for i in range(n)]
        return [
            pd.DataFrame(_frame_values(draw, length, width))
            for length, width in zip(lengths, widths)
        ]
    return pd.DataFrame(_frame_values(draw, n, common))


odd_inputs = st.sampled_from(
    [None, "abc", 3.0, {"a": 1}, [], (), [[]], [[], []], object(),
     sp.csr_matrix(np.ones((2, 3))), [np.ones(3), pd.Series(np.ones(3))],
     pd.Series(np.ones(5)), pd.DataFrame()]
)

any_input = st.one_of(numpy_inputs(), ragged_inputs(), pandas_inputs(), odd_inputs)


# ------------------------------------------------------------------- checks
def _assert_clear(exc: Exception) -> None:
    assert isinstance(exc, (ValueError, TypeError)), f"{type(exc).__name__}: {exc}"
    assert str(exc).strip(), "an error without a message"


def _gate_panel(X, allow_nan: bool) -> Panel | None:
    """The panel of ``X``, or None after checking that the refusal is a clear error."""
    est = TSPulseEmbedder(pretrained=TINY_CHECKPOINT)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            panel = check_panel(X, estimator=est, reset=True, allow_nan=allow_nan)
    except Exception as exc:  # noqa: BLE001 - the type is what is checked
        _assert_clear(exc)
        return None
    values, observed, lengths = panel.values, panel.observed, panel.lengths
    assert values.dtype == np.float32 and values.ndim == 3 and min(values.shape) >= 1
    assert np.isfinite(values).all()
    assert np.abs(values).max() <= MAX_ABS_VALUE * (1 + 1e-6)
    assert lengths.shape == (values.shape[0],)
    assert (lengths >= 1).all() and lengths.max() == values.shape[2]
    if observed is not None:
        assert observed.dtype == bool and observed.shape == values.shape
        assert (values[~observed] == 0).all()
        assert observed.any(axis=2).all()  # every channel of every series has a value
    if not allow_nan:
        # without NaN, only padding is unobserved
        padding = np.arange(values.shape[2]) >= lengths[:, None, None]
        assert observed is None or (observed == ~padding).all()
    assert est.n_features_in_ == values.shape[1]
    assert est.n_timepoints_ == lengths.max()
    return panel


@settings(FUZZ, max_examples=1000)
@given(X=any_input, allow_nan=st.booleans())
def test_panel_gate_returns_a_panel_or_a_clear_error(X, allow_nan):
    # _gate_panel checks the refusal's type and message, or every property of the panel
    panel = _gate_panel(X, allow_nan)
    assert panel is None or isinstance(panel, Panel)


@settings(FUZZ, max_examples=400)
@given(X=st.one_of(numpy_inputs(), pandas_inputs(), odd_inputs), allow_nan=st.booleans())
def test_series_gate_returns_a_series_or_a_clear_error(X, allow_nan):
    est = TSPulseEmbedder()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            series = check_series(X, estimator=est, reset=True, allow_nan=allow_nan)
    except Exception as exc:  # noqa: BLE001 - the type is what is checked
        _assert_clear(exc)
        return
    assert isinstance(series, Series)
    values, observed = series.values, series.observed
    assert values.dtype == np.float32 and values.ndim == 2
    assert 1 <= values.shape[1] <= values.shape[0]
    assert np.isfinite(values).all()
    if observed is not None:
        assert allow_nan and observed.shape == values.shape
        assert (values[~observed] == 0).all() and observed.any(axis=0).all()


small_panels = st.one_of(
    hnp.arrays(np.float64, st.sampled_from([(1, 1), (2, 5), (3, 1, 1), (2, 2, 70), (1, 3, 9)]),
               elements=_values()),
    ragged_inputs(),
    pandas_inputs(),
)


def _embed(X, other):
    """``fit(X).transform(other)`` of a tiny embedder, warnings silenced."""
    est = TSPulseEmbedder(pretrained=TINY_CHECKPOINT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X)
        return est, est.transform(other)


@settings(FUZZ, max_examples=80)
@given(X=small_panels, other=small_panels)
def test_embedder_output_is_finite_with_the_announced_shape(X, other):
    panel = _gate_panel(X, allow_nan=True)
    try:
        est, Z = _embed(X, X)
    except Exception as exc:  # noqa: BLE001 - the type is what is checked
        assert panel is None, f"the gate accepted X, fit/transform raised {exc!r}"
        _assert_clear(exc)
        return
    assert panel is not None
    assert Z.dtype == np.float32
    assert Z.shape == (panel.n_instances, est._n_features_out)
    assert np.isfinite(Z).all()
    # another panel: embedded alike, or refused clearly (e.g. other channels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            Z = est.transform(other)
    except Exception as exc:  # noqa: BLE001 - the type is what is checked
        _assert_clear(exc)
        return
    assert Z.shape[1] == est._n_features_out and np.isfinite(Z).all()


# ----------------------------------------------------- regressions (fuzzing)
def test_nested_frame_with_a_cell_that_is_not_a_series_is_refused():
    # sktime's check accepts it, its conversion then fails with AttributeError
    X = pd.DataFrame({"c0": [pd.Series([1.0, 2.0]), pd.Series([0.0, 1.0]), 1.0]})
    with pytest.raises(TypeError, match="row 2, column 'c0' is a float"):
        check_panel(X, estimator=TSPulseEmbedder(), reset=True)


def test_nested_frame_with_channels_of_different_lengths_is_refused():
    # sktime converted it by cutting channel b to channel a's length (data lost)
    X = pd.DataFrame(
        {"a": [pd.Series([1.0, 2.0, 3.0])], "b": [pd.Series([10.0, 20.0, 30.0, 40.0, 50.0])]}
    )
    with pytest.raises(ValueError, match=r"channels of row 0 differ in length \(\[3, 5\]\)"):
        check_panel(X, estimator=TSPulseEmbedder(), reset=True, allow_nan=True)


def test_python_integers_beyond_the_float_range_are_a_value_error():
    X = np.array([[10**400, 1, 2]], dtype=object)  # was an OverflowError
    with pytest.raises(ValueError, match="too large for a float"):
        check_panel(X, estimator=TSPulseEmbedder(), reset=True)
    with pytest.raises(ValueError, match="too large for a float"):
        check_series(X[0], estimator=TSPulseEmbedder(), reset=True)


@pytest.mark.parametrize("dtype", ["datetime64[D]", "timedelta64[s]"])
def test_dates_as_values_are_refused(dtype):
    X = np.arange(6).reshape(2, 3).astype(dtype)  # was read as numbers of days/seconds
    with pytest.raises(ValueError, match="datetime64/timedelta64"):
        check_panel(X, estimator=TSPulseEmbedder(), reset=True)
    frame = pd.DataFrame({"when": pd.date_range("2020", periods=4), "value": np.arange(4.0)})
    with pytest.raises(ValueError, match="datetime64/timedelta64"):
        check_series(frame, estimator=TSPulseEmbedder(), reset=True)


def test_multiindex_with_three_levels_or_missing_labels_is_named():
    index = pd.MultiIndex.from_tuples([(0, 0, 0), (0, 0, 1), (0, 1, 0), (0, 1, 1)])
    with pytest.raises(ValueError, match="index has 3 levels, not 2"):
        check_panel(pd.DataFrame({"a": np.arange(4.0)}, index=index), estimator=TSPulseEmbedder(), reset=True)
    index = pd.MultiIndex.from_tuples([(0, 0), (0, np.nan), (1, 0), (1, 1)])
    with pytest.raises(ValueError, match="labels are missing"):
        check_panel(pd.DataFrame({"a": np.arange(4.0)}, index=index), estimator=TSPulseEmbedder(), reset=True)


def test_ragged_nested_lists_get_a_message_about_ragged_series():
    for X in ([[[1.0, 2.0], [3.0]], [1.0, 2.0]], [range(5), range(3)]):
        with pytest.raises(ValueError, match="differ in length"):
            check_panel(X, estimator=TSPulseEmbedder(), reset=True)
