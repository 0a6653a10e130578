"""The shape-anomaly splice generator of the anomaly development suite."""

from __future__ import annotations

import numpy as np
import pytest

from sslts.data.shape_anomalies import SHAPE_ANOMALY_KINDS, make_shape_anomaly_series

LENGTH = 40


def _data(n_per_class=(12, 5), seed=0, nan_tail=False):
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 2 * np.pi, LENGTH)
    shapes = [np.sin(t), np.sign(np.sin(2 * t))]
    X, y = [], []
    for label, (shape, n) in enumerate(zip(shapes, n_per_class)):
        for _ in range(n):
            X.append(shape + 0.05 * rng.normal(size=LENGTH))
            y.append(f"c{label}")
    X = np.array(X)
    if nan_tail:
        X[::2, -5:] = np.nan  # unequal lengths, padded with NaN
    return X, np.array(y)


def _make(kind="class", seed=0, **kw):
    X_train, y_train = _data(seed=seed)
    X_test, y_test = _data(seed=seed + 100)
    return make_shape_anomaly_series(
        X_train, y_train, X_test, y_test, kind=kind, random_state=seed, **kw
    )


@pytest.mark.parametrize("kind", SHAPE_ANOMALY_KINDS)
def test_layout_labels_and_fit_part(kind):
    s = _make(kind, n_anomalies=2)
    assert s.values.shape == (len(s.labels), 1)
    assert s.source == "UCR-splice"
    assert np.isfinite(s.values).all()
    # fit part: every normal training instance, no label
    assert s.train_end == 12 * LENGTH
    assert not s.labels[: s.train_end].any()
    # evaluation part: every normal test instance, two of them replaced
    n_eval = len(s.labels) - s.train_end
    assert n_eval == 12 * LENGTH
    segments = s.labels[s.train_end :].reshape(12, LENGTH).any(axis=1)
    assert segments.sum() == 2
    anomalous = np.flatnonzero(segments)
    assert 0 < anomalous.min() and anomalous.max() < 11  # never first nor last
    assert np.diff(anomalous).min() >= 2  # never adjacent
    per_instance = s.labels[s.train_end :].reshape(12, LENGTH).sum(axis=1)[anomalous]
    if kind == "class":
        assert (per_instance == LENGTH).all()  # the whole instance
    else:
        assert (per_instance == round(0.25 * LENGTH)).all()  # a quarter of it


def test_class_anomalies_are_instances_of_another_class():
    X_test, y_test = _data(seed=100)
    s = _make("class", n_anomalies=3)
    eval_part = s.values[s.train_end :, 0].reshape(12, LENGTH)
    anomalous = np.flatnonzero(s.labels[s.train_end :].reshape(12, LENGTH).any(axis=1))
    others = X_test[y_test == "c1"]
    for i in anomalous:
        assert np.isclose(others, eval_part[i]).all(axis=1).any()
    normal = X_test[y_test == "c0"]
    for i in set(range(12)) - set(anomalous):
        assert np.isclose(normal, eval_part[i]).all(axis=1).any()


@pytest.mark.parametrize("kind", ["warp", "noise"])
def test_warp_and_noise_change_only_the_labelled_segment(kind):
    s = _make(kind, n_anomalies=1)
    X_test, y_test = _data(seed=100)
    eval_part = s.values[s.train_end :, 0].reshape(12, LENGTH)
    labels = s.labels[s.train_end :].reshape(12, LENGTH)
    (i,) = np.flatnonzero(labels.any(axis=1))
    normal = X_test[y_test == "c0"]
    # the source instance: the normal test instance that agrees off the segment
    outside = ~labels[i].astype(bool)
    match = np.isclose(normal[:, outside], eval_part[i][outside]).all(axis=1)
    assert match.sum() == 1
    source = normal[match][0]
    changed = ~np.isclose(source, eval_part[i])
    assert changed.any() and not changed[outside].any()
    if kind == "warp":  # a re-timing: values stay within the instance's range
        assert eval_part[i].min() >= source.min() - 1e-9
        assert eval_part[i].max() <= source.max() + 1e-9


def test_seeded_and_varied():
    a, b = _make("noise", seed=3), _make("noise", seed=3)
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.labels, b.labels)
    c = make_shape_anomaly_series(
        *_data(), *_data(seed=100), kind="noise", random_state=4
    )
    assert not np.array_equal(a.labels, c.labels) or not np.array_equal(
        a.values, c.values
    )


def test_length_caps_keep_whole_instances_and_minimum_counts():
    s = _make("class", n_anomalies=2, max_fit_points=100, max_eval_points=10)
    assert s.train_end == 2 * LENGTH  # at least two fit instances
    assert len(s.labels) - s.train_end == 5 * LENGTH  # at least 2 * 2 + 1


def test_nan_padding_is_dropped():
    X, y = _data(nan_tail=True)
    s = make_shape_anomaly_series(X, y, X, y, kind="warp", random_state=0)
    assert np.isfinite(s.values).all()
    assert s.train_end == 6 * LENGTH + 6 * (LENGTH - 5)


def test_normal_class_can_be_chosen():
    X, y = _data(n_per_class=(12, 12))
    s = make_shape_anomaly_series(
        X, y, X, y, normal_class="c1", n_anomalies=1, random_state=0
    )
    fit = s.values[: s.train_end, 0].reshape(-1, LENGTH)
    assert np.isclose(X[y == "c1"][:, None], fit[None]).all(axis=2).any(axis=0).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "spike"}, "kind must be one of"),
        ({"n_anomalies": 0}, "n_anomalies must be a positive int"),
        ({"n_anomalies": 6}, "need at least 2 and 13"),
        ({"normal_class": "c9"}, "has 0 training"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    X, y = _data()
    with pytest.raises(ValueError, match=match):
        make_shape_anomaly_series(X, y, X, y, **kwargs)


def test_class_kind_needs_another_class_and_univariate_input():
    X, y = _data()
    only = y == "c0"
    with pytest.raises(ValueError, match="another class"):
        make_shape_anomaly_series(X[only], y[only], X[only], y[only])
    with pytest.raises(ValueError, match="univariate"):
        make_shape_anomaly_series(np.stack([X, X], axis=1), y, X, y)
    with pytest.raises(ValueError, match="differ in length"):
        make_shape_anomaly_series(X, y[:-1], X, y)
