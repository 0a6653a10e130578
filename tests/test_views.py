import numpy as np
import pytest
from _tiny import TINY_CHECKPOINT as TINY

from sslts import TSPulseEmbedder
from sslts._params import InvalidParameterError
from sslts._validation import check_panel
from sslts.data.views import VIEWS, coarsen, differences, drop_last, panel_view


def _nan_panel(values: list[list[float]]):
    """A univariate ragged panel from lists (NaN allowed)."""
    series = [np.array([v], dtype=np.float32) for v in values]
    return check_panel(series, estimator=None, reset=False, allow_nan=True)


def test_coarsen_averages_observed_points_of_each_block():
    panel = _nan_panel([[1.0, 3.0, np.nan, 5.0, 7.0], [2.0, np.nan, np.nan]])
    coarse = coarsen(panel, 2)
    assert coarse.lengths.tolist() == [3, 2]
    assert coarse.values.shape == (2, 1, 3)
    np.testing.assert_allclose(coarse.values[0, 0], [2.0, 5.0, 7.0])
    np.testing.assert_allclose(coarse.values[1, 0, :1], [2.0])
    # the second block of the short series is all missing, the third is padding
    assert coarse.observed[0, 0].tolist() == [True, True, True]
    assert coarse.observed[1, 0].tolist() == [True, False, False]


def test_coarsen_by_one_is_identity_and_rejects_zero():
    panel = _nan_panel([[1.0, 2.0]])
    assert coarsen(panel, 1) is panel
    with pytest.raises(ValueError, match="factor must be at least 1"):
        coarsen(panel, 0)


def test_differences_need_both_points_and_keep_lengths_of_short_series():
    panel = _nan_panel([[1.0, 4.0, np.nan, 6.0, 10.0], [3.0], [5.0, 2.0]])
    diff = differences(panel)
    assert diff.lengths.tolist() == [4, 1, 1]
    np.testing.assert_allclose(diff.values[0, 0, [0, 3]], [3.0, 4.0])
    assert diff.observed[0, 0].tolist() == [True, False, False, True]
    # one point: a single observed 0; two points: one difference
    assert diff.values[1, 0, 0] == 0 and diff.observed[1, 0, 0]
    assert diff.values[2, 0, 0] == -3 and diff.observed[2, 0, 0]
    assert not diff.observed[1, 0, 1:].any() and not diff.observed[2, 0, 1:].any()


def test_complete_panel_views_stay_complete():
    values = np.arange(12, dtype=np.float32).reshape(2, 1, 6)
    panel = check_panel(values, estimator=None, reset=False)
    assert coarsen(panel, 2).observed is None
    assert differences(panel).observed is None
    np.testing.assert_array_equal(differences(panel).values, np.ones((2, 1, 5)))


def test_panel_view_rejects_unknown_names():
    panel = _nan_panel([[1.0, 2.0]])
    assert panel_view(panel, "series") is panel
    with pytest.raises(ValueError, match="view must be one of"):
        panel_view(panel, "fourier")


def test_embedder_views_are_the_single_view_embeddings_of_the_transformed_series(panel):
    X = panel[:, :, :60]
    half = X.reshape(*X.shape[:2], 30, 2).mean(-1)
    diff = np.diff(X, axis=-1)
    single = {"standardize": False, "views": ("series",), "pretrained": TINY, "patch_phases": 1}
    Z = TSPulseEmbedder(pretrained=TINY, standardize=False, patch_phases=1).fit(X).transform(X)
    parts = [TSPulseEmbedder(**single).fit(v).transform(v) for v in (X, half, diff)]
    width = parts[0].shape[1] // X.shape[1]
    # per channel: the views in order (series, half, diff)
    expected = np.concatenate(
        [p.reshape(len(X), X.shape[1], width) for p in parts], axis=-1
    ).reshape(len(X), -1)
    np.testing.assert_allclose(Z, expected, atol=1e-5)
    assert VIEWS == ("series", "half", "diff")


@pytest.mark.parametrize("views", [(), ("series", "series"), ("half", "wavelet"), "series"])
def test_embedder_rejects_bad_views(panel, views):
    with pytest.raises(InvalidParameterError, match="views"):
        TSPulseEmbedder(pretrained=TINY, views=views).fit(panel)


def test_drop_last_shortens_every_series_but_keeps_two_points():
    panel = _nan_panel([[1.0, 2.0, np.nan, 4.0, 5.0], [6.0, 7.0, 8.0], [9.0]])
    short = drop_last(panel, 2)
    assert short.lengths.tolist() == [3, 2, 1]
    assert short.values.shape == (3, 1, 3)
    np.testing.assert_allclose(short.values[0, 0], [1.0, 2.0, 0.0])
    assert short.observed[0, 0].tolist() == [True, True, False]
    assert short.observed[1, 0].tolist() == [True, True, False]
    assert short.observed[2, 0].tolist() == [True, False, False]
    assert drop_last(panel, 0) is panel
    with pytest.raises(ValueError, match="n_points must be at least 0"):
        drop_last(panel, -1)


def test_embedder_patch_phases_average_the_embeddings_of_shortened_series(panel):
    X = panel[:, :, :60]
    raw = {"pretrained": TINY, "standardize": False}
    Z = TSPulseEmbedder(**raw, patch_phases=4).fit(X).transform(X)
    single = TSPulseEmbedder(**raw, patch_phases=1).fit(X)
    # the tiny checkpoint's patches are 8 points: phases drop 0, 2, 4 and 6 points
    expected = np.mean([single.transform(X[..., : 60 - s]) for s in (0, 2, 4, 6)], axis=0)
    np.testing.assert_allclose(Z, expected, atol=1e-5)
    assert not np.allclose(Z, single.transform(X), atol=1e-3)


@pytest.mark.parametrize("phases", [0, 1.5, "8"])
def test_embedder_rejects_bad_patch_phases(panel, phases):
    with pytest.raises(InvalidParameterError, match="patch_phases"):
        TSPulseEmbedder(pretrained=TINY, patch_phases=phases).fit(panel)


def test_embedder_patch_phases_cannot_exceed_the_patch_length(panel):
    with pytest.raises(ValueError, match=r"patch_phases \(9\) must be at least 1 and at most .* patch_length \(8\)"):
        TSPulseEmbedder(pretrained=TINY, patch_phases=9).fit(panel)
