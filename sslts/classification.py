"""Time-series classification by fine-tuning TSPulse with its TSLens head."""

from __future__ import annotations

import numbers
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.base import ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder, StandardScaler
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
from sslts._params import DistinctOptions, Interval, Options
from sslts._torch import bf16_autocast
from sslts._validation import Panel
from sslts.data.views import VIEWS, drop_last, panel_view, phase_shifts
from sslts.data.windows import context_windows, pool_windows
from sslts.models import TSPulse, TSPulseConfig
from sslts.models.heads import (
    FINETUNE_PARTS,
    TSPulseForClassification,
    TSPulseForLinearClassification,
)
from sslts.models.tspulse import POOLINGS, pooled_readout_width
from sslts.pretrained import initial_model
from sslts.streaming import streams_memmaps
from sslts.training.callbacks import KeepLowestTrainingObjective
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


class _PenalisedClassifier(NeuralNetClassifier):
    """skorch classifier that adds the module's ``penalty()`` (when it has one) to the
    training loss, and runs the forward pass under bfloat16 autocast when ``amp``
    (the logits are returned in float32, so the loss is float32)."""

    def __init__(self, *args: Any, amp: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.amp = amp

    def infer(self, x, **fit_params):
        with bf16_autocast(self.device, self.amp):
            return super().infer(x, **fit_params).float()

    def get_loss(self, y_pred, y_true, X=None, training=False):
        loss = super().get_loss(y_pred, y_true, X=X, training=training)
        penalty = getattr(self.module_, "penalty", None)
        return loss + penalty() if training and penalty is not None else loss


class TSPulseClassifier(ClassifierMixin, BaseTorchEstimator):
    """Classify time series by fine-tuning a pretrained TSPulse encoder.

    Two heads (``head``):

    * ``"linear"`` (default): **a linear probe, then fine-tuning.** The
      encoder's read-out is exactly :class:`sslts.TSPulseEmbedder`'s
      (register tokens, patch tokens pooled by ``pooling``, location and
      log-scale, for each of ``views``, averaged over ``patch_phases``;
      :class:`sslts.models.TSPulseForLinearClassification`),
      standardised with its training statistics. A
      :class:`~sklearn.linear_model.LogisticRegression` fitted on it (the
      canonical pipeline) initialises a linear layer; then the parts of the
      encoder named by ``finetune`` and the layer train together for
      ``max_epochs`` epochs under the logistic regression's own L2 penalty
      (``||W||^2 / (2 n)`` per mean cross-entropy), so training starts at the
      probe's optimum. The encoder parts learn at ``lr / 10``.
    * ``"tslens"``: the TSPulse paper's TSLens head
      (:class:`sslts.models.TSLens`): a copy of the pretrained mini decoder,
      channel mixers that start as the identity, width reduction, a learned
      gate over the tokens and a linear classifier of the flattened result.
      The paper's recipe is ``head="tslens", finetune="embeddings",
      mask_ratio=0.3, validation_fraction=0.2, max_epochs=30, batch_size=8``.

    Input follows :class:`sslts.TSPulseEmbedder`: 2D is a univariate panel,
    3D is ``(n_instances, n_channels, n_timepoints)``, a list of arrays may be
    ragged, NaN marks missing values. With the linear head every view of a
    series is fitted to the encoder's context as the embedder does
    (``"pad+resample"``); with TSLens series shorter than the context are
    left-padded and masked and longer ones cut into windows (see
    :mod:`sslts.data.windows`), every window a training example with its
    series' label, and class probabilities are averaged over a series'
    windows at prediction.

    Parameters
    ----------
    pretrained : str, path or None, default="default"
        The encoder: ``"default"``, a checkpoint name or path, or None for a
        random initialisation (see :func:`sslts.pretrained.initial_model`).
    head : {"linear", "tslens"}, default="linear"
        The classification head (see above).
    views : tuple of {"series", "half", "diff"}, default=("series", "half", "diff")
        Views of each series read by the linear head (as
        :class:`sslts.TSPulseEmbedder`'s ``views``); TSLens reads the series.
    pooling : tuple of {"mean", "max"}, default=("mean", "max")
        Statistics of the patch tokens in the linear head's read-out (as
        :class:`sslts.TSPulseEmbedder`'s ``pooling``); not used by TSLens.
    patch_phases : int, default=8
        Placements of each series on the patch grid whose features the
        linear head averages (as :class:`sslts.TSPulseEmbedder`'s
        ``patch_phases``, so that the head starts at the canonical pipeline's
        probe); training and prediction cost ``patch_phases`` times one
        reading; 1 reads each series once. Not used by TSLens.
    finetune : {"head", "decoder", "embeddings", "all"}, default="decoder"
        What of the encoder trains besides the head: nothing; its mini
        decoder (with TSLens the same as ``"head"``: that head always trains
        its own copy of the decoder); also the time and FFT patch embeddings
        (the paper's recipe for TSLens; the backbone stays frozen but
        gradients pass through it); or the whole encoder.
    max_epochs : int, default=10
        Epochs of fine-tuning (the schedule: cosine learning-rate decay over
        them); early stopping may end it sooner when validating.
    lr : float, default=1e-3
        AdamW learning rate of the head (of everything with TSLens); with the
        linear head the encoder parts use ``lr / 10``.
    batch_size : int, default=32
        Windows per training batch; prediction uses batches of
        ``max(batch_size, 256)`` windows.
    mask_ratio : float, default=0.0
        Fraction of patches hidden in each training window, as augmentation
        (the paper uses 0.3 with TSLens); 0 disables masking. With the linear
        head masking pulls the probe towards features it never sees at
        prediction: it lost accuracy in ``benchmarks/dev_classifier_lpft.py``.
    validation_fraction : float or None, default=None
        Share of the training series held out (stratified) for early stopping
        and for restoring the best epoch. None, or data too small to give
        every class two series and a validation member, trains for
        ``max_epochs`` without validation (the default: a fixed schedule, as
        validation splits of a few series choose epochs by chance). Without
        validation the linear head keeps the weights, the probe's included,
        at which its penalised training objective was lowest (a diverging
        step cannot leave it worse than the probe on its own objective).
    patience : int, default=10
        Epochs without a lower validation loss before stopping.
    precision : {"float32", "bfloat16"}, default="float32"
        Arithmetic of the forward passes, in training and prediction.
        ``"bfloat16"`` runs them under bfloat16 autocast (matrix products in
        bfloat16; weights, gradients, optimiser state, logits and loss in
        float32): about twice as fast on GPUs and on CPUs with native bfloat16
        instructions (AVX512_BF16 or AMX), slower on other CPUs (see
        :class:`sslts.TSPulseEmbedder`).
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
    model_ : TSPulseForLinearClassification or TSPulseForClassification
        The fine-tuned network (linear head or TSLens), in evaluation mode.
    n_features_in_ : int
        Channels seen in ``fit``.
    n_timepoints_ : int
        Longest series length seen in ``fit``.
    card_ : dict
        Model card of the loaded checkpoint (empty for random initialisation).
    history_ : list of dict
        Per epoch: ``train_loss`` and, with validation, ``valid_loss`` and
        ``valid_acc`` (window-level); the linear head without validation also
        records ``train_objective`` (penalised loss on the training windows,
        evaluation mode, after the epoch).
    best_epoch_ : int
        Epoch (1-based) whose weights were kept: the lowest validation loss;
        without validation the lowest training objective for the linear head
        (0: the probe itself, before fine-tuning) and the last epoch for
        TSLens.

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
        "head": [Options(("linear", "tslens"))],
        "views": [DistinctOptions(VIEWS)],
        "pooling": [DistinctOptions(POOLINGS)],
        "patch_phases": [Interval(numbers.Integral, 1, None, closed="left")],
        "finetune": [Options(FINETUNE_PARTS)],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "mask_ratio": [Interval(numbers.Real, 0, 1, closed="left")],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither"), None],
        "patience": [Interval(numbers.Integral, 1, None, closed="left")],
        "precision": [Options(("float32", "bfloat16"))],
    }

    def __init__(
        self,
        pretrained: Any = "default",
        head: str = "linear",
        views: tuple[str, ...] = VIEWS,
        pooling: tuple[str, ...] = POOLINGS,
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
        """Fine-tune the encoder and the head on labelled series."""
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
        train = self._windows(panel.subset(train_rows), encoder.config, y_enc[train_rows])
        if self.head == "linear":
            module = self._linear_probe(encoder, *train)
        else:
            module = TSPulseForClassification(
                encoder,
                n_channels=panel.n_channels,
                n_classes=len(self.classes_),
                mask_ratio=self.mask_ratio,
                finetune=self.finetune,
            )
        net = self._net(module, panel, y_enc, valid_rows, encoder.config, train)
        net.fit(*train)
        self.history_ = epoch_history(net)
        keeper = dict(net.callbacks_).get("keep_lowest_objective")
        self.best_epoch_ = (
            self._best_epoch(self.history_) if keeper is None else keeper.best_epoch_
        )
        self.model_ = net.module_.eval()

    def _linear_probe(
        self, encoder: TSPulse, inputs: dict[str, np.ndarray], y: np.ndarray
    ) -> TSPulseForLinearClassification:
        """The linear-head network, initialised with a logistic regression on its read-out."""
        channels = inputs["x"].shape[2]
        n_phases = inputs["x"].shape[1] // len(self.views)
        # and location, log-scale
        width = pooled_readout_width(encoder.config, self.pooling) + 2
        binary = len(self.classes_) == 2
        module = TSPulseForLinearClassification(
            encoder,
            n_features=channels * len(self.views) * width,
            n_classes=len(self.classes_),
            pooling=self.pooling,
            n_phases=n_phases,
            mask_ratio=self.mask_ratio,
            finetune=self.finetune,
            # LogisticRegression's objective (C=1), sum of losses + ||W||^2 / 2, per
            # mean loss; a binary probe's w becomes the two rows -w/2 and w/2,
            # whose squared norms add up to half of ||w||^2
            l2=1.0 / len(y) if binary else 1.0 / (2 * len(y)),
        ).to(self._device())
        features = self._infer(
            lambda x, observed: module.eval().features(x, observed).double(),
            (inputs["x"], inputs["observed"]),
            max(self.batch_size, _MIN_PREDICT_BATCH),
        )
        scaler = StandardScaler().fit(features)
        probe = LogisticRegression(max_iter=1000).fit(scaler.transform(features), y)
        weight, bias = probe.coef_, probe.intercept_
        if binary:  # one logit w.x + b for class 1: logits -(w.x + b) / 2 and (w.x + b) / 2,
            # the same probabilities and a stationary point of the penalised loss
            weight = np.vstack([-weight, weight]) / 2
            bias = np.concatenate([-bias, bias]) / 2
        module.set_probe(
            *(torch.as_tensor(a, dtype=torch.float32) for a in (
                scaler.mean_, scaler.scale_, weight, bias
            ))
        )
        return module

    def _windows(
        self, panel: Panel, config: TSPulseConfig, y: np.ndarray | None = None
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """The network's inputs for ``panel``, and the labels (or series index) per window.

        The linear head takes one ``(phases * views, channels, context)``
        stack per series (for each patch phase, the views in order); TSLens
        one ``(channels, context)`` window per window of a series
        (``"pad+windows"``).
        """
        context = config.context_length
        if self.head == "linear":
            per_view = [
                context_windows(panel_view(drop_last(panel, shift), view), context, "pad+resample")
                for shift in phase_shifts(self.patch_phases, config.patch_length)
                for view in self.views
            ]
            inputs = {
                "x": np.stack([w.values for w in per_view], axis=1),
                "observed": np.stack([w.observed for w in per_view], axis=1),
            }
            owner = np.arange(panel.n_instances)
        else:
            windows = context_windows(panel, context)
            inputs = {"x": windows.values, "observed": windows.observed}
            owner = windows.owner
        return inputs, owner if y is None else y[owner]

    def _net(
        self,
        module: TSPulseForClassification | TSPulseForLinearClassification,
        panel: Panel,
        y: np.ndarray,
        valid_rows: np.ndarray | None,
        config: TSPulseConfig,
        train: tuple[dict[str, np.ndarray], np.ndarray],
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
            valid = self._windows(panel.subset(valid_rows), config, y[valid_rows])
            train_split = predefined_split(Dataset(*valid))
            callbacks.append(
                (
                    "early_stopping",
                    EarlyStopping(monitor="valid_loss", patience=self.patience, load_best=True),
                )
            )
        elif self.head == "linear":
            keeper = KeepLowestTrainingObjective(Dataset(*train))
            callbacks.append(("keep_lowest_objective", keeper))
        if self.verbose:
            callbacks.append(("progress", ProgressBar()))
        callbacks += self._epoch_callbacks()
        optimizer: dict[str, Any] = {}
        if self.head == "linear":  # the encoder at a tenth of the head's rate, no decay
            optimizer = {
                "optimizer__param_groups": [("encoder.*", {"lr": self.lr / 10})],
                "optimizer__weight_decay": 0.0,
            }
        return _PenalisedClassifier(
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
            amp=self.precision == "bfloat16",
            **optimizer,
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
        inputs, owner = self._windows(panel, model.encoder.config)
        proba = self._infer(
            lambda x, observed: torch.softmax(model(x, observed).double(), dim=-1),
            (inputs["x"], inputs["observed"]),
            max(self.batch_size, _MIN_PREDICT_BATCH),
        )
        proba = pool_windows(proba, owner, panel.n_instances).astype(np.float64)
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
