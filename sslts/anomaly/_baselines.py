"""Window baselines: K-Means distance and Deep SVDD, scored per channel."""

from __future__ import annotations

import copy
import numbers
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.utils import check_random_state
from skorch import NeuralNet
from skorch.callbacks import ProgressBar

from sslts._base import epoch_history
from sslts._params import Interval
from sslts._validation import Series
from sslts.anomaly._base import WINDOW_CONSTRAINT, BaseSeriesDetector, resolve_window
from sslts.data.windows import SlidingWindows, points_from_windows, sliding_windows
from sslts.models.deepsvdd import DeepSVDDNetwork
from sslts.training.net import SeededDataLoader

__all__ = ["DeepSVDDAnomalyDetector", "KMeansAnomalyDetector"]


class _WindowDetector(BaseSeriesDetector):
    """Channels z-scored with fit statistics, cut into windows, one score per window.

    Subclasses implement ``_fit_windows(windows)`` and
    ``_window_scores(windows) -> (n_windows, n_channels)``; a point's raw score
    is the mean score of the windows covering it.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **BaseSeriesDetector._parameter_constraints,
        "window": WINDOW_CONSTRAINT,
        "stride": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def _windows(self, series: Series) -> SlidingWindows:
        z = (series.values - self.mean_) / self.std_
        return sliding_windows(
            Series(z.astype(np.float32), None), self.window_, self.stride
        )

    def _fit_scorer(self, series: Series, y: np.ndarray | None) -> np.ndarray:
        self.window_ = resolve_window(self.window, series.values)
        self.mean_ = series.values.mean(axis=0)
        std = series.values.std(axis=0)
        self.std_ = np.where(std > 0, std, 1.0).astype(np.float32)
        windows = self._windows(series)
        self._fit_windows(windows)
        return self._points(windows)

    def _raw_scores(self, series: Series) -> np.ndarray:
        return self._points(self._windows(series))

    def _points(self, windows: SlidingWindows) -> np.ndarray:
        scores = self._window_scores(windows)  # (n_windows, n_channels)
        return points_from_windows(scores, windows, per="window")

    def _fit_windows(self, windows: SlidingWindows) -> None:  # pragma: no cover
        raise NotImplementedError

    def _window_scores(self, windows: SlidingWindows) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError


class KMeansAnomalyDetector(_WindowDetector):
    """Distance of each sliding window to its nearest K-Means centroid.

    Each channel is z-scored with the fit series' mean and standard deviation
    and cut into windows; one K-Means model per channel clusters the fit
    series' windows. A window's score is its Euclidean distance to the nearest
    centroid, a point's raw score the mean over the windows covering it.
    Channels are then standardised and averaged (see
    :class:`~sslts.anomaly.BaseSeriesDetector`).

    Parameters
    ----------
    window : int or "auto", default="auto"
        Window length; ``"auto"`` uses the dominant period of the fit series
        (:func:`~sslts.anomaly.estimate_period`, clipped to 8..128). Capped at
        the fit series' length.
    n_clusters : int, default=20
        Centroids per channel (capped at the number of windows).
    stride : int, default=1
        Step between windows.
    contamination : float, default=0.1
        Expected fraction of anomalies in the fit series, in (0, 0.5]; sets
        ``threshold_``.
    random_state : int, RandomState instance or None, default=None
        Seeds K-Means.

    Attributes
    ----------
    window_ : int
        The window length used.
    kmeans_ : list of KMeans
        One fitted model per channel.
    decision_scores_, threshold_, labels_, channel_scores_, n_features_in_
        See :class:`~sslts.anomaly.BaseSeriesDetector`.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.sin(np.arange(600) * 2 * np.pi / 30)
    >>> x[400] += 3.0
    >>> det = KMeansAnomalyDetector(random_state=0).fit(x)
    >>> int(np.argmax(det.decision_scores_)) in range(370, 431)
    True
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **_WindowDetector._parameter_constraints,
        "n_clusters": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        window: Any = "auto",
        n_clusters: int = 20,
        stride: int = 1,
        contamination: float = 0.1,
        random_state: Any = None,
    ) -> None:
        self.window = window
        self.n_clusters = n_clusters
        self.stride = stride
        self.contamination = contamination
        self.random_state = random_state

    def _fit_windows(self, windows: SlidingWindows) -> None:
        rng = check_random_state(self.random_state)
        k = min(self.n_clusters, len(windows))
        self.kmeans_ = [
            KMeans(n_clusters=k, random_state=rng.randint(2**31 - 1)).fit(
                windows.values[:, c]
            )
            for c in range(windows.values.shape[1])
        ]

    def _window_scores(self, windows: SlidingWindows) -> np.ndarray:
        return np.column_stack(
            [
                km.transform(windows.values[:, c]).min(axis=1)
                for c, km in enumerate(self.kmeans_)
            ]
        )


class _DeepSVDDNet(NeuralNet):
    """skorch net whose loss is the one-class objective (mean squared distance to c)."""

    def get_loss(self, y_pred, y_true=None, X=None, training=False):
        return ((y_pred - self.module_.center) ** 2).sum(-1).mean()


class DeepSVDDAnomalyDetector(_WindowDetector):
    """Deep one-class SVDD (Ruff et al., 2018) on sliding windows.

    Windows of every channel (z-scored with the fit series' statistics) train
    one bias-free MLP (:class:`sslts.models.deepsvdd.DeepSVDDNetwork`) to map
    normal windows close to a fixed center; a window's score is the squared
    distance of its representation to the center, a point's raw score the
    mean over the windows covering it. Channels share the network and are
    scored independently, then standardised and averaged.

    Parameters
    ----------
    window : int or "auto", default="auto"
        Window length (see :class:`KMeansAnomalyDetector`).
    hidden_sizes : tuple of int, default=(64, 32)
        Layer widths; the last is the representation size.
    stride : int, default=1
        Step between windows.
    max_epochs : int, default=20
        Training epochs (at least 1).
    lr : float, default=1e-3
        Adam learning rate (weight decay 1e-6, as in the paper).
    batch_size : int, default=256
        Windows per step.
    contamination : float, default=0.1
        Expected fraction of anomalies, in (0, 0.5].
    device : str, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``...
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation and shuffling; the global torch RNG is untouched.
    verbose : bool, default=False
        Progress bar and loss table.

    Notes
    -----
    Supports scikit-learn's callbacks (``set_callbacks``): each training
    epoch is a subtask of ``fit`` with its loss as metadata, and a callback
    may stop training after any epoch. The estimator a callback receives at
    the end of an epoch holds that epoch's ``model_`` and ``history_`` (it is
    not scored yet: ``decision_scores_`` and the threshold come after
    training).

    Attributes
    ----------
    window_ : int
    model_ : DeepSVDDNetwork
        The trained network (on CPU, in evaluation mode), with its ``center``.
    history_ : list of dict
        Per-epoch measurements (``train_loss``).
    decision_scores_, threshold_, labels_, channel_scores_, n_features_in_
        See :class:`~sslts.anomaly.BaseSeriesDetector`.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.sin(np.arange(400) * 2 * np.pi / 25)
    >>> det = DeepSVDDAnomalyDetector(max_epochs=2, random_state=0).fit(x)
    >>> det.decision_function(x).shape
    (400,)
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **_WindowDetector._parameter_constraints,
        "hidden_sizes": ["int_sequence"],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        window: Any = "auto",
        hidden_sizes: tuple[int, ...] = (64, 32),
        stride: int = 1,
        max_epochs: int = 20,
        lr: float = 1e-3,
        batch_size: int = 256,
        contamination: float = 0.1,
        device: str = "auto",
        random_state: Any = None,
        verbose: bool = False,
    ) -> None:
        self.window = window
        self.hidden_sizes = hidden_sizes
        self.stride = stride
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.contamination = contamination
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    @staticmethod
    def _flat(windows: SlidingWindows) -> np.ndarray:
        return windows.values.reshape(-1, windows.length)

    def _fit_windows(self, windows: SlidingWindows) -> None:
        device = self._device()
        X = self._flat(windows)
        callbacks = [("progress", ProgressBar())] if self.verbose else []
        net = _DeepSVDDNet(
            DeepSVDDNetwork,
            module__input_size=windows.length,
            module__hidden_sizes=tuple(int(s) for s in self.hidden_sizes),
            criterion=torch.nn.MSELoss,  # unused: get_loss computes the objective
            optimizer=torch.optim.Adam,
            optimizer__weight_decay=1e-6,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=min(self.batch_size, len(X)),
            iterator_train=SeededDataLoader,
            iterator_train__shuffle=True,
            train_split=None,
            device=str(device),
            callbacks=[*callbacks, *self._epoch_callbacks()],
            verbose=int(bool(self.verbose)),
        ).initialize()
        net.module_.init_center(torch.from_numpy(X).to(device))
        net.partial_fit(X, None)
        self.model_ = net.module_.cpu().eval()
        self.history_ = epoch_history(net)

    def _snapshot(self, net: NeuralNet) -> dict[str, Any]:
        """``model_`` (a CPU copy, with its center) and ``history_`` after this epoch."""
        return {
            "model_": copy.deepcopy(net.module_).cpu().eval(),
            "history_": epoch_history(net),
        }

    def _window_scores(self, windows: SlidingWindows) -> np.ndarray:
        model = self.model_.to(self._device())
        scores = self._infer(
            lambda x: model.distance(x).double(), (self._flat(windows),), 4096
        )
        model.cpu()
        return scores.reshape(len(windows), -1)
