"""Early-warning anomaly prediction: will the *next* window hold an anomaly?

The protocol follows MTS-JEPA (Appendix B.4 of the paper): a series is cut into
non-overlapping context windows; the example for window ``t`` is the pair
``(X_t, y_{t+1})`` where ``y_{t+1}`` says whether the following (target) window
contains at least one anomalous point. Windows are split chronologically
(6:2:2 by default), a classifier is trained on features of the context windows,
its decision threshold is chosen on the validation part to maximise F1, and
window-level F1 and ROC AUC are reported on the test part.

Public API
----------
* :func:`make_prediction_windows` and :func:`chronological_split` build the
  protocol's examples;
* :class:`AnomalyPredictor` is the classifier: any scikit-learn transformer
  (``WindowStatistics``, :class:`sslts.TSPulseEmbedder`, a JEPA embedder,
  MiniRocket, a :class:`WindowScorer`...) produces the features;
* :class:`WindowStatistics` (per-channel mean, std, min, max and slope) is the
  simple baseline featuriser and the default encoder;
* :class:`WindowScorer` turns a point-level anomaly detector (series in, one
  score per time point out, e.g. ``sslts.anomaly.KMeansAnomalyDetector``) into
  a window-level score, which is how detection baselines enter the protocol.
"""

from __future__ import annotations

import copy
import numbers
import warnings
from typing import Any

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    TransformerMixin,
    clone,
)
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_recall_curve
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d

from sslts._params import check_choice, check_fraction, check_int, check_positive
from sslts._validation import check_panel

__all__ = [
    "AnomalyPredictor",
    "best_f1_threshold",
    "WindowScorer",
    "WindowStatistics",
    "chronological_split",
    "make_precursor_series",
    "make_prediction_windows",
]

_CLASSIFIERS = ("mlp", "logistic")
_REDUCTIONS = ("mean", "max")


# ------------------------------------------------------------------ protocol
def make_prediction_windows(
    series: Any,
    labels: Any,
    context: int = 100,
    horizon: int = 100,
    stride: int = 100,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut a labelled series into (context window, next-window label) pairs.

    Pair ``i`` starts at ``s = i * stride``: its context window is
    ``series[s : s + context]`` and its label is 1 if any point of
    ``labels[s + context : s + context + horizon]`` is anomalous. With the
    defaults (100/100/100) the context windows are consecutive and
    non-overlapping and each label belongs to the next context window, as in
    the MTS-JEPA protocol. Trailing points that do not fill a whole pair are
    dropped.

    Parameters
    ----------
    series : array-like of shape (n_timepoints,) or (n_timepoints, n_channels)
        The series, time along the first axis. NaN is kept (for encoders that
        mask missing values); infinite values are rejected.
    labels : array-like of shape (n_timepoints,)
        Point labels, 0 (normal) or 1 (anomalous), aligned with ``series``.
    context : int, default=100
        Length of the context (input) window.
    horizon : int, default=100
        Length of the target window whose label is predicted.
    stride : int, default=100
        Step between the starts of consecutive pairs.

    Returns
    -------
    X : ndarray of shape (n_pairs, n_channels, context), float32
        Context windows as a panel.
    y : ndarray of shape (n_pairs,), int64
        1 where the target window following the context holds an anomaly.

    Raises
    ------
    ValueError
        For a series of more than 2 dimensions, labels that are not a 1D 0/1
        array of the series' length, non-positive window sizes, or a series
        shorter than ``context + horizon``.

    Examples
    --------
    >>> import numpy as np
    >>> series = np.arange(10.0)
    >>> labels = np.array([0, 0, 0, 0, 0, 1, 0, 0, 0, 0])
    >>> X, y = make_prediction_windows(series, labels, context=2, horizon=2, stride=2)
    >>> X[:, 0]
    array([[0., 1.],
           [2., 3.],
           [4., 5.],
           [6., 7.]], dtype=float32)
    >>> y
    array([0, 1, 0, 0])
    """
    for name, value in (("context", context), ("horizon", horizon), ("stride", stride)):
        check_int(name, value, 1)
    values = np.asarray(series)
    if values.ndim not in (1, 2):
        raise ValueError(
            "series must have shape (n_timepoints,) or (n_timepoints, n_channels); "
            f"got shape {values.shape}"
        )
    values = check_array(
        values.reshape(len(values), -1),
        dtype=np.float32,
        ensure_all_finite="allow-nan",
        ensure_min_samples=1,
        input_name="series",
    )
    y_points = np.asarray(labels)
    if y_points.ndim != 1 or len(y_points) != len(values):
        raise ValueError(
            f"labels must be a 1D array with one label per time point ({len(values)}); "
            f"got shape {y_points.shape}"
        )
    if not np.isin(y_points, (0, 1)).all():
        raise ValueError("labels must hold only 0 (normal) and 1 (anomalous)")
    n_timepoints = len(values)
    n_pairs = (n_timepoints - context - horizon) // stride + 1
    if n_timepoints < context + horizon:
        raise ValueError(
            f"the series has {n_timepoints} time points, fewer than one context + "
            f"horizon pair ({context} + {horizon})"
        )
    starts = np.arange(n_pairs) * stride
    X = np.stack([values[s : s + context].T for s in starts])
    y = np.array(
        [int(y_points[s + context : s + context + horizon].any()) for s in starts],
        dtype=np.int64,
    )
    return X, y


def chronological_split(
    X: Any, y: Any, ratios: tuple[float, float, float] = (0.6, 0.2, 0.2)
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split examples into train, validation and test parts in time order.

    Nothing is shuffled: the first ``ratios[0]`` of the examples train, the
    next ``ratios[1]`` validate, the rest test. The boundaries are
    ``round(n * ratios[0])`` and ``round(n * (ratios[0] + ratios[1]))``.

    Parameters
    ----------
    X : array-like of shape (n_examples, ...)
        Examples in time order (e.g. from :func:`make_prediction_windows`).
    y : array-like of shape (n_examples,)
        Their labels.
    ratios : tuple of three positive floats summing to 1, default=(0.6, 0.2, 0.2)
        Fractions for train, validation and test.

    Returns
    -------
    X_train, X_val, X_test, y_train, y_val, y_test : ndarray
        Ordered like :func:`sklearn.model_selection.train_test_split`.

    Raises
    ------
    ValueError
        If ``X`` and ``y`` differ in length, the ratios are not three positive
        numbers summing to 1, or a part would be empty.

    Examples
    --------
    >>> import numpy as np
    >>> X_tr, X_va, X_te, y_tr, y_va, y_te = chronological_split(np.arange(10), np.arange(10))
    >>> X_tr, X_va, X_te
    (array([0, 1, 2, 3, 4, 5]), array([6, 7]), array([8, 9]))
    """
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X and y differ in length: {len(X)} vs {len(y)}")
    if (
        len(ratios) != 3
        or not all(isinstance(r, numbers.Real) and r > 0 for r in ratios)
        or not np.isclose(sum(ratios), 1.0)
    ):
        raise ValueError(f"ratios must be three positive numbers summing to 1, got {ratios!r}")
    n = len(X)
    first = int(round(n * ratios[0]))
    second = int(round(n * (ratios[0] + ratios[1])))
    if not 0 < first < second < n:
        raise ValueError(
            f"{n} examples are too few to split by {tuple(ratios)}: a part would be empty"
        )
    return X[:first], X[first:second], X[second:], y[:first], y[first:second], y[second:]


def make_precursor_series(
    n_timepoints: int = 20_000,
    n_channels: int = 2,
    anomaly_every: int = 500,
    precursor_length: int = 100,
    random_state: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic series whose anomalies are announced by a variance rise.

    Every channel is a slow sine plus Gaussian noise. Anomalies (a level shift
    of 20 to 50 points on every channel) start at random times, on average one
    per ``anomaly_every`` points and at least ``2 * precursor_length + 50``
    apart. During the ``precursor_length`` points before each anomaly the
    noise of every channel grows fourfold and a fast oscillation appears: the
    planted early warning.

    Parameters
    ----------
    n_timepoints : int, default=20_000
        Length of the series.
    n_channels : int, default=2
        Number of channels.
    anomaly_every : int, default=500
        Mean spacing of anomaly starts.
    precursor_length : int, default=100
        Points of precursor before each anomaly.
    random_state : int, RandomState instance or None, default=None
        Seeds the series.

    Returns
    -------
    series : ndarray of shape (n_timepoints, n_channels), float32
    labels : ndarray of shape (n_timepoints,), int64
        1 on anomalous points (the precursors are labelled 0).

    Examples
    --------
    >>> series, labels = make_precursor_series(2_000, random_state=0)
    >>> series.shape, labels.shape, bool(labels.any())
    ((2000, 2), (2000,), True)
    """
    for name, value in (
        ("n_timepoints", n_timepoints),
        ("n_channels", n_channels),
        ("anomaly_every", anomaly_every),
        ("precursor_length", precursor_length),
    ):
        check_int(name, value, 1)
    rng = check_random_state(random_state)
    t = np.arange(n_timepoints)
    phases = rng.uniform(0, 2 * np.pi, n_channels)
    periods = rng.uniform(150, 400, n_channels)
    series = np.sin(2 * np.pi * t[:, None] / periods + phases)
    noise = 0.3 * rng.normal(size=(n_timepoints, n_channels))
    labels = np.zeros(n_timepoints, dtype=np.int64)
    gap = 2 * precursor_length + 50
    start = precursor_length + rng.randint(anomaly_every)
    while start + 50 < n_timepoints:
        duration = rng.randint(20, 51)
        pre = slice(start - precursor_length, start)
        noise[pre] *= 4.0
        series[pre] += 0.8 * np.sin(2 * np.pi * t[pre, None] / 7.0)
        series[start : start + duration] += rng.choice([-3.0, 3.0])
        labels[start : start + duration] = 1
        start += gap + rng.randint(max(1, 2 * (anomaly_every - gap)))
    return (series + noise).astype(np.float32), labels


# ---------------------------------------------------------------- featurisers
class WindowStatistics(TransformerMixin, BaseEstimator):
    """Per-channel summary statistics of each window: the simple baseline.

    For each channel: mean, standard deviation, minimum, maximum and the
    least-squares slope against the time index (value change per time step).
    Features are ordered statistic-major: all means, then all standard
    deviations, and so on.

    Attributes
    ----------
    n_features_in_ : int
        Number of channels seen in ``fit`` (1 for 2D input).
    n_timepoints_ : int
        Window length seen in ``fit`` (other lengths are accepted later).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[[0.0, 1.0, 2.0, 3.0]]])
    >>> WindowStatistics().fit_transform(X).round(3)
    array([[1.5  , 1.118, 0.   , 3.   , 1.   ]], dtype=float32)
    """

    _STATISTICS = ("mean", "std", "min", "max", "slope")

    def fit(self, X: Any, y: Any = None) -> WindowStatistics:
        """Record the channel count.

        Parameters
        ----------
        X : array-like of shape (n_windows, n_timepoints) or (n_windows, n_channels, n_timepoints)
            Windows.
        y : ignored

        Returns
        -------
        self
        """
        check_panel(X, estimator=self, reset=True)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Compute the statistics.

        Parameters
        ----------
        X : array-like of shape (n_windows, n_timepoints) or (n_windows, n_channels, n_timepoints)
            Windows with the channel count seen in ``fit``.

        Returns
        -------
        ndarray of shape (n_windows, 5 * n_channels), float32
        """
        check_is_fitted(self)
        panel = check_panel(X, estimator=self, reset=False)
        if panel.observed is not None:
            raise ValueError("WindowStatistics needs equal-length windows without NaN")
        values = panel.values.astype(np.float64)
        t = np.arange(values.shape[2], dtype=np.float64)
        t -= t.mean()
        denominator = max(float(t @ t), 1.0)
        slope = (values - values.mean(axis=2, keepdims=True)) @ t / denominator
        features = [
            values.mean(axis=2),
            values.std(axis=2),
            values.min(axis=2),
            values.max(axis=2),
            slope,
        ]
        return np.concatenate(features, axis=1).astype(np.float32)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names ``"<statistic>_<channel>"``, in output order.

        Parameters
        ----------
        input_features : ignored

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self)
        return np.array(
            [f"{s}_{c}" for s in self._STATISTICS for c in range(self.n_features_in_)],
            dtype=object,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.requires_fit = True
        return tags


class WindowScorer(TransformerMixin, BaseEstimator):
    """Score each window with a point-level anomaly detector: one feature per window.

    The detector follows the series-in, point-scores-out convention of
    :mod:`sslts.anomaly` (``fit(series)``, ``decision_function(series)`` ->
    one score per time point, higher = more anomalous). ``fit`` trains a clone
    of it on the training windows joined end to end along time (the windows of
    the prediction protocol are consecutive, so this is the training stretch of
    the series); ``transform`` scores every window on its own and reduces its
    point scores to one value. Used as the ``encoder`` of
    :class:`AnomalyPredictor`, this is how detection baselines (K-Means,
    DeepSVDD) enter the early-warning protocol: the context window's
    abnormality is the warning score.

    Parameters
    ----------
    detector : estimator
        Unfitted point-level detector with ``fit`` and ``decision_function``
        taking ``(n_timepoints, n_channels)`` arrays.
    reduce : {"mean", "max"}, default="mean"
        How a window's point scores become one score.

    Attributes
    ----------
    detector_ : estimator
        The fitted clone.
    n_features_in_ : int
        Number of channels seen in ``fit``.
    """

    def __init__(self, detector: Any, reduce: str = "mean") -> None:
        self.detector = detector
        self.reduce = reduce

    def fit(self, X: Any, y: Any = None) -> WindowScorer:
        """Fit the detector on the windows joined along time.

        Parameters
        ----------
        X : array-like of shape (n_windows, n_timepoints) or (n_windows, n_channels, n_timepoints)
            Training windows in time order.
        y : ignored

        Returns
        -------
        self
        """
        check_choice("reduce", self.reduce, _REDUCTIONS)
        panel = check_panel(X, estimator=self, reset=True)
        joined = np.concatenate(list(panel.values), axis=1).T  # (n * T, C)
        self.detector_ = clone(self.detector).fit(joined)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Score each window.

        Parameters
        ----------
        X : array-like of shape (n_windows, n_timepoints) or (n_windows, n_channels, n_timepoints)
            Windows.

        Returns
        -------
        ndarray of shape (n_windows, 1)
        """
        check_is_fitted(self)
        panel = check_panel(X, estimator=self, reset=False)
        reduce = np.mean if self.reduce == "mean" else np.max
        scores = [reduce(self.detector_.decision_function(w.T)) for w in panel.values]
        return np.asarray(scores, dtype=np.float64)[:, None]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags


# ------------------------------------------------------------------ predictor
def _is_fitted(estimator: Any) -> bool:
    """Whether a sklearn or sktime estimator is fitted (sktime's carry ``is_fitted``)."""
    flag = getattr(estimator, "is_fitted", None)
    if isinstance(flag, bool):
        return flag
    try:
        check_is_fitted(estimator)
    except (NotFittedError, AttributeError, TypeError):
        return False
    return True


class AnomalyPredictor(ClassifierMixin, BaseEstimator):
    """Predict whether the next window holds an anomaly from the current one.

    ``fit(X, y)`` takes context windows in time order and the labels of their
    *next* windows (see :func:`make_prediction_windows`). The last
    ``validation_fraction`` of them (chronologically) is held out: the encoder
    features of the first part train the classifier, and the held-out part
    chooses ``threshold_``, the probability cut that maximises F1 there.
    ``predict`` applies that threshold; ``predict_proba`` gives the raw
    probabilities (for ROC AUC). Feeding ``fit`` the train and validation
    parts of :func:`chronological_split` joined together, with
    ``validation_fraction`` equal to the validation share, reproduces the
    MTS-JEPA protocol exactly.

    Parameters
    ----------
    encoder : transformer or None, default=None
        Turns a panel of windows ``(n, C, T)`` into 2D features. None means
        :class:`WindowStatistics`. Any sklearn-style transformer works:
        :class:`sslts.TSPulseEmbedder`, a JEPA embedder, sktime's MiniRocket,
        a :class:`WindowScorer` around a point-level detector.
    freeze_encoder : bool, default=True
        True: an encoder that is already fitted (e.g. pretrained on the
        channel's normal training data) is used as given (a copy is kept, it
        is not refitted); an unfitted one is cloned and fitted once, without
        labels, on the classifier's training windows. False: the encoder is
        always cloned and fitted on those windows. Either way the encoder never
        sees the labels or the validation windows, and its weights are not
        trained by the classification loss.
    classifier : {"mlp", "logistic"}, default="mlp"
        The head on standardised features: a one-hidden-layer MLP (ReLU, Adam)
        as in the paper, or a logistic regression (the linear-probe baselines).
    hidden_size : int, default=64
        Width of the MLP's hidden layer.
    alpha : float, default=1e-3
        L2 penalty of the MLP (the logistic regression uses ``C = 1 / alpha``
        scaled by the number of training windows, i.e. the same penalty).
    learning_rate : float, default=2e-3
        Adam learning rate of the MLP (the paper's downstream rate).
    max_epochs : int, default=200
        Epochs of the MLP (full passes; no early stopping, which would draw a
        random, non-chronological split).
    class_weight : "balanced", dict or None, default="balanced"
        Anomalous next windows are rare; "balanced" weights each class by the
        inverse of its frequency in the training part (sample weights), our
        counterpart of the paper's focal loss. A dict maps labels to weights;
        None weights windows equally.
    validation_fraction : float or None, default=0.25
        Last fraction of the training windows that chooses ``threshold_``
        (0.25 of train + validation is the 6:2 of a 6:2:2 split). None trains
        on every window and keeps ``threshold_ = 0.5``.
    batch_size : int, default=200
        Minibatch size of the MLP.
    random_state : int, RandomState instance or None, default=None
        Seeds the classifier (and the encoder's clone when it is fitted here
        and has a ``random_state`` parameter left at None).
    verbose : bool, default=False
        Print the MLP's loss per epoch.

    Attributes
    ----------
    encoder_ : transformer
        The fitted encoder used for features.
    classifier_ : Pipeline
        ``StandardScaler`` then the head, fitted on the training part.
    threshold_ : float
        Probability cut: ``predict`` is positive where ``predict_proba[:, 1] >
        threshold_`` (the paper's rule).
    n_timepoints_ : int
        Window length seen in ``fit``; other lengths are rejected.
    validation_f1_ : float or None
        F1 reached on the validation part with ``threshold_`` (None without
        validation).
    classes_ : ndarray of shape (2,)
        The two labels, sorted; the second is the anomalous one.
    n_features_in_ : int
        Number of channels seen in ``fit``.

    Notes
    -----
    ``decision_function`` is ``predict_proba[:, 1] - threshold_``, so it is
    positive exactly where ``predict`` says "anomaly is coming", and ranks
    windows like the probabilities.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(80, 1, 50))
    >>> y = np.tile([0, 0, 0, 1], 20)
    >>> X[y == 1] *= 3.0  # a variance rise announces the anomaly
    >>> model = AnomalyPredictor(random_state=0).fit(X, y)
    >>> model.predict_proba(X[:2]).shape
    (2, 2)
    """

    def __init__(
        self,
        encoder: Any = None,
        freeze_encoder: bool = True,
        classifier: str = "mlp",
        hidden_size: int = 64,
        alpha: float = 1e-3,
        learning_rate: float = 2e-3,
        max_epochs: int = 200,
        class_weight: str | None = "balanced",
        validation_fraction: float | None = 0.25,
        batch_size: int = 200,
        random_state: Any = None,
        verbose: bool = False,
    ) -> None:
        self.encoder = encoder
        self.freeze_encoder = freeze_encoder
        self.classifier = classifier
        self.hidden_size = hidden_size
        self.alpha = alpha
        self.learning_rate = learning_rate
        self.max_epochs = max_epochs
        self.class_weight = class_weight
        self.validation_fraction = validation_fraction
        self.batch_size = batch_size
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.classifier_tags.multi_class = False
        return tags

    # ---------------------------------------------------------------- fitting
    def _check_params(self) -> None:
        check_choice("classifier", self.classifier, _CLASSIFIERS)
        check_int("hidden_size", self.hidden_size, 1)
        check_int("max_epochs", self.max_epochs, 1)
        check_int("batch_size", self.batch_size, 1)
        check_positive("alpha", self.alpha)
        check_positive("learning_rate", self.learning_rate)
        if not (self.class_weight in ("balanced", None) or isinstance(self.class_weight, dict)):
            raise ValueError(
                f"class_weight must be 'balanced', a dict or None, got {self.class_weight!r}"
            )
        if self.validation_fraction is not None:
            check_fraction("validation_fraction", self.validation_fraction)
        if not isinstance(self.freeze_encoder, (bool, np.bool_)):
            raise ValueError(f"freeze_encoder must be True or False, got {self.freeze_encoder!r}")

    def _head(self, n_train: int, seed: int) -> Any:
        if self.classifier == "logistic":
            head = LogisticRegression(C=1.0 / (self.alpha * n_train), max_iter=5000)
        else:
            head = MLPClassifier(
                hidden_layer_sizes=(self.hidden_size,),
                alpha=self.alpha,
                learning_rate_init=self.learning_rate,
                max_iter=self.max_epochs,
                batch_size=min(self.batch_size, n_train),
                n_iter_no_change=self.max_epochs,
                random_state=seed,
                verbose=bool(self.verbose),
            )
        return make_pipeline(StandardScaler(), head)

    def _fit_encoder(self, X: np.ndarray, seed: int) -> Any:
        encoder = WindowStatistics() if self.encoder is None else self.encoder
        if self.freeze_encoder and self.encoder is not None and _is_fitted(encoder):
            return copy.deepcopy(encoder)
        encoder = clone(encoder)
        params = encoder.get_params(deep=False)
        if "random_state" in params and params["random_state"] is None:
            encoder.set_params(random_state=seed)
        return encoder.fit(X)

    def fit(self, X: Any, y: Any) -> AnomalyPredictor:
        """Fit the encoder (if needed), the classifier, and the threshold.

        Parameters
        ----------
        X : array-like of shape (n_windows, n_timepoints) or (n_windows, n_channels, n_timepoints)
            Context windows in time order.
        y : array-like of shape (n_windows,)
            Binary labels of the *next* windows (two distinct values; the
            larger one, e.g. 1 or True, marks an anomaly).

        Returns
        -------
        self

        Raises
        ------
        ValueError
            For bad parameters, non-binary ``y``, a length mismatch, or a
            training part (before the validation part) holding one class only.
        """
        self._check_params()
        panel = check_panel(X, estimator=self, reset=True, allow_nan=True)
        X_values = _restore_nan(panel)
        if y is None:
            raise ValueError("AnomalyPredictor requires y to be passed, but the target y is None")
        y = column_or_1d(y, warn=True)
        if len(y) != len(X_values):
            raise ValueError(
                f"y must hold one label per window ({len(X_values)}); got {len(y)}"
            )
        if len(y) < 2:
            raise ValueError(f"AnomalyPredictor needs several windows, got n_samples = {len(y)}")
        check_classification_targets(y)
        y_type = type_of_target(y, input_name="y")
        if y_type != "binary":
            raise ValueError(
                "Only binary classification is supported (anomaly in the next window or "
                f"not). The type of the target is {y_type}."
            )
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            raise ValueError(
                "AnomalyPredictor needs both classes (normal and anomalous next windows); "
                f"got only {self.classes_}"
            )
        y01 = (y == self.classes_[1]).astype(np.int64)
        n = len(y01)
        n_val = 0 if self.validation_fraction is None else int(round(n * self.validation_fraction))
        if self.validation_fraction is not None and not 0 < n_val < n:
            raise ValueError(
                f"{n} windows are too few for validation_fraction={self.validation_fraction}"
            )
        n_train = n - n_val
        if len(np.unique(y01[:n_train])) < 2:
            raise ValueError(
                f"the training part (first {n_train} of {n} windows) holds only one class; "
                "the classifier needs both (use more windows or a smaller validation_fraction)"
            )
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        self.encoder_ = self._fit_encoder(X_values[:n_train], seed)
        features = self._features(X_values)
        weights = (
            None
            if self.class_weight is None
            else compute_sample_weight(self.class_weight, y[:n_train])
        )
        self.classifier_ = self._head(n_train, seed)
        head_name = self.classifier_.steps[-1][0]
        with warnings.catch_warnings():
            # a fixed epoch budget is the design; convergence warnings are noise here
            warnings.filterwarnings("ignore", category=ConvergenceWarning)
            self.classifier_.fit(
                features[:n_train], y01[:n_train], **{f"{head_name}__sample_weight": weights}
            )
        self.threshold_, self.validation_f1_ = 0.5, None
        if n_val:
            proba = self.classifier_.predict_proba(features[n_train:])[:, 1]
            self.threshold_, self.validation_f1_ = best_f1_threshold(y01[n_train:], proba)
        return self

    def _features(self, X: np.ndarray) -> np.ndarray:
        features = np.asarray(self.encoder_.transform(X), dtype=np.float64)
        if features.ndim != 2 or len(features) != len(X):
            raise ValueError(
                f"the encoder must return 2D features, one row per window; got shape "
                f"{features.shape} for {len(X)} windows"
            )
        return features

    # ------------------------------------------------------------- inference
    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities that the next window is normal / anomalous.

        Parameters
        ----------
        X : array-like of shape (n_windows, n_timepoints) or (n_windows, n_channels, n_timepoints)
            Context windows.

        Returns
        -------
        ndarray of shape (n_windows, 2)
        """
        check_is_fitted(self)
        panel = check_panel(X, estimator=self, reset=False, allow_nan=True)
        if panel.values.shape[2] != self.n_timepoints_:
            raise ValueError(
                f"X has windows of {panel.values.shape[2]} time points, but AnomalyPredictor "
                f"was fitted on windows of {self.n_timepoints_}"
            )
        return self.classifier_.predict_proba(self._features(_restore_nan(panel)))

    def decision_function(self, X: Any) -> np.ndarray:
        """Anomaly probability minus ``threshold_`` (positive = warning).

        Parameters
        ----------
        X : array-like of shape (n_windows, n_timepoints) or (n_windows, n_channels, n_timepoints)
            Context windows.

        Returns
        -------
        ndarray of shape (n_windows,)
        """
        return self.predict_proba(X)[:, 1] - self.threshold_

    def predict(self, X: Any) -> np.ndarray:
        """Predict the next windows' labels with ``threshold_``.

        Parameters
        ----------
        X : array-like of shape (n_windows, n_timepoints) or (n_windows, n_channels, n_timepoints)
            Context windows.

        Returns
        -------
        ndarray of shape (n_windows,)
            Values from ``classes_``.
        """
        check_is_fitted(self)
        return self.classes_[(self.decision_function(X) > 0).astype(int)]


def _restore_nan(panel: Any) -> np.ndarray:
    """The panel's values with unobserved points back to NaN, for the encoder."""
    if panel.observed is None:
        return panel.values
    return np.where(panel.observed, panel.values, np.float32(np.nan))


def best_f1_threshold(y_true: Any, scores: Any) -> tuple[float, float]:
    """The cut ``t`` that maximises F1 of ``scores > t`` against ``y_true``.

    Every distinct score is tried as the lowest positive; the cut returned
    lies halfway between it and the next lower score (just below it when
    there is none), so the decision does not hinge on exact ties.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        0/1 labels.
    scores : array-like of shape (n,)
        Higher = more likely positive.

    Returns
    -------
    threshold : float
        The cut. 0.5 when ``y_true`` has no positive (every cut gives F1 = 0).
    f1 : float
        F1 reached with it.

    Examples
    --------
    >>> best_f1_threshold([0, 0, 1, 1], [0.1, 0.4, 0.3, 0.8])
    (0.2, 0.8)
    """
    y_true = np.asarray(y_true)
    scores = np.asarray(scores, dtype=np.float64)
    if not y_true.any():
        return 0.5, 0.0
    precision, recall, thresholds = precision_recall_curve(y_true, scores)
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    best = int(np.argmax(f1[:-1]))
    lowest_positive = thresholds[best]
    below = scores[scores < lowest_positive]
    cut = (
        (lowest_positive + below.max()) / 2
        if len(below)
        else np.nextafter(lowest_positive, -np.inf)
    )
    return float(cut), float(f1[best])
