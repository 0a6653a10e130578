"""AnomalyPredictor: a classifier on frozen window features with an F1-tuned threshold."""

from __future__ import annotations

import copy
import numbers
import warnings
from typing import Any, ClassVar

import numpy as np
from sklearn.base import ClassifierMixin, clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_recall_curve, roc_auc_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state, get_tags
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d

from sslts._base import BaseTorchEstimator
from sslts._params import Interval, Options
from sslts._validation import Panel
from sslts.embedding import TSPulseEmbedder
from sslts.prediction._features import WindowStatistics
from sslts.streaming import streams_memmaps

_CLASSIFIERS = ("mlp", "logistic")
#: checkpoint of the default encoder's frozen TSPulse (tests swap in a tiny one)
_DEFAULT_PRETRAINED = "default"


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


def _allows_nan(encoder: Any) -> bool:
    """Whether ``encoder`` declares NaN support (False for estimators without sklearn
    tags, e.g. sktime's, whose NaN handling is not declared that way)."""
    try:
        return bool(get_tags(encoder).input_tags.allow_nan)
    except (AttributeError, TypeError):
        return False


class AnomalyPredictor(ClassifierMixin, BaseTorchEstimator):
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
        the frozen shipped TSPulse, its embedding averaged over channels,
        followed by the per-channel :class:`WindowStatistics`:
        ``FeatureUnion([("tspulse", TSPulseEmbedder(views=("series",),
        pooling=("mean",), patch_phases=4, channel_pooling="mean")),
        ("statistics", WindowStatistics())])`` (the series view alone, average
        pooling, features averaged over 4 patch phases: the embedding it was
        chosen with), built and fitted (without labels, on the training part)
        in ``fit``. It was chosen among frozen
        self-supervised encoders on the validation parts of the SMAP and MSL
        early-warning protocol (``benchmarks/bench_anomaly_prediction.py``;
        ``docs/early_warning.md`` has the numbers and its limits). Any
        sklearn-style transformer works: :class:`WindowStatistics` alone,
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
    lr : float, default=2e-3
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
    validation_auc_ : float or None
        ROC AUC of ``predict_proba[:, 1]`` on the validation part (None
        without validation or when that part holds one class only): the
        score to compare encoders or settings on, never the test part.
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

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **BaseTorchEstimator._parameter_constraints,
        "classifier": [Options(_CLASSIFIERS)],
        "freeze_encoder": ["boolean"],
        "hidden_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "alpha": [Interval(numbers.Real, 0, None, closed="neither")],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "class_weight": [Options(("balanced",)), dict, None],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither"), None],
    }
    # the MLP's epochs are sklearn's own loop, not reported as callback subtasks
    _epoch_subtasks = False

    def __init__(
        self,
        encoder: Any = None,
        freeze_encoder: bool = True,
        classifier: str = "mlp",
        hidden_size: int = 64,
        alpha: float = 1e-3,
        lr: float = 2e-3,
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
        self.lr = lr
        self.max_epochs = max_epochs
        self.class_weight = class_weight
        self.validation_fraction = validation_fraction
        self.batch_size = batch_size
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        # NaN reaches the encoder as missing values: allowed when the encoder allows it
        # (the default's WindowStatistics does not).
        tags.input_tags.allow_nan = self.encoder is not None and _allows_nan(self.encoder)
        return tags

    def _head(self, n_train: int, seed: int) -> Any:
        if self.classifier == "logistic":
            head = LogisticRegression(C=1.0 / (self.alpha * n_train), max_iter=5000)
        else:
            head = MLPClassifier(
                hidden_layer_sizes=(self.hidden_size,),
                alpha=self.alpha,
                learning_rate_init=self.lr,
                max_iter=self.max_epochs,
                batch_size=min(self.batch_size, n_train),
                n_iter_no_change=self.max_epochs,
                random_state=seed,
                verbose=bool(self.verbose),
            )
        return make_pipeline(StandardScaler(), head)

    @staticmethod
    def _default_encoder() -> Any:
        """The unfitted encoder that ``encoder=None`` stands for (see the class docstring)."""
        return FeatureUnion(
            [
                (
                    "tspulse",
                    TSPulseEmbedder(
                        pretrained=_DEFAULT_PRETRAINED,
                        views=("series",),
                        pooling=("mean",),
                        patch_phases=4,
                        channel_pooling="mean",
                    ),
                ),
                ("statistics", WindowStatistics()),
            ]
        )

    def _fit_encoder(self, X: np.ndarray, seed: int) -> Any:
        encoder = self._default_encoder() if self.encoder is None else self.encoder
        if self.freeze_encoder and self.encoder is not None and _is_fitted(encoder):
            return copy.deepcopy(encoder)
        encoder = clone(encoder)
        params = encoder.get_params(deep=False)
        if "random_state" in params and params["random_state"] is None:
            encoder.set_params(random_state=seed)
        return encoder.fit(X)

    def _check_y(self, y: Any, panel: Panel) -> np.ndarray:
        if y is None:
            raise ValueError(
                "AnomalyPredictor requires y to be passed, but the target y is None"
            )
        y = column_or_1d(y, warn=True)
        if len(y) != panel.n_instances:
            raise ValueError(
                f"y must hold one label per window ({panel.n_instances}); got {len(y)}"
            )
        if len(y) < 2:
            raise ValueError(
                f"AnomalyPredictor needs several windows, got n_samples = {len(y)}"
            )
        check_classification_targets(y)
        y_type = type_of_target(y, input_name="y")
        if y_type != "binary":
            raise ValueError(
                "Only binary classification is supported (anomaly in the next window or "
                f"not). The type of the target is {y_type}."
            )
        return y

    def _fit(self, panel: Panel, y: np.ndarray) -> None:
        X_values = panel.to_input()
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            raise ValueError(
                "AnomalyPredictor needs both classes (normal and anomalous next windows); "
                f"got only {self.classes_}"
            )
        y01 = (y == self.classes_[1]).astype(np.int64)
        n = len(y01)
        n_val = (
            0
            if self.validation_fraction is None
            else int(round(n * self.validation_fraction))
        )
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
                features[:n_train],
                y01[:n_train],
                **{f"{head_name}__sample_weight": weights},
            )
        self.threshold_, self.validation_f1_, self.validation_auc_ = 0.5, None, None
        if n_val:
            proba = self.classifier_.predict_proba(features[n_train:])[:, 1]
            self.threshold_, self.validation_f1_ = best_f1_threshold(
                y01[n_train:], proba
            )
            if len(np.unique(y01[n_train:])) == 2:
                self.validation_auc_ = float(roc_auc_score(y01[n_train:], proba))

    def _features(self, X: np.ndarray) -> np.ndarray:
        features = np.asarray(self.encoder_.transform(X), dtype=np.float64)
        if features.ndim != 2 or len(features) != len(X):
            raise ValueError(
                f"the encoder must return 2D features, one row per window; got shape "
                f"{features.shape} for {len(X)} windows"
            )
        return features

    # ------------------------------------------------------------- inference
    @streams_memmaps
    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities that the next window is normal / anomalous.

        A ``np.memmap`` larger than one chunk is predicted chunk by chunk
        (:func:`sslts.streaming.stream_transform`), and so is it by
        :meth:`decision_function` and :meth:`predict`: bounded memory, the
        same output.

        Parameters
        ----------
        X : array-like of shape (n_windows, n_timepoints) or (n_windows, n_channels, n_timepoints)
            Context windows.

        Returns
        -------
        ndarray of shape (n_windows, 2)
        """
        check_is_fitted(self)
        panel = self._check_X(X, reset=False)
        if panel.values.shape[2] != self.n_timepoints_:
            raise ValueError(
                f"X has windows of {panel.values.shape[2]} time points, but AnomalyPredictor "
                f"was fitted on windows of {self.n_timepoints_}"
            )
        proba = self.classifier_.predict_proba(self._features(panel.to_input()))
        return self._finite(proba, "predict_proba")

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
        f1 = np.where(
            precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0
        )
    best = int(np.argmax(f1[:-1]))
    lowest_positive = thresholds[best]
    below = scores[scores < lowest_positive]
    cut = (
        (lowest_positive + below.max()) / 2
        if len(below)
        else np.nextafter(lowest_positive, -np.inf)
    )
    return float(cut), float(f1[best])
