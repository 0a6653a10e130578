"""Time-series classification by fine-tuning TSPulse with its TSLens head."""

from __future__ import annotations

import numbers
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
)
from skorch import NeuralNetClassifier
from skorch.callbacks import EarlyStopping, LRScheduler, ProgressBar
from skorch.dataset import Dataset
from skorch.helper import predefined_split

from sslts._base import BaseTorchEstimator, epoch_history
from sslts._params import Interval, Options
from sslts._validation import Panel
from sslts.data.windows import context_windows
from sslts.models import TSPulse
from sslts.models.heads import FINETUNE_PARTS, TSPulseForClassification
from sslts.pretrained import initial_model
from sslts.streaming import streams_memmaps
from sslts.training.net import SeededDataLoader

__all__ = ["TSPulseClassifier"]

# Prediction needs no small batches (no updates): larger ones are faster.
_MIN_PREDICT_BATCH = 256


def _validation_rows(
    y: np.ndarray, fraction: float | None, seed: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Stratified ``(train, valid)`` row indices, or ``(all, None)`` when too small.

    A split needs at least two series in every class and room for one
    validation and one training series per class.
    """
    rows = np.arange(len(y))
    if fraction is None:
        return rows, None
    n_classes = int(y.max()) + 1
    n_valid = int(round(fraction * len(y)))
    if np.bincount(y).min() < 2 or n_valid < n_classes or len(y) - n_valid < n_classes:
        return rows, None
    train, valid = train_test_split(rows, test_size=n_valid, stratify=y, random_state=seed)
    return np.sort(train), np.sort(valid)


class TSPulseClassifier(ClassifierMixin, BaseTorchEstimator):
    """Classify time series by fine-tuning a pretrained TSPulse with a TSLens head.

    The head (:class:`sslts.models.TSLens`) decodes the backbone tokens with a
    copy of the pretrained mini decoder, mixes channels with layers that start
    as the identity, reduces the token width, weighs the patch and register
    tokens with a learned gate and classifies the flattened result. During
    fine-tuning a fraction ``mask_ratio`` of the patches is hidden as
    augmentation (as in the TSPulse paper); early stopping watches the loss on
    a stratified validation split of the training series.

    Input follows :class:`sslts.TSPulseEmbedder`: 2D is a univariate panel,
    3D is ``(n_instances, n_channels, n_timepoints)``, a list of arrays may be
    ragged, NaN marks missing values. Series shorter than the encoder context
    are left-padded and masked; longer ones are cut into windows (see
    :mod:`sslts.data.windows`): every window is a training example with its
    series' label, and class probabilities are averaged over a series'
    windows at prediction.

    Parameters
    ----------
    pretrained : str, path or None, default="default"
        The encoder: ``"default"``, a checkpoint name or path, or None for a
        random initialisation (see :func:`sslts.pretrained.initial_model`).
    finetune : {"head", "embeddings", "all"}, default="embeddings"
        What trains besides the TSLens head: nothing (backbone frozen), the
        time and FFT patch embeddings (the paper's recipe; the backbone stays
        frozen but gradients pass through it), or the whole encoder.
    max_epochs : int, default=30
        Upper bound on fine-tuning epochs.
    lr : float, default=1e-3
        AdamW learning rate, cosine-decayed over ``max_epochs``.
    batch_size : int, default=8
        Windows per training batch (small batches give more updates within
        the epoch budget on small training sets); prediction uses batches of
        ``max(batch_size, 256)`` windows.
    mask_ratio : float, default=0.3
        Fraction of patches hidden in each training window; 0 disables masking.
    validation_fraction : float or None, default=0.2
        Share of the training series held out (stratified) for early stopping
        and for restoring the best epoch. None, or data too small to give
        every class two series and a validation member, trains for
        ``max_epochs`` without validation.
    patience : int, default=10
        Epochs without a lower validation loss before stopping.
    device : str, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``...
    random_state : int, RandomState instance or None, default=None
        Seeds the validation split, the head's initialisation, batch order,
        masks and dropout. The caller's global torch random state is untouched.
    verbose : bool, default=False
        Print skorch's epoch table and a progress bar.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (sorted, as :class:`~sklearn.preprocessing.LabelEncoder`).
    model_ : TSPulseForClassification
        The fine-tuned network, in evaluation mode.
    n_features_in_ : int
        Channels seen in ``fit``.
    n_timepoints_ : int
        Longest series length seen in ``fit``.
    card_ : dict
        Model card of the loaded checkpoint (empty for random initialisation).
    history_ : list of dict
        Per epoch: ``train_loss`` and, with validation, ``valid_loss`` and
        ``valid_acc`` (window-level).
    best_epoch_ : int
        Epoch (1-based) whose weights were kept: the lowest validation loss,
        or the last epoch without validation.

    Notes
    -----
    Supports scikit-learn's callbacks (``set_callbacks``): each epoch is a
    subtask of ``fit`` with its losses as metadata, and a callback may stop
    training.

    Examples
    --------
    >>> from sktime.datasets import load_gunpoint
    >>> X, y = load_gunpoint(split="train", return_type="numpy3D")
    >>> clf = TSPulseClassifier(pretrained="tspulse-tiny-random", max_epochs=2,
    ...                         random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:3]).shape
    (3, 2)
    >>> clf.classes_.tolist()
    ['1', '2']
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **BaseTorchEstimator._parameter_constraints,
        "finetune": [Options(FINETUNE_PARTS)],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "mask_ratio": [Interval(numbers.Real, 0, 1, closed="left")],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither"), None],
        "patience": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        pretrained: Any = "default",
        finetune: str = "embeddings",
        max_epochs: int = 30,
        lr: float = 1e-3,
        batch_size: int = 8,
        mask_ratio: float = 0.3,
        validation_fraction: float | None = 0.2,
        patience: int = 10,
        device: str = "auto",
        random_state: Any = None,
        verbose: bool = False,
    ) -> None:
        self.pretrained = pretrained
        self.finetune = finetune
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.mask_ratio = mask_ratio
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _check_y(self, y: Any, panel: Panel) -> np.ndarray:
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        y = column_or_1d(y, warn=True)
        check_consistent_length(panel.values, y)
        check_classification_targets(y)
        return y

    def _fit(self, panel: Panel, y: np.ndarray) -> None:
        """Fine-tune the encoder and TSLens head on labelled series."""
        labels = LabelEncoder().fit(y)
        self.classes_ = labels.classes_
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 classes in y; got 1 class "
                f"({self.classes_[0]!r})"
            )
        y_enc = labels.transform(y)
        rng = check_random_state(self.random_state)
        train_rows, valid_rows = _validation_rows(
            y_enc, self.validation_fraction, rng.randint(2**31 - 1)
        )
        encoder, self.card_ = initial_model(self.pretrained, TSPulse)
        module = TSPulseForClassification(
            encoder,
            n_channels=panel.n_channels,
            n_classes=len(self.classes_),
            mask_ratio=self.mask_ratio,
            finetune=self.finetune,
        )
        net = self._net(module, panel, y_enc, valid_rows)
        net.fit(*self._windows(panel.subset(train_rows), y_enc[train_rows], module))
        self.history_ = epoch_history(net)
        self.best_epoch_ = self._best_epoch(self.history_)
        self.model_ = net.module_.eval()

    @staticmethod
    def _windows(
        panel: Panel, y: np.ndarray, module: TSPulseForClassification
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        windows = context_windows(panel, module.encoder.config.context_length)
        return {"x": windows.values, "observed": windows.observed}, y[windows.owner]

    def _net(
        self,
        module: TSPulseForClassification,
        panel: Panel,
        y: np.ndarray,
        valid_rows: np.ndarray | None,
    ) -> NeuralNetClassifier:
        callbacks: list[tuple[str, Any]] = [
            (
                "lr_schedule",
                LRScheduler(
                    policy=torch.optim.lr_scheduler.CosineAnnealingLR, T_max=self.max_epochs
                ),
            )
        ]
        train_split = None
        if valid_rows is not None:
            valid = self._windows(panel.subset(valid_rows), y[valid_rows], module)
            train_split = predefined_split(Dataset(*valid))
            callbacks.append(
                (
                    "early_stopping",
                    EarlyStopping(monitor="valid_loss", patience=self.patience, load_best=True),
                )
            )
        if self.verbose:
            callbacks.append(("progress", ProgressBar()))
        callbacks += self._epoch_callbacks()
        return NeuralNetClassifier(
            module,
            criterion=torch.nn.CrossEntropyLoss,
            optimizer=torch.optim.AdamW,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            train_split=train_split,
            classes=np.arange(len(self.classes_)),
            iterator_train=SeededDataLoader,
            iterator_train__shuffle=True,
            iterator_valid=SeededDataLoader,
            callbacks=callbacks,
            device=str(self._device()),
            verbose=int(bool(self.verbose)),
        )

    @staticmethod
    def _best_epoch(history: list[dict[str, float]]) -> int:
        if history and "valid_loss" in history[0]:
            return int(np.argmin([row["valid_loss"] for row in history])) + 1
        return len(history)

    def _snapshot(self, net: NeuralNetClassifier) -> dict[str, Any]:
        """Fitted attributes as they would be if training stopped now."""
        attributes = super()._snapshot(net)
        return {**attributes, "best_epoch_": len(attributes["history_"])}

    # -------------------------------------------------------------- predicting
    @streams_memmaps
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, averaged over each series' windows.

        A ``np.memmap`` larger than one chunk is predicted chunk by chunk
        (:func:`sslts.streaming.stream_transform`), and so is it by
        :meth:`predict` and :meth:`predict_log_proba`: bounded memory, the
        same output.

        Parameters
        ----------
        X : array-like, list of arrays or np.memmap
            Same channel count as in ``fit``; any length.

        Returns
        -------
        ndarray of shape (n_instances, n_classes), float32
            Columns follow :attr:`classes_`.
        """
        check_is_fitted(self, "model_")
        panel = self._check_X(X, reset=False)
        model = self.model_.to(self._device()).eval()
        proba = self._infer_windows(
            lambda x, observed: torch.softmax(model(x, observed).double(), dim=-1),
            panel,
            model.encoder.config.context_length,
            batch_size=max(self.batch_size, _MIN_PREDICT_BATCH),
        ).astype(np.float64)
        # float32, like the network: digits beyond that depend on how windows
        # were batched (matrix-product rounding), not on the data.
        proba = (proba / proba.sum(axis=1, keepdims=True)).astype(np.float32)
        return self._finite(proba, "predict_proba")

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like or list of arrays
            Same channel count as in ``fit``; any length.

        Returns
        -------
        ndarray of shape (n_instances, n_classes)
            Log-probabilities; columns follow ``classes_``.
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        """Most probable class of every series.

        Parameters
        ----------
        X : array-like or list of arrays
            Same channel count as in ``fit``; any length.

        Returns
        -------
        ndarray of shape (n_instances,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]
