"""The task suite of the dividend study and its fixed-protocol evaluations.

Every evaluation takes a :class:`~sslts.studies._encoders.FrozenEncoder` and
returns ``(task, dataset, metric, value)`` records. Nothing is tuned: the
probes, heads and fine-tuning schedule below are fixed in advance and never
see a test split before scoring.

* classification, ``probe_accuracy``: windows of the length policy embedded,
  averaged per series, ``StandardScaler`` + ``LogisticRegression``;
* classification, ``finetune_accuracy``: encoder + linear head trained end to
  end with cross-entropy (AdamW, lr 1e-3, fixed epochs, eval mode so no
  dropout or training masks);
* anomaly, ``vus_pr``: sliding windows (stride 4), distance of each window's
  embedding to its nearest training-part window, spread onto the points,
  VUS-PR on the part after ``train_end``;
* forecasting, ``mse_short``/``mse_long``: ridge head from the context
  embedding to the next ``h`` points, in units of the context's mean and
  standard deviation, on ETT's train split, scored on its test split;
* imputation, ``mse``: 25 % of each test window hidden (half in whole
  patches, half in points), a ridge read-out from each time-patch token to
  that patch's values, MSE on the hidden points (window-normalised units).

Higher is better for accuracies and VUS-PR, lower for MSE
(:data:`LOWER_IS_BETTER`).
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from sslts._torch import seeded
from sslts._validation import Panel, Series
from sslts.data.datasets import (
    ClassificationData,
    load_anomaly_series,
    load_classification,
    load_ett,
)
from sslts.data.windows import (
    context_windows,
    points_from_windows,
    pool_windows,
    sliding_windows,
)
from sslts.metrics import vus_pr
from sslts.models import mixed_mask
from sslts.studies._encoders import FrozenEncoder

__all__ = [
    "DEFAULT_ANOMALY",
    "DEFAULT_CLASSIFICATION",
    "DEFAULT_FORECASTING",
    "LOWER_IS_BETTER",
    "TaskSuite",
    "evaluate",
    "load_suite",
    "real_series",
]

DEFAULT_CLASSIFICATION = ("BME", "PowerCons", "SyntheticControl")
DEFAULT_ANOMALY = (
    "TSB-AD-U/001_NAB_id_1_Facility_tr_1007_1st_2014",
    "NAB/realKnownCause/machine_temperature_system_failure",
    "NAB/realKnownCause/ambient_temperature_system_failure",
    "SMAP/A-5",
)
DEFAULT_FORECASTING = "ETTh1"
LOWER_IS_BETTER = frozenset({"mse_short", "mse_long", "mse"})
_ANOMALY_MAX_LENGTH = 4000


@dataclass
class TaskSuite:
    """The data of every task (tiny ones can be injected for tests).

    Parameters
    ----------
    classification : dict of str to ClassificationData
        Univariate sets with their official train/test splits.
    anomaly : list of (name, values, labels, train_end)
        Univariate series ``values`` ``(T,)``, 0/1 ``labels``; points before
        ``train_end`` may be fitted on.
    forecasting : tuple of (name, train, test)
        A multivariate series split in time: ``train`` and ``test`` are
        ``(T, C)`` arrays z-scored with the train statistics. Also the
        imputation data.
    horizons : dict of str to int
        Forecast horizons by metric name.
    finetune_epochs : int
        Epochs of the classification fine-tuning.
    """

    classification: dict[str, ClassificationData]
    anomaly: list[tuple[str, np.ndarray, np.ndarray, int]]
    forecasting: tuple[str, np.ndarray, np.ndarray]
    horizons: dict[str, int] = field(
        default_factory=lambda: {"mse_short": 16, "mse_long": 64}
    )
    finetune_epochs: int = 10

    def describe(self) -> str:
        """One line per task naming its data."""
        name, train, test = self.forecasting
        return "\n".join(
            [
                f"- classification: UCR {', '.join(self.classification)} (official splits)",
                f"- anomaly: {', '.join(a[0] for a in self.anomaly)} (first {_ANOMALY_MAX_LENGTH} points)",
                f"- forecasting: {name}, {train.shape[1]} channels each as a univariate series, "
                f"train {len(train)} / test {len(test)} steps, horizons "
                + ", ".join(f"{k}={v}" for k, v in self.horizons.items()),
                f"- imputation: {name} test split, 25 % hidden",
            ]
        )


def load_suite(
    classification: tuple[str, ...] = DEFAULT_CLASSIFICATION,
    anomaly: tuple[str, ...] = DEFAULT_ANOMALY,
    forecasting: str = DEFAULT_FORECASTING,
    finetune_epochs: int = 10,
) -> TaskSuite:
    """Read the suite from ``$SSLTS_DATA_DIR`` (see :mod:`sslts.data.datasets`).

    Parameters
    ----------
    classification : tuple of str
        UCR set names.
    anomaly : tuple of str
        Keys of :func:`sslts.data.datasets.load_anomaly_series`; the first
        channel of each is used.
    forecasting : str
        ``forecasting/ETT/<name>.csv``.
    finetune_epochs : int
        Epochs of the classification fine-tuning.

    Returns
    -------
    TaskSuite
    """
    sets = {name: load_classification(name) for name in classification}
    series = []
    for key in anomaly:
        s = load_anomaly_series(key, max_length=_ANOMALY_MAX_LENGTH)
        series.append((key, s.values[:, 0].astype(np.float64), s.labels, s.train_end))
    train, test = load_ett(forecasting, "train"), load_ett(forecasting, "test")
    return TaskSuite(
        sets, series, (forecasting, train, test), finetune_epochs=finetune_epochs
    )


def real_series(suite: TaskSuite, n: int, length: int, seed: int) -> np.ndarray:
    """``n`` random windows of ``length`` points from the suite's *training* parts.

    The "real" pretraining data: the train split of every forecasting
    channel and the train part of every anomaly series (z-scored), never a
    test part or a classification set.

    Parameters
    ----------
    suite : TaskSuite
    n, length : int
        Windows and their length.
    seed : int
        Seeds the draws.

    Returns
    -------
    ndarray of shape (n, length), float32
    """
    parts = [c for c in suite.forecasting[1].T]
    for _, values, _, train_end in suite.anomaly:
        part = values[:train_end]
        parts.append((part - part.mean()) / (part.std() or 1.0))
    parts = [p for p in parts if len(p) >= length]
    if not parts:
        raise ValueError(f"no real training part has {length} points")
    rng = np.random.default_rng([seed, 11])
    weights = np.array([len(p) - length + 1 for p in parts], float)
    which = rng.choice(len(parts), size=n, p=weights / weights.sum())
    out = np.empty((n, length), np.float32)
    for i, k in enumerate(which):
        start = rng.integers(len(parts[k]) - length + 1)
        out[i] = parts[k][start : start + length]
    return out


# ------------------------------------------------------------------ classification
def _panel_windows(X: np.ndarray, context: int):
    X = np.asarray(X, np.float32)
    if X.ndim == 2:
        X = X[:, None, :]
    X = X[:, :1]  # univariate sets; a multivariate one would use its first channel
    observed = np.isfinite(X)
    values = np.where(observed, X, 0.0).astype(np.float32)
    lengths = observed[:, 0].sum(-1)
    windows = context_windows(Panel(values, observed, lengths), context)
    return windows, len(X)


def _series_embeddings(encoder: FrozenEncoder, X: np.ndarray) -> np.ndarray:
    windows, n = _panel_windows(X, encoder.context_length)
    return pool_windows(
        encoder.embed(windows.values, windows.observed), windows.owner, n
    )


def _probe(encoder: FrozenEncoder, data: ClassificationData) -> float:
    Z_train = _series_embeddings(encoder, data.X_train)
    Z_test = _series_embeddings(encoder, data.X_test)
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return float(probe.fit(Z_train, data.y_train).score(Z_test, data.y_test))


def _finetune(
    encoder: FrozenEncoder, data: ClassificationData, epochs: int, seed: int
) -> float:
    """Fine-tune a copy of the encoder with a linear head; test accuracy."""
    tuned = FrozenEncoder(
        copy.deepcopy(encoder.module), encoder.objective, str(encoder.device)
    )
    device = tuned.device
    classes, y = np.unique(data.y_train, return_inverse=True)
    train, n = _panel_windows(data.X_train, tuned.context_length)
    test, n_test = _panel_windows(data.X_test, tuned.context_length)
    Z0 = pool_windows(tuned.embed(train.values, train.observed), train.owner, n)
    mean = torch.as_tensor(Z0.mean(0), device=device)
    scale = torch.as_tensor(Z0.std(0) + 1e-6, device=device)

    def logits(windows, rows: np.ndarray, head: nn.Module) -> torch.Tensor:
        pick = np.flatnonzero(np.isin(windows.owner, rows))
        x = torch.as_tensor(windows.values[pick], device=device)
        obs = torch.as_tensor(windows.observed[pick], device=device)
        z = tuned.embed_tensor(torch.where(obs, x, torch.zeros_like(x)), obs)
        owner = torch.as_tensor(
            np.searchsorted(rows, windows.owner[pick]), device=device
        )
        sums = torch.zeros(len(rows), z.shape[1], device=device).index_add_(0, owner, z)
        counts = torch.bincount(owner, minlength=len(rows)).clamp_min(1)[:, None]
        return head(((sums / counts) - mean) / scale)

    with seeded(seed) as source:
        head = nn.Linear(Z0.shape[1], len(classes)).to(device)
        params = list(tuned.module.parameters()) + list(head.parameters())
        optimizer = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01)
        target = torch.as_tensor(y, device=device)
        tuned.module.eval()  # no dropout, no TSPulse training masks: same for every encoder
        generator = source.generator(torch.device("cpu"))
        batch = 16
        for _ in range(epochs):
            order = torch.randperm(n, generator=generator).numpy()
            for start in range(0, n, batch):
                rows = np.sort(order[start : start + batch])
                loss = nn.functional.cross_entropy(
                    logits(train, rows, head), target[rows]
                )
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
        with torch.inference_mode():
            predicted = [
                logits(test, np.arange(s, min(s + 256, n_test)), head)
                .argmax(1)
                .cpu()
                .numpy()
                for s in range(0, n_test, 256)
            ]
    return float(np.mean(classes[np.concatenate(predicted)] == data.y_test))


# ----------------------------------------------------------------------- anomaly
def _anomaly(
    encoder: FrozenEncoder, values: np.ndarray, labels: np.ndarray, train_end: int
) -> float:
    context = encoder.context_length
    train = values[:train_end]
    z = (values - train.mean()) / (train.std() or 1.0)
    windows = sliding_windows(Series(z[:, None].astype(np.float32), None), context, 4)
    emb = encoder.embed(windows.values, windows.observed)
    fit_rows = windows.starts + context <= train_end
    if fit_rows.sum() < 2:
        raise ValueError(
            f"anomaly series needs a train part of at least {context + 4} points"
        )
    neighbors = NearestNeighbors(n_neighbors=1).fit(emb[fit_rows])
    distance = neighbors.kneighbors(emb)[0][:, 0]
    scores = points_from_windows(distance, windows, per="window")
    return float(vus_pr(labels[train_end:], scores[train_end:]))


# ------------------------------------------------------------------- forecasting
def _windows(part: np.ndarray, length: int, stride: int) -> np.ndarray:
    """Univariate windows ``(n, length)`` of every channel of ``part`` ``(T, C)``."""
    starts = np.arange(0, len(part) - length + 1, stride)
    return np.concatenate(
        [part[starts[:, None] + np.arange(length), c] for c in range(part.shape[1])]
    )


def _normalised(windows: np.ndarray, context: int, observed: np.ndarray | None = None):
    """Windows in units of their context's (observed) mean and standard deviation.

    Returns the scaled windows and the ``(mean, std)`` to undo it; the std is
    floored at 0.1 z-units so that an almost flat context cannot blow a
    target up.
    """
    ctx = windows[:, :context]
    weight = np.ones_like(ctx) if observed is None else observed.astype(float)
    mean = (ctx * weight).sum(1, keepdims=True) / weight.sum(1, keepdims=True)
    var = (((ctx - mean) ** 2) * weight).sum(1, keepdims=True) / weight.sum(
        1, keepdims=True
    )
    std = np.maximum(np.sqrt(var), 0.1)
    return ((windows - mean) / std).astype(np.float32), mean, std


def _forecast(
    encoder: FrozenEncoder, train: np.ndarray, test: np.ndarray, horizon: int
) -> float:
    """MSE in the series' z-units: the head predicts in context units, then the scaling is undone."""
    context = encoder.context_length
    fitted = []
    for part, stride in ((train, 32), (test, 16)):
        raw = _windows(part, context + horizon, stride)
        w, mean, std = _normalised(raw, context)
        fitted.append(
            (
                encoder.embed(w[:, None, :context]),
                w[:, context:],
                raw[:, context:],
                mean,
                std,
            )
        )
    (Z_train, Y_train, _, _, _), (Z_test, _, truth, mean, std) = fitted
    head = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(
        Z_train, np.clip(Y_train, -20, 20)
    )
    return float(np.mean((head.predict(Z_test) * std + mean - truth) ** 2))


# -------------------------------------------------------------------- imputation
def _hidden(n: int, length: int, patch: int, seed: int) -> np.ndarray:
    generator = torch.Generator().manual_seed(seed)
    return mixed_mask(
        n, length, patch, 0.125, 0.125 / 0.875, generator=generator
    ).numpy()


def _impute(encoder: FrozenEncoder, train: np.ndarray, test: np.ndarray) -> float:
    """MSE on the hidden points, in the series' z-units."""
    context, patch = encoder.context_length, encoder.context_length // encoder.n_patches
    parts = []
    for k, (part, stride) in enumerate(((train, 32), (test, context))):
        raw = _windows(part, context, stride)
        hidden = _hidden(len(raw), context, patch, seed=1000 + k)
        w, _, std = _normalised(raw, context, ~hidden)
        visible = np.where(hidden, 0.0, w)[:, None].astype(np.float32)
        tokens = encoder.patch_tokens(visible, ~hidden[:, None])
        d = tokens.shape[-1]
        scale = np.repeat(std, context, axis=1)
        parts.append(
            (
                tokens.reshape(-1, d),
                w.reshape(-1, patch),
                hidden.reshape(-1, patch),
                scale.reshape(-1, patch),
            )
        )
    (T_train, Y_train, _, _), (T_test, Y_test, H_test, S_test) = parts
    head = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(
        T_train, np.clip(Y_train, -20, 20)
    )
    error = ((head.predict(T_test) - Y_test) * S_test) ** 2
    return float(error[H_test].mean())


# ----------------------------------------------------------------------- all
def evaluate(
    encoder: FrozenEncoder, suite: TaskSuite, seed: int
) -> list[tuple[str, str, str, float]]:
    """Every task of ``suite`` on ``encoder``.

    Parameters
    ----------
    encoder : FrozenEncoder
        The encoder (pretrained or random); fine-tuning works on a copy.
    suite : TaskSuite
    seed : int
        Seeds the fine-tuning (head initialisation, batch order).

    Returns
    -------
    list of (task, dataset, metric, value)
    """
    records = []
    for name, data in suite.classification.items():
        records.append(
            ("classification", name, "probe_accuracy", _probe(encoder, data))
        )
        acc = _finetune(encoder, data, suite.finetune_epochs, seed)
        records.append(("classification", name, "finetune_accuracy", acc))
    for name, values, labels, train_end in suite.anomaly:
        records.append(
            ("anomaly", name, "vus_pr", _anomaly(encoder, values, labels, train_end))
        )
    name, train, test = suite.forecasting
    for metric, horizon in suite.horizons.items():
        records.append(
            ("forecasting", name, metric, _forecast(encoder, train, test, horizon))
        )
    records.append(("imputation", name, "mse", _impute(encoder, train, test)))
    return records
