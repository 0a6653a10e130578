"""Thin sktime adapters over the sslts estimators, for sktime pipelines and benchmarks.

Each adapter mirrors the parameters of the scikit-learn-style estimator it
wraps, builds that estimator in ``fit`` and delegates to it; sktime handles
the input formats (pandas, nested, multi-index...) and hands over either a
numpy3D array or, for unequal-length panels, a list of DataFrames (``df-list``),
which the wrapped estimators read directly (:mod:`sslts._validation`).

All adapters keep the ``_parent_callback_ctx`` attribute that scikit-learn
(>= 1.9) meta-estimators such as :class:`sklearn.pipeline.Pipeline` set on
their steps: sktime's ``fit`` starts with ``reset()``, which would otherwise
delete it and make the enclosing ``Pipeline.fit`` fail (see ``docs/sktime.md``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sktime.classification.base import BaseClassifier
from sktime.detection.base import BaseDetector
from sktime.transformations.base import BaseTransformer

from sslts.anomaly import TSPulseAnomalyDetector
from sslts.classification import TSPulseClassifier
from sslts.embedding import TSPulseEmbedder

__all__ = ["TSPulseSktimeAnomalyDetector", "TSPulseSktimeClassifier", "TSPulseTransformer"]

#: Attributes set on an estimator from outside that sktime's ``reset`` must not delete.
_KEPT_ON_RESET = ("_parent_callback_ctx",)

_COMMON_TAGS = {
    "authors": ["sslts developers"],
    "maintainers": ["sslts developers"],
    "python_dependencies": ["torch", "skorch"],
    "capability:random_state": True,
    "property:randomness": "derandomized",
}


class _SsltsAdapterMixin:
    """Shared behaviour of the adapters: build the wrapped estimator, survive ``reset``.

    ``_wrapped_class`` is the sslts estimator; the adapter's ``__init__`` lists
    exactly its parameters (checked by the tests), so ``get_params`` of the
    adapter can be passed on unchanged.
    """

    _wrapped_class: type
    #: Parameter sets of :meth:`get_test_params`, each applied over the tiny model.
    _test_variants: tuple[dict[str, Any], ...] = ({},)

    def reset(self) -> Any:
        """Reset to the post-init state, keeping a scikit-learn parent callback context.

        Returns
        -------
        self
        """
        kept = {name: self.__dict__[name] for name in _KEPT_ON_RESET if name in self.__dict__}
        super().reset()  # type: ignore[misc]
        self.__dict__.update(kept)
        return self

    def _wrapped(self) -> Any:
        """An unfitted wrapped estimator with the adapter's parameters."""
        return self._wrapped_class(**self.get_params(deep=False))  # type: ignore[attr-defined]

    @classmethod
    def get_test_params(cls, parameter_set: str = "default") -> list[dict[str, Any]]:
        """Fast settings for sktime's estimator checks: the 5k-parameter random model.

        Parameters
        ----------
        parameter_set : str, default="default"
            Unused; one set serves every check.

        Returns
        -------
        list of dict
            ``_test_variants``, each on top of the tiny random model on CPU.
        """
        tiny = {"pretrained": "tspulse-tiny-random", "device": "cpu", "random_state": 0}
        return [{**tiny, **variant} for variant in cls._test_variants]


class TSPulseTransformer(_SsltsAdapterMixin, BaseTransformer):
    """sktime transformer: a panel of series in, one row of TSPulse features per series out.

    Wraps :class:`sslts.TSPulseEmbedder`; every parameter has the same meaning
    there. Multivariate series, unequal lengths and missing values are
    supported (padding and NaN are masked inside the encoder).

    Parameters
    ----------
    pretrained : str, path or None, default="default"
        Checkpoint to start from (see :class:`sslts.TSPulseEmbedder`).
    embedding : {"semantic+pooled", "semantic", "detail", "both"}, \
            default="semantic+pooled"
        Which tokens form the features.
    pooling : tuple of {"mean", "max"}, default=("mean", "max")
        Statistics of the patch tokens over the observed patches.
    location_scale : bool, default=True
        Append each channel's location and log-scale.
    length_policy : {"pad+resample", "pad+windows", "resample"}, \
            default="pad+resample"
        How series are fitted to the encoder's context.
    views : tuple of {"series", "half", "diff"}, default=("series", "half", "diff")
        Views of each series embedded and concatenated (as given, half
        sampling rate, first differences).
    patch_phases : int, default=8
        Placements of each series on the encoder's patch grid whose features
        are averaged (1: one reading, 8 times faster).
    channel_pooling : {"concat", "mean"}, default="concat"
        How per-channel embeddings are combined.
    standardize : bool, default=True
        Standardise each feature with its mean and standard deviation on the
        ``X`` of ``fit`` (see :class:`sslts.TSPulseEmbedder`).
    max_epochs : int, default=0
        Epochs of self-supervised fine-tuning on ``X`` in ``fit`` (0: frozen).
    lr : float, default=1e-3
        Fine-tuning learning rate.
    batch_size : int, default=256
        Windows per forward pass.
    precision : {"float32", "bfloat16"}, default="float32"
        Arithmetic of the forward pass when embedding (bfloat16 autocast is
        about twice as fast on GPUs and CPUs with native bfloat16).
    device : str, default="auto"
        Torch device, ``"auto"`` picks CUDA when available.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation and fine-tuning.
    verbose : bool, default=False
        Progress output during fine-tuning.

    Attributes
    ----------
    embedder_ : TSPulseEmbedder
        The fitted wrapped estimator.

    Examples
    --------
    >>> from sktime.datasets import load_gunpoint
    >>> from sslts.sktime import TSPulseTransformer
    >>> X, y = load_gunpoint(split="train")
    >>> features = TSPulseTransformer(pretrained="tspulse-tiny-random").fit_transform(X)
    >>> features.shape
    (50, 150)
    """

    _wrapped_class = TSPulseEmbedder
    _test_variants = (
        {},
        {"embedding": "both", "channel_pooling": "mean", "max_epochs": 1, "patch_phases": 1},
    )
    _tags = {
        **_COMMON_TAGS,
        "scitype:transform-input": "Series",
        "scitype:transform-output": "Primitives",
        "scitype:instancewise": True,
        "X_inner_mtype": ["df-list", "numpy3D"],
        "y_inner_mtype": "None",
        "fit_is_empty": False,
        "requires_y": False,
        "capability:multivariate": True,
        "capability:unequal_length": True,
        "capability:unequal_length:removes": True,
        "capability:missing_values": True,
        "capability:missing_values:removes": True,
    }

    def __init__(
        self,
        pretrained: Any = "default",
        embedding: str = "semantic+pooled",
        pooling: tuple[str, ...] = ("mean", "max"),
        location_scale: bool = True,
        length_policy: str = "pad+resample",
        views: tuple[str, ...] = ("series", "half", "diff"),
        patch_phases: int = 8,
        channel_pooling: str = "concat",
        standardize: bool = True,
        max_epochs: int = 0,
        lr: float = 1e-3,
        batch_size: int = 256,
        precision: str = "float32",
        device: str = "auto",
        random_state: Any = None,
        verbose: bool = False,
    ) -> None:
        self.pretrained = pretrained
        self.embedding = embedding
        self.pooling = pooling
        self.location_scale = location_scale
        self.length_policy = length_policy
        self.views = views
        self.patch_phases = patch_phases
        self.channel_pooling = channel_pooling
        self.standardize = standardize
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.precision = precision
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        super().__init__()

    def _fit(self, X: Any, y: Any = None) -> TSPulseTransformer:
        self.embedder_ = self._wrapped().fit(X)
        return self

    def _transform(self, X: Any, y: Any = None) -> pd.DataFrame:
        features = self.embedder_.transform(X)
        return pd.DataFrame(features, columns=self.embedder_.get_feature_names_out())

class TSPulseSktimeClassifier(_SsltsAdapterMixin, BaseClassifier):
    """sktime classifier: fine-tunes TSPulse from a linear probe or with a TSLens head.

    Wraps :class:`sslts.classification.TSPulseClassifier`; every parameter has
    the same meaning there. Multivariate series, unequal lengths and missing
    values are supported.

    Parameters
    ----------
    pretrained : str, path or None, default="default"
        Checkpoint of the encoder.
    head : {"linear", "tslens"}, default="linear"
        A linear probe on the embedder's read-out, then fine-tuning; or TSLens.
    views : tuple of {"series", "half", "diff"}, default=("series", "half", "diff")
        Views of each series read by the linear head.
    pooling : tuple of {"mean", "max"}, default=("mean", "max")
        Statistics of the patch tokens in the linear head's read-out.
    patch_phases : int, default=8
        Patch-grid placements whose features the linear head averages.
    finetune : {"head", "decoder", "embeddings", "all"}, default="decoder"
        What of the encoder trains besides the head.
    max_epochs : int, default=10
        Fine-tuning epochs.
    lr : float, default=1e-3
        AdamW learning rate (the encoder's is a tenth of it with the linear head).
    batch_size : int, default=32
        Windows per training batch.
    mask_ratio : float, default=0.0
        Fraction of patches hidden during training.
    validation_fraction : float or None, default=None
        Share of the training series held out for early stopping (None: a
        fixed schedule).
    patience : int, default=10
        Epochs without improvement before stopping.
    precision : {"float32", "bfloat16"}, default="float32"
        Arithmetic of the forward passes (bfloat16 autocast is about twice as
        fast on GPUs and CPUs with native bfloat16).
    device : str, default="auto"
        Torch device.
    random_state : int, RandomState instance or None, default=None
        Seeds the split, initialisation, batches and masks.
    verbose : bool, default=False
        Training progress output.

    Attributes
    ----------
    classifier_ : TSPulseClassifier
        The fitted wrapped estimator.

    Examples
    --------
    >>> from sktime.datasets import load_gunpoint
    >>> from sslts.sktime import TSPulseSktimeClassifier
    >>> X, y = load_gunpoint(split="train")
    >>> clf = TSPulseSktimeClassifier(pretrained="tspulse-tiny-random", max_epochs=1,
    ...                               random_state=0).fit(X, y)
    >>> clf.predict_proba(X.iloc[:3]).shape
    (3, 2)
    """

    _wrapped_class = TSPulseClassifier
    _test_variants = (
        {"max_epochs": 1},
        {
            "head": "tslens",
            "finetune": "head",
            "max_epochs": 2,
            "mask_ratio": 0.3,
            "validation_fraction": 0.2,
        },
    )
    _tags = {
        **_COMMON_TAGS,
        "X_inner_mtype": ["df-list", "numpy3D"],
        "y_inner_mtype": "numpy1D",
        "capability:multivariate": True,
        "capability:unequal_length": True,
        "capability:missing_values": True,
        "capability:predict_proba": True,
    }

    def __init__(
        self,
        pretrained: Any = "default",
        head: str = "linear",
        views: tuple[str, ...] = ("series", "half", "diff"),
        pooling: tuple[str, ...] = ("mean", "max"),
        patch_phases: int = 8,
        finetune: str = "decoder",
        max_epochs: int = 10,
        lr: float = 1e-3,
        batch_size: int = 32,
        mask_ratio: float = 0.0,
        validation_fraction: float | None = None,
        patience: int = 10,
        precision: str = "float32",
        device: str = "auto",
        random_state: Any = None,
        verbose: bool = False,
    ) -> None:
        self.pretrained = pretrained
        self.head = head
        self.views = views
        self.pooling = pooling
        self.patch_phases = patch_phases
        self.finetune = finetune
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.mask_ratio = mask_ratio
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.precision = precision
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        super().__init__()

    def _fit(self, X: Any, y: np.ndarray) -> TSPulseSktimeClassifier:
        self.classifier_ = self._wrapped().fit(X, y)
        return self

    def _predict(self, X: Any) -> np.ndarray:
        return self.classifier_.predict(X)

    def _predict_proba(self, X: Any) -> np.ndarray:
        # Both sort the labels, so the columns already follow ``self.classes_``.
        return self.classifier_.predict_proba(X)

class TSPulseSktimeAnomalyDetector(_SsltsAdapterMixin, BaseDetector):
    """sktime anomaly detector: TSPulse reconstruction and forecast errors per point.

    Wraps :class:`sslts.anomaly.TSPulseAnomalyDetector`; every parameter has
    the same meaning there. sktime's conventions apply to the outputs:

    * ``predict`` -> DataFrame with column ``"ilocs"``: the positions whose
      score exceeds the wrapped detector's ``threshold_`` (set in ``fit`` from
      ``contamination``);
    * ``transform`` -> DataFrame ``"labels"`` with 0/1 for every time point;
    * ``transform_scores`` -> DataFrame ``"scores"``, one score per time point
      (higher = more anomalous), indexed like ``X``;
    * ``predict_scores`` -> the scores of the detected points, aligned with
      ``predict``.

    Missing values (NaN) are masked by the wrapped detector, as padding is.

    Known anomalies may be passed to ``fit`` as sktime events (``y`` with an
    ``"ilocs"`` column); they are turned into per-point labels, which
    ``mode="triangulation"`` uses to choose its scoring head.

    Parameters
    ----------
    pretrained : str, path or None, default="default"
        TSPulse checkpoint.
    mode : {"time", "fft", "forecast", "ensemble", "triangulation", "embedding", \
            "hybrid"}, default="embedding"
        Which score stream to use.
    window : int or "auto", default="auto"
        Window length of the embedding modes (``"auto"``: one and two estimated
        periods, their scores averaged).
    stride : int or None, default=None
        Step between reconstruction windows (None: a quarter of the context) or,
        in the embedding modes, between embedded windows (None: an eighth of
        ``window``, at least 4).
    smoothing_length : int, default=8
        Centred moving-average window over each head's point errors (1: none).
    max_epochs : int, default=0
        Epochs of self-supervised fine-tuning on the fit series (0: zero-shot).
    lr : float, default=1e-4
        Fine-tuning learning rate.
    batch_size : int, default=256
        Forward passes per batch.
    combine_channels : {"max", "mean"}, default="max"
        How the standardised channel scores make one score per point.
    patch_phases : int or "auto", default="auto"
        Patch phases each embedded window's features are averaged over
        (``"auto"``: 4 for one channel, 1 for several).
    pooling : tuple of {"mean", "max"} or "auto", default="auto"
        Statistics of the patch tokens in each embedded window's read-out
        (``"auto"``: mean and max for one channel, mean for several).
    contamination : float, default=0.1
        Expected fraction of anomalies, in (0, 0.5]; sets the threshold.
    device : str, default="auto"
        Torch device.
    random_state : int, RandomState instance or None, default=None
        Seeds fine-tuning and random initialisation.
    verbose : bool, default=False
        Progress output during fine-tuning.

    Attributes
    ----------
    detector_ : TSPulseAnomalyDetector
        The fitted wrapped estimator.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from sslts.sktime import TSPulseSktimeAnomalyDetector
    >>> x = np.sin(np.arange(300) * 2 * np.pi / 16)
    >>> x[150] += 5.0
    >>> det = TSPulseSktimeAnomalyDetector(pretrained="tspulse-tiny-random", mode="time",
    ...                                    contamination=0.01)
    >>> det.fit_transform(pd.DataFrame(x)).shape
    (300, 1)
    """

    _wrapped_class = TSPulseAnomalyDetector
    _test_variants = (
        {"mode": "time"},
        {"mode": "embedding", "window": 16},
        {
            "mode": "ensemble",
            "smoothing_length": 1,
            "max_epochs": 1,
            "contamination": 0.05,
        },
    )
    _tags = {
        **_COMMON_TAGS,
        "task": "anomaly_detection",
        "learning_type": "unsupervised",
        "X_inner_mtype": "pd.DataFrame",
        "fit_is_empty": False,
        "capability:multivariate": True,
        "capability:missing_values": True,
    }

    def __init__(
        self,
        pretrained: Any = "default",
        mode: str = "embedding",
        window: int | str = "auto",
        stride: int | None = None,
        smoothing_length: int = 8,
        max_epochs: int = 0,
        lr: float = 1e-4,
        batch_size: int = 256,
        combine_channels: str = "max",
        patch_phases: int | str = "auto",
        pooling: tuple[str, ...] | str = "auto",
        contamination: float = 0.1,
        device: str = "auto",
        random_state: Any = None,
        verbose: bool = False,
    ) -> None:
        self.pretrained = pretrained
        self.mode = mode
        self.window = window
        self.stride = stride
        self.smoothing_length = smoothing_length
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.combine_channels = combine_channels
        self.patch_phases = patch_phases
        self.pooling = pooling
        self.contamination = contamination
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        super().__init__()

    def _fit(self, X: pd.DataFrame, y: Any = None) -> TSPulseSktimeAnomalyDetector:
        labels = None
        if y is not None:
            labels = self.sparse_to_dense(y, pd.RangeIndex(len(X))).to_numpy().ravel()
        self.detector_ = self._wrapped().fit(X, labels)
        return self

    def _scores(self, X: pd.DataFrame) -> np.ndarray:
        return self.detector_.decision_function(X)

    def _predict(self, X: pd.DataFrame) -> pd.Series:
        anomalous = self._scores(X) > self.detector_.threshold_
        return pd.Series(np.flatnonzero(anomalous), dtype="int64")

    def _predict_scores(self, X: pd.DataFrame) -> pd.Series:
        scores = self._scores(X)
        return pd.Series(scores[scores > self.detector_.threshold_], dtype="float64")

    def _transform_scores(self, X: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"scores": self._scores(X)}, index=X.index)
