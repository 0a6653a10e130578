"""Every public estimator: the same data in any supported layout gives the same output,
and everything else gets a clear error naming the layout or the value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _tiny import TINY_CHECKPOINT, TINY_JEPA
from sklearn.base import clone
from sktime.datatypes import convert_to

from sslts import (
    AnomalyPredictor,
    DeepSVDDAnomalyDetector,
    JEPAEmbedder,
    KMeansAnomalyDetector,
    TSPulseAnomalyDetector,
    TSPulseClassifier,
    TSPulseEmbedder,
    TSPulseImputer,
    TSPulseRetriever,
)
from sslts._validation import MAX_ABS_VALUE, check_panel, check_series

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = TINY_CHECKPOINT


# ------------------------------------------------------------------ panels
def _panel_estimators():
    """(id, estimator, output method, needs y) for every panel estimator."""
    return [
        ("embedder", TSPulseEmbedder(pretrained=TINY, device="cpu"), "transform", False),
        (
            "jepa",
            JEPAEmbedder(objective="lejepa", **TINY_JEPA, device="cpu", random_state=0),
            "transform",
            False,
        ),
        (
            "classifier",
            TSPulseClassifier(
                pretrained=TINY, max_epochs=1, validation_fraction=None, device="cpu",
                random_state=0,
            ),
            "predict_proba",
            True,
        ),
        (
            "retriever",
            TSPulseRetriever(embedder=TSPulseEmbedder(pretrained=TINY, device="cpu"),
                             n_neighbors=2),
            "kneighbors",
            False,
        ),
        (
            "predictor",
            AnomalyPredictor(classifier="logistic", validation_fraction=None, random_state=0),
            "predict_proba",
            True,
        ),
    ]


def _equal_length_layouts(X3d: np.ndarray) -> dict[str, object]:
    """The panel ``X3d`` in every layout users hold (sktime converts, not us)."""
    layouts = {
        "numpy3D": X3d,
        "nested_univ": convert_to(X3d, to_type="nested_univ", as_scitype="Panel"),
        "pd-multiindex": convert_to(X3d, to_type="pd-multiindex", as_scitype="Panel"),
        "df-list": convert_to(X3d, to_type="df-list", as_scitype="Panel"),
        "list of arrays": [x for x in X3d],
    }
    if X3d.shape[1] == 1:
        layouts["numpy2D"] = X3d[:, 0]
        layouts["list of pd.Series"] = [pd.Series(x[0]) for x in X3d]
        layouts["list of 1D arrays"] = [x[0] for x in X3d]
    return layouts


def _ragged_layouts(series: list[np.ndarray]) -> dict[str, object]:
    """Unequal-length series ``(n_channels, n_i)`` in every layout that can hold them."""
    frames = [pd.DataFrame(s.T) for s in series]
    layouts = {
        "list of arrays": series,
        "df-list": frames,
        "pd-multiindex": convert_to(frames, to_type="pd-multiindex", as_scitype="Panel"),
        "nested_univ": convert_to(frames, to_type="nested_univ", as_scitype="Panel"),
    }
    if series[0].shape[0] == 1:
        layouts["list of pd.Series"] = [pd.Series(s[0]) for s in series]
    return layouts


def _assert_layouts_agree(estimator, method, y, layouts, reference):
    """A fresh clone fitted on each layout gives ``method`` output equal to ``reference``'s."""
    outputs = {}
    for layout, X in layouts.items():
        out = getattr(clone(estimator).fit(X, y), method)(X)
        outputs[layout] = np.asarray(out[0] if isinstance(out, tuple) else out)
    expected = outputs.pop(reference)
    assert np.all(np.isfinite(expected))
    for layout, out in outputs.items():
        np.testing.assert_array_equal(out, expected, err_msg=layout)


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize(
    "name, estimator, method, needs_y",
    _panel_estimators(),
    ids=[e[0] for e in _panel_estimators()],
)
def test_equal_length_layouts_give_identical_output(name, estimator, method, needs_y, channels):
    rng = np.random.default_rng(1)
    X3d = np.sin(0.3 * np.arange(60) + rng.uniform(0, 6, (8, channels, 1)))
    X3d = X3d + 0.1 * rng.normal(size=X3d.shape)
    y = np.arange(8) % 2 if needs_y else None
    _assert_layouts_agree(estimator, method, y, _equal_length_layouts(X3d), "numpy3D")


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize(
    "name, estimator, method, needs_y",
    [e for e in _panel_estimators() if e[0] != "predictor"],  # windows of one length
    ids=[e[0] for e in _panel_estimators() if e[0] != "predictor"],
)
def test_ragged_layouts_give_identical_output(name, estimator, method, needs_y, channels):
    rng = np.random.default_rng(2)
    series = [rng.normal(size=(channels, 40 + 3 * i)) for i in range(8)]
    y = np.arange(8) % 2 if needs_y else None
    _assert_layouts_agree(estimator, method, y, _ragged_layouts(series), "list of arrays")


def test_gunpoint_df_list_is_read_as_150_points_not_150_channels(gunpoint):
    from sktime.datasets import load_gunpoint

    X, _ = load_gunpoint(split="train", return_type="df-list")
    emb = TSPulseEmbedder(pretrained=TINY, device="cpu").fit(X)
    assert (emb.n_features_in_, emb.n_timepoints_) == (1, 150)
    np.testing.assert_array_equal(emb.transform(X), emb.transform(gunpoint[0]))


class _Named:
    """A stand-in estimator for messages."""


@pytest.mark.parametrize(
    "X, match",
    [
        (np.zeros(50), r"X is 1D \(shape \(50,\)\).*X\[None, :\]"),
        (pd.Series(np.zeros(50)), "X is 1D"),
        ([0.0, 1.0, 2.0], "X is 1D"),
        ([], "empty list"),
        (np.zeros((2, 1, 3, 4)), "2D .* or 3D .*got shape"),
        (np.full((3, 20), 2e19), "magnitude up to 2e\\+19.*Rescale X"),
        (np.ones((3, 20), complex), "complex values"),
        ([np.ones(20, complex), np.ones(25, complex)], "complex values"),
        ([np.ones((1, 20)), np.ones((2, 25))], "same number of channels; got \\[1, 2\\]"),
        ([pd.Series(np.ones(5)), np.ones(5)], "mixing pandas objects"),
    ],
)
def test_bad_panels_get_clear_errors(X, match):
    with pytest.raises((ValueError, TypeError), match=match):
        check_panel(X, estimator=_Named(), reset=True, allow_nan=True)


def test_magnitude_limit_is_inclusive_and_outputs_stay_finite():
    X = np.random.default_rng(0).normal(size=(4, 64)) * MAX_ABS_VALUE / 5
    X[0, 0] = MAX_ABS_VALUE
    out = TSPulseEmbedder(pretrained=TINY, device="cpu").fit_transform(X)
    assert np.isfinite(out).all()
    # rows differ: the encoder sees the series' shape, not a saturated constant
    assert np.ptp(out, axis=0).max() > 0


# ------------------------------------------------------------------ series
def _series_estimators():
    return [
        ("tspulse", TSPulseAnomalyDetector(pretrained=TINY, mode="time", device="cpu"),
         "decision_function"),
        ("kmeans", KMeansAnomalyDetector(window=8, n_clusters=3, random_state=0),
         "decision_function"),
        ("deepsvdd", DeepSVDDAnomalyDetector(window=8, max_epochs=1, random_state=0,
                                             device="cpu"), "decision_function"),
        ("imputer", TSPulseImputer(pretrained=TINY, device="cpu"), "transform"),
    ]


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize(
    "name, estimator, method", _series_estimators(), ids=[e[0] for e in _series_estimators()]
)
def test_series_layouts_give_identical_output(name, estimator, method, channels):
    rng = np.random.default_rng(3)
    values = np.sin(0.4 * np.arange(200))[:, None] + 0.1 * rng.normal(size=(200, channels))
    if name == "imputer":
        values[50:55] = np.nan
    layouts = {"numpy": values, "DataFrame": pd.DataFrame(values)}
    if channels == 1:
        layouts["1D"] = values[:, 0]
        layouts["pd.Series"] = pd.Series(values[:, 0])
    outputs = {k: getattr(clone(estimator).fit(X), method)(X) for k, X in layouts.items()}
    reference = np.asarray(outputs.pop("numpy"))
    assert np.isfinite(reference).all()
    for layout, out in outputs.items():
        np.testing.assert_array_equal(np.asarray(out).reshape(reference.shape), reference,
                                      err_msg=layout)


@pytest.mark.parametrize(
    "name, estimator, method", _series_estimators(), ids=[e[0] for e in _series_estimators()]
)
def test_wide_2d_input_to_a_series_estimator_is_refused(name, estimator, method):
    with pytest.raises(ValueError, match=r"shape \(5, 1000\) as one series of 5 time.*X\.T"):
        estimator.fit(np.random.default_rng(0).normal(size=(5, 1000)))


@pytest.mark.parametrize(
    "X, match",
    [
        (np.zeros((3, 2, 50)), "panel of several series"),
        ([np.zeros(50), np.zeros(60)], "panel of several series"),
        (convert_to(np.zeros((3, 1, 20)), to_type="nested_univ", as_scitype="Panel"),
         "panel of several series"),
        (np.full(100, -3e16), "magnitude up to 3e\\+16"),
        (np.ones(100, complex), "complex values"),
        (np.zeros((100, 0)), "zero channels|0 feature"),
    ],
)
def test_bad_series_get_clear_errors(X, match):
    with pytest.raises(ValueError, match=match):
        check_series(X, estimator=_Named(), reset=True, allow_nan=True)


# ------------------------------------------------------------ no garbage out
def test_non_finite_embeddings_raise_instead_of_being_returned(monkeypatch):
    import torch

    X = np.random.default_rng(0).normal(size=(4, 64))
    emb = TSPulseEmbedder(
        pretrained=TINY, embedding="semantic", location_scale=False, views=("series",), device="cpu"
    )
    emb.fit(X)
    width = emb.transform(X).shape[1]
    monkeypatch.setattr(
        emb.model_, "embed", lambda x, observed, kind: torch.full((len(x), 1, width), np.nan)
    )
    with pytest.raises(FloatingPointError, match=r"TSPulseEmbedder\.transform produced \d+ non-finite"):
        emb.transform(X)


def test_non_finite_class_probabilities_raise(monkeypatch):
    import torch

    X = np.random.default_rng(0).normal(size=(6, 64))
    clf = TSPulseClassifier(pretrained=TINY, max_epochs=1, validation_fraction=None,
                            device="cpu", random_state=0).fit(X, np.arange(6) % 2)
    monkeypatch.setattr(clf.model_, "forward", lambda x, observed: torch.full((len(x), 2), np.inf))
    with pytest.raises(FloatingPointError, match=r"TSPulseClassifier\.predict_proba"):
        clf.predict_proba(X)


@pytest.mark.parametrize("adapter", ["transformer", "classifier"])
def test_sktime_adapters_give_identical_output_for_every_layout(adapter):
    from sslts.sktime import TSPulseSktimeClassifier, TSPulseTransformer

    rng = np.random.default_rng(4)
    X3d = rng.normal(size=(8, 2, 50))
    y = np.arange(8) % 2
    if adapter == "transformer":
        estimator, method = TSPulseTransformer(pretrained=TINY, device="cpu"), "transform"
    else:
        estimator = TSPulseSktimeClassifier(
            pretrained=TINY, max_epochs=1, validation_fraction=None, device="cpu",
            random_state=0,
        )
        method = "predict_proba"
    layouts = _equal_length_layouts(X3d)
    del layouts["list of arrays"]  # not an sktime layout
    _assert_layouts_agree(estimator, method, y, layouts, "numpy3D")
