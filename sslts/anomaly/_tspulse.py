"""Zero-shot (or lightly fine-tuned) anomaly scores from TSPulse's heads and encoder."""

from __future__ import annotations

import numbers
import warnings
from typing import Any, ClassVar

import numpy as np
import torch
from scipy.ndimage import uniform_filter1d
from sklearn.cluster import KMeans
from sklearn.metrics import average_precision_score
from sklearn.neighbors import NearestNeighbors

from sslts._params import DistinctOptions, Interval, Options
from sslts._torch import tensor_batches
from sslts._validation import Series
from sslts.anomaly._base import (
    FLAT_TOLERANCE,
    WINDOW_CONSTRAINT,
    BaseSeriesDetector,
    channel_spread,
    resolve_window,
)
from sslts.data.views import phase_shifts
from sslts.data.windows import SlidingWindows, points_from_windows, sliding_windows
from sslts.embedding import semantic_pooled_embedding
from sslts.models import TSPulse
from sslts.models.tspulse import POOLINGS
from sslts.pretrained import initial_model

__all__ = ["TSPulseAnomalyDetector"]

HEADS = ("time", "fft", "forecast")
_EMBEDDING_MODES = ("embedding", "hybrid")
MODES = (*HEADS, "ensemble", "triangulation", *_EMBEDDING_MODES)
CHANNEL_COMBINATIONS = ("max", "mean")
_MASK_GROUPS = (
    4  # passes per window; each hides every 4th patch (25%, as in pretraining)
)
# embedding mode (chosen on the selection half of the anomaly development suite,
# benchmarks/dev_anomaly_suite.py): windows of these many estimated periods, read
# out by semantic_pooled_embedding; at most _MAX_REFERENCES reference windows
# (else their K-Means centroids)
_PERIODS_PER_WINDOW = (1, 2)
# patch_phases="auto": phases averaged for a one-channel series (chosen on the
# univariate selection half, benchmarks/dev_anomaly_views.py); several channels: 1
_AUTO_PHASES_UNIVARIATE = 4
# pooling="auto": the patch tokens' maximum beside their average for a one-channel
# series (benchmarks/dev_anomaly_views.py); several channels: the average alone
_AUTO_POOLING_UNIVARIATE = POOLINGS
_MAX_REFERENCES = 2048
_SELF_MATCH = 1e-5  # a fit window found in the reference set: use the next nearest
_VARIANCE_EPS = 1e-5  # added to a window's variance before its log (as in RevIN)


class TSPulseAnomalyDetector(BaseSeriesDetector):
    """Anomaly scores from TSPulse's reconstruction/forecast errors or embeddings.

    Three heads of the pretrained model each give an error per point
    (Ekambaram et al., 2025, "multi-head triangulation"):

    * ``"time"``: the time-reconstruction head. Windows of the model's
      context (``stride`` apart) are passed four times, each pass hiding every
      fourth patch (a different quarter each time), so every point is
      reconstructed once per window without the model seeing it. The error is
      the squared difference in the series' own units; a point's score is the
      mean over the windows covering it. Sharp local deviations (spikes)
      stand out here.
    * ``"fft"``: the same masked passes, scored with the time series rebuilt
      from the FFT-reconstruction head; sensitive to broken periodicity.
    * ``"forecast"``: the forecast head predicts the ``forecast_length``
      points after each window (windows ``forecast_length`` apart, the first
      seeing only a quarter of a context, left-padded as unobserved); the
      error of that prediction scores those points. Points before the first
      forecast get the median forecast score. Sensitive to level and trend
      changes.

    A patch at the edge of a reconstruction window is rebuilt from one side
    only, and the first and last points of a series are only ever seen there;
    so the time and FFT errors are divided by the fit series' typical error at
    each window position (``position_scale_``) and the ends of a series are
    not inflated.

    Each head's errors are smoothed over ``smoothing_length`` points, and its
    per-channel scores are standardised with the fit series' median and
    interquartile range (IQR; where that is float32 rounding noise, as for a
    channel constant in the fit series, a standard deviation or the other
    channels' spread instead: :func:`~sslts.anomaly.channel_spread`; this holds
    for every standardisation below). ``"ensemble"`` takes, per point and
    channel, the **maximum** of the three standardised head scores (the
    paper's ensemble). ``"triangulation"`` picks one of the three heads or the
    ensemble: with labels ``y`` in ``fit`` (both classes present) the one with
    the highest average precision (AUC-PR) on the fit series; without labels it
    falls back to the ensemble.

    ``"embedding"`` compares with the fit series instead: windows of
    ``window`` points are embedded by the encoder (per channel, the register
    tokens and the time and FFT patch tokens averaged over the window's
    observed patches, as :class:`~sslts.TSPulseEmbedder`'s read-out with
    ``pooling=("mean",)``).
    The model normalises each window before embedding it, so the window's
    location (mean of its observed points) and log-scale (log of their
    standard deviation) are appended: a level shift or an amplitude change
    would otherwise go unseen. These features are standardised with the fit
    windows' statistics, the two appended ones weighted by ``sqrt(dim / 2)``
    so that they count as much in the distance as the ``dim`` embedding
    features together. A feature flat over the fit windows of a channel (its
    spread within float32 rounding of its level, as in a channel constant in
    the fit series) takes the median spread of that feature over the other
    channels (1 if none varies), so that a change in such a channel counts in
    the units of the others, not in units of rounding noise. The fit
    windows' features are kept (their K-Means
    centroids when there are more than 2,048), and a window's score is the
    Euclidean distance to the nearest fit window (itself excluded, so the fit
    series is scored leave-one-out); a point's score is the mean over the
    windows covering it. With ``window="auto"`` this is done at two window
    lengths, one and two estimated periods (a shape anomaly within one period
    and a change across periods both show), and the two distances, each
    standardised with the fit series' median and IQR, are averaged. It catches
    what looks ordinary locally but never occurs in the normal part.
    ``"hybrid"`` takes, per point and channel, the maximum of the ensemble
    (standardised once more on the fit series) and the standardised
    embedding score. The read-out, the window lengths and their combination
    were chosen on the selection half of the project's anomaly development
    suite (``benchmarks/dev_anomaly_suite.py``).

    Channels are scored independently (the model is channel-independent),
    each standardised on the fit series, and combined by
    ``combine_channels``: by default the point score is the **maximum** over
    channels (an anomaly in one channel is not averaged away by the many
    others of a wide series).

    Missing values (NaN) are allowed: they are masked like padding (never
    shown to the model nor used in its scaling) and get the channel's median
    score.

    Parameters
    ----------
    pretrained : str, path or None, default="default"
        The TSPulse checkpoint (see :func:`sslts.pretrained.initial_model`):
        ``"default"``, a registered name, a checkpoint path, or None for a
        random model.
    mode : {"time", "fft", "forecast", "ensemble", "triangulation", \
            "embedding", "hybrid"}, default="embedding"
        Which score stream to use (see above). The default was chosen on the
        selection half of the project's anomaly development suite
        (``benchmarks/bench_anomaly_suite.py``): far ahead of the heads on
        shape anomalies in quasi-periodic series and ahead of them on NAB. On
        sensor data with many command-flag channels it leads window detectors
        that compare all channels at once on SMAP and still trails them on
        MSL (``docs/anomaly.md``).
    window : int or "auto", default="auto"
        Length of the embedded windows (embedding modes only): at least 2, or
        ``"auto"``, one and two times the period estimated by
        :func:`~sslts.anomaly.estimate_period` (two scores averaged, see
        above). Capped at the model's context and the fit series' length.
    stride : int or None, default=None
        Step between reconstruction windows; None means a quarter of the
        model's context (each point then lies in about four windows). Capped
        at the context length. In the embedding modes, the step between
        embedded windows: None means an eighth of ``window`` (at least 4),
        capped at ``window``.
    smoothing_length : int, default=8
        Each head's point errors are averaged over a centred moving window of
        this many points (1: no smoothing), as in the reference pipeline:
        per-point squared errors are noisy, anomalies span several points.
    max_epochs : int, default=0
        Epochs of self-supervised masked-reconstruction fine-tuning on windows
        of the fit series before scoring (0: zero-shot).
    lr : float, default=1e-4
        Fine-tuning learning rate.
    batch_size : int, default=256
        Single-channel windows per forward pass (masked copies and channels
        count; at least one multichannel window is passed at a time).
    combine_channels : {"max", "mean"}, default="max"
        How the standardised channel scores (``channel_scores``) make one
        score per point: their maximum or their mean. Chosen on the
        selection half of the multivariate panel of the project's anomaly
        development suite (``benchmarks/dev_anomaly_channels.py``): with the
        embedding mode, the maximum leads the mean by 0.03-0.04 mean VUS-PR
        on both SMAP and MSL. A univariate series is unaffected.
    patch_phases : int or "auto", default="auto"
        Embedding modes only: placements of each window on the encoder's
        patch grid whose features are averaged, as in
        :class:`~sslts.TSPulseEmbedder`: each window is embedded without its
        last ``k * patch_length // patch_phases`` points, ``k = 0, ...,
        patch_phases - 1`` (keeping at least 2 points), at ``patch_phases``
        times the cost. ``"auto"``: 4 for a one-channel series, 1 for
        several channels. Chosen on the univariate selection half of the
        project's anomaly development suite (``benchmarks/dev_anomaly_views.py``):
        4 phases raised its mean VUS-PR from 0.464 to 0.482 (and the report
        half's from 0.468 to 0.497); not measured on multivariate series,
        where it would multiply a cost already proportional to the channel
        count. At most the model's ``patch_length``.
    pooling : tuple of {"mean", "max"} or "auto", default="auto"
        Embedding modes only: statistics of the patch tokens over the
        window's observed patches appended to the register tokens in each
        window's read-out, as in :class:`~sslts.TSPulseEmbedder`. ``"auto"``:
        ``("mean", "max")`` for a one-channel series, ``("mean",)`` for
        several. On the project's anomaly development suite
        (``benchmarks/dev_anomaly_views.py``) the maximum beside the average
        raised the mean VUS-PR of the univariate selection half from 0.482
        to 0.496 and of its report half from 0.497 to 0.509 (ahead on NAB,
        class swaps and noise splices, behind on warped splices, in both
        halves), and lowered the multivariate selection half from 0.489 to
        0.422.
    contamination : float, default=0.1
        Expected fraction of anomalies, in (0, 0.5].
    device : str, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``...
    random_state : int, RandomState instance or None, default=None
        Seeds fine-tuning (and random initialisation); the global torch RNG
        is untouched.
    verbose : bool, default=False
        Progress bar and loss table during fine-tuning.

    Notes
    -----
    Supports scikit-learn's callbacks (``set_callbacks``): each fine-tuning
    epoch is a subtask of ``fit`` with its losses as metadata, and a callback
    may stop fine-tuning after any epoch. The estimator a callback receives at
    the end of an epoch holds that epoch's ``model_`` and ``history_`` (it is
    not scored yet).

    Attributes
    ----------
    model_ : TSPulse
        The model in evaluation mode.
    card_ : dict
        Card of the loaded checkpoint.
    selected_mode_ : str
        The stream used for scoring (``mode``, or the choice of triangulation).
    head_ap_ : dict of str to float
        AUC-PR of each candidate on the labelled fit series (triangulation
        with labels only; empty otherwise).
    history_ : list of dict
        Per-epoch fine-tuning losses (empty when zero-shot).
    position_scale_ : ndarray of shape (2, context_length) or None
        Typical error of the time and FFT heads at each position of a
        reconstruction window, relative to the median position, learnt on the
        fit series; errors are divided by it (None in modes without
        reconstruction).
    windows_ : tuple of int
        Embedded window lengths, distinct (embedding modes only).
    patch_phases_ : int
        Patch phases averaged (``patch_phases`` resolved).
    pooling_ : tuple of str
        Statistics of the patch tokens in the read-out (``pooling`` resolved).
    embedding_mean_, embedding_scale_ : list of ndarray of shape (n_channels, dim + 2)
        Per window length, the per-channel statistics standardising the window
        features (embedding modes): the ``dim`` embedding features, then the
        location and the log-scale (whose scales include the division by their
        weight).
    neighbors_ : list of list of sklearn.neighbors.NearestNeighbors
        Per window length, the per-channel index of the standardised fit-window
        embeddings (or their centroids) (embedding modes).
    embedding_center_, embedding_spread_ : ndarray of shape (n_windows, n_channels)
        Per window length and channel, the fit series' median and spread
        (:func:`~sslts.anomaly.channel_spread`) of the distance scores, which
        standardise them before they are averaged.
    decision_scores_, threshold_, labels_, channel_scores_, n_features_in_
        See :class:`~sslts.anomaly.BaseSeriesDetector`.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.sin(np.arange(300) * 2 * np.pi / 16)
    >>> det = TSPulseAnomalyDetector(pretrained="tspulse-tiny-random").fit(x)
    >>> det.decision_function(x).shape, det.predict_proba(x).shape
    ((300,), (300, 2))
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **BaseSeriesDetector._parameter_constraints,
        "mode": [Options(MODES)],
        "window": WINDOW_CONSTRAINT,
        "stride": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "smoothing_length": [Interval(numbers.Integral, 1, None, closed="left")],
        "combine_channels": [Options(CHANNEL_COMBINATIONS)],
        "patch_phases": [Interval(numbers.Integral, 1, None, closed="left"), Options(("auto",))],
        "pooling": [DistinctOptions(POOLINGS), Options(("auto",))],
    }
    _allow_nan = True  # missing points are masked, like padding

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

    # --------------------------------------------------------------- fitting
    def _uses_labels(self) -> bool:
        return self.mode == "triangulation"

    def _channel_scale(self, raw: np.ndarray) -> np.ndarray:
        return channel_spread(raw)

    def _combine(self, channel_scores: np.ndarray) -> np.ndarray:
        if self.combine_channels == "max":
            return channel_scores.max(axis=1)
        return channel_scores.mean(axis=1)

    def _fit_scorer(self, series: Series, y: np.ndarray | None) -> np.ndarray:
        model, self.card_ = initial_model(self.pretrained, TSPulse)
        model = model.to(self._device())
        self.history_: list[dict[str, float]] = []
        if self.max_epochs > 0:
            model = self._finetune(model, series)
        self.model_ = model.eval()
        self.patch_phases_ = (
            (_AUTO_PHASES_UNIVARIATE if series.n_channels == 1 else 1)
            if self.patch_phases == "auto"
            else self.patch_phases
        )
        phase_shifts(self.patch_phases_, model.config.patch_length)  # checks the range
        self.pooling_ = (
            (_AUTO_POOLING_UNIVARIATE if series.n_channels == 1 else ("mean",))
            if self.pooling == "auto"
            else tuple(self.pooling)
        )
        self.position_scale_ = None  # learnt by the first reconstruction pass
        raw = self._head_scores(series, _heads_of(self.mode))
        if self.mode in _EMBEDDING_MODES:
            raw["embedding"] = self._fit_embedding(series)
        self.head_center_, self.head_scale_ = {}, {}
        for name, scores in raw.items():
            self._set_standard(name, scores)
        streams = self._streams(raw)
        self.head_ap_: dict[str, float] = {}
        self.selected_mode_ = self.mode
        if self.mode == "triangulation":
            self.selected_mode_ = "ensemble"
            if y is not None and 0 < y.sum() < len(y):
                self.head_ap_ = {
                    name: float(average_precision_score(y, self._combine(s)))
                    for name, s in streams.items()
                }
                self.selected_mode_ = max(self.head_ap_, key=self.head_ap_.get)
        return streams[self.selected_mode_]

    def _finetune(self, model: TSPulse, series: Series) -> TSPulse:
        cfg = model.config
        windows = sliding_windows(
            series,
            cfg.context_length + cfg.forecast_length,
            self._stride(cfg.context_length),
        )
        return self._finetune_tspulse(model, windows.values, windows.observed)

    def _stride(self, context: int) -> int:
        return (
            max(1, context // 4) if self.stride is None else min(self.stride, context)
        )

    # --------------------------------------------------------------- scoring
    def _standard_head(self, head: str, raw: np.ndarray) -> np.ndarray:
        return (raw - self.head_center_[head]) / self.head_scale_[head]

    def _set_standard(self, name: str, scores: np.ndarray) -> None:
        """Keep the fit median and spread of the score stream ``name``."""
        self.head_center_[name] = np.median(scores, axis=0)
        self.head_scale_[name] = channel_spread(scores)

    def _streams(self, raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Standardised score streams, plus the ensemble and hybrid ones they make up.

        The hybrid standardises the ensemble once more (its own fit median and
        IQR, learnt on the first call, in ``fit``) so that both of its parts
        are on the same scale before their maximum is taken.
        """
        streams = {h: self._standard_head(h, s) for h, s in raw.items()}
        if all(h in streams for h in HEADS):
            streams["ensemble"] = np.maximum.reduce([streams[h] for h in HEADS])
        if self.mode == "hybrid":
            if "ensemble" not in self.head_center_:
                self._set_standard("ensemble", streams["ensemble"])
            streams["hybrid"] = np.maximum(
                self._standard_head("ensemble", streams["ensemble"]),
                streams["embedding"],
            )
        return streams

    def _raw_scores(self, series: Series) -> np.ndarray:
        mode = self.selected_mode_
        raw = self._head_scores(series, _heads_of(mode))
        if mode in _EMBEDDING_MODES:
            raw["embedding"] = self._embedding_stream(series)
        return self._streams(raw)[mode]

    # ------------------------------------------------------- embedding mode
    def _fit_embedding(self, series: Series) -> np.ndarray:
        """Keep the standardised embeddings of the fit windows; score the fit series."""
        context = self.model_.config.context_length
        if isinstance(self.window, str):
            period = resolve_window(self.window, series.values)
            lengths = [k * period for k in _PERIODS_PER_WINDOW]
        else:
            lengths = [resolve_window(self.window, series.values)]
        capped = (max(1, min(n, context, series.n_timepoints)) for n in lengths)
        self.windows_ = tuple(dict.fromkeys(capped))  # distinct, in order
        self.embedding_mean_, self.embedding_scale_, self.neighbors_ = [], [], []
        per_window = []
        for length in self.windows_:
            windows = self._embedding_windows(series, length)
            emb = self._embed(windows)  # (n_windows, channels, dim + 2)
            mean, scale, neighbors = _reference(emb, self.random_state)
            self.embedding_mean_.append(mean)
            self.embedding_scale_.append(scale)
            self.neighbors_.append(neighbors)
            per_window.append(
                self._window_distances(series, windows, emb, len(per_window))
            )
        per_window = np.stack(per_window)  # (n_lengths, n_timepoints, channels)
        self.embedding_center_ = np.median(per_window, axis=1)
        self.embedding_spread_ = np.stack([channel_spread(d) for d in per_window])
        return self._combine_lengths(per_window)

    def _combine_lengths(self, per_window: np.ndarray) -> np.ndarray:
        """Mean over window lengths of the distances standardised on the fit series."""
        z = (per_window - self.embedding_center_[:, None]) / self.embedding_spread_[
            :, None
        ]
        return z.mean(axis=0)

    def _embedding_stream(self, series: Series) -> np.ndarray:
        per_window = [
            self._window_distances(series, windows, self._embed(windows), i)
            for i, windows in enumerate(
                self._embedding_windows(series, n) for n in self.windows_
            )
        ]
        return self._combine_lengths(np.stack(per_window))

    def _embedding_windows(self, series: Series, length: int) -> SlidingWindows:
        stride = max(4, length // 8) if self.stride is None else self.stride
        return sliding_windows(series, length, min(stride, length))

    def _embed(self, windows: SlidingWindows) -> np.ndarray:
        """Features ``(n_windows, channels, dim + 2)`` averaged over the patch phases."""
        shifts = phase_shifts(self.patch_phases_, self.model_.config.patch_length)
        return np.mean(
            [
                self._embed_once(windows.without_last(k))
                for k in shifts
                if windows.length - k >= 2 or k == 0
            ],
            axis=0,
        )

    def _embed_once(self, windows: SlidingWindows) -> np.ndarray:
        """Features ``(n_windows, channels, dim + 2)``: embedding, location, scale."""
        model = self.model_.to(self._device())
        values, observed = pad_to_context(windows, model.config.context_length)
        emb = self._infer(
            lambda x, obs: semantic_pooled_embedding(
                model, x, obs, pooling=self.pooling_
            ).float(),
            (values, observed),
            max(1, self.batch_size // windows.values.shape[1]),
        )
        return np.concatenate([emb, window_location_scale(windows)], axis=2)

    def _window_distances(
        self, series: Series, windows: SlidingWindows, emb: np.ndarray, index: int
    ) -> np.ndarray:
        """Distance of each window to the nearest fit window, spread over its points."""
        dist = np.empty(emb.shape[:2])
        mean, scale = self.embedding_mean_[index], self.embedding_scale_[index]
        for channel, neighbors in enumerate(self.neighbors_[index]):
            z = (emb[:, channel] - mean[channel]) / scale[channel]
            dist[:, channel] = nearest_other(neighbors, z)
        scores = points_from_windows(dist, windows, per="window")
        if series.observed is not None:
            scores = np.where(series.observed, scores, np.nan)
        return _fill(scores)

    def _head_scores(
        self, series: Series, heads: tuple[str, ...]
    ) -> dict[str, np.ndarray]:
        """Raw (squared-error) scores ``(n_timepoints, n_channels)`` of ``heads``."""
        if not heads:
            return {}
        model = self.model_.to(self._device())
        scores: dict[str, np.ndarray] = {}
        if "time" in heads or "fft" in heads:
            scores.update(self._reconstruction_scores(model, series))
        if "forecast" in heads:
            scores["forecast"] = self._forecast_scores(model, series)
        if series.observed is not None:  # missing points: no error of their own
            scores = {
                h: np.where(series.observed, v, np.nan) for h, v in scores.items()
            }
        scores = {h: _fill(v) for h, v in scores.items()}
        if self.smoothing_length == 1:
            return {h: scores[h] for h in heads}
        return {
            h: uniform_filter1d(
                scores[h], self.smoothing_length, axis=0, mode="nearest"
            )
            for h in heads
        }

    def _reconstruction_scores(
        self, model: TSPulse, series: Series
    ) -> dict[str, np.ndarray]:
        cfg = model.config
        windows = sliding_windows(
            series, cfg.context_length, self._stride(cfg.context_length)
        )
        patch = (
            torch.arange(cfg.context_length, device=self._device()) // cfg.patch_length
        )
        masks = torch.stack([patch % _MASK_GROUPS == g for g in range(_MASK_GROUPS)])

        def errors(x: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
            """Squared errors ``(n, 2, C, T)`` of the time and FFT heads at hidden points."""
            n = x.shape[0]
            # every window once per mask group: (groups * n, C, T)
            xs = x.repeat(_MASK_GROUPS, 1, 1)
            hidden = masks.repeat_interleave(n, dim=0)[:, None, :] & observed.repeat(
                _MASK_GROUPS, 1, 1
            )
            out = model(xs, observed.repeat(_MASK_GROUPS, 1, 1) & ~hidden)
            target = (xs - out.loc) / out.scale
            unit = out.scale**2
            per_head = [
                torch.where(hidden, (target - recon) ** 2 * unit, 0.0)
                .unflatten(0, (_MASK_GROUPS, n))
                .sum(0)
                for recon in (out.time, out.fft_time)
            ]
            return torch.stack(per_head, dim=1).double()

        per_batch = max(1, self.batch_size // (_MASK_GROUPS * series.n_channels))
        err = self._infer(errors, (windows.values, windows.observed), per_batch)
        if self.position_scale_ is None:  # fitting: learn the calibration
            self.position_scale_ = position_profile(
                err, windows.observed, cfg.patch_length
            )
        err = err / self.position_scale_[None, :, None, :]
        return {
            "time": points_from_windows(err[:, 0], windows, per="point"),
            "fft": points_from_windows(err[:, 1], windows, per="point"),
        }

    def _forecast_scores(self, model: TSPulse, series: Series) -> np.ndarray:
        cfg = model.config
        context, horizon = cfg.context_length, cfg.forecast_length
        history = max(1, context // 4)  # points seen by the first forecast
        n, channels = series.n_timepoints, series.n_channels
        if n < history + horizon:
            return np.zeros((n, channels))
        pad = context - history
        values = np.concatenate([np.zeros((pad, channels), np.float32), series.values])
        observed = (
            np.ones(series.values.shape, bool)
            if series.observed is None
            else series.observed
        )
        observed = np.concatenate([np.zeros((pad, channels), bool), observed])
        windows = sliding_windows(Series(values, observed), context + horizon, horizon)

        def errors(x: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
            """Squared forecast errors ``(n, C, horizon)`` at observed targets."""
            out = model(x[..., :context], obs[..., :context])
            target = (x[..., context:] - out.loc) / out.scale
            err = (target - out.forecast) ** 2 * out.scale**2
            return torch.where(obs[..., context:], err, 0.0).double()

        err = self._infer(
            errors,
            (windows.values, windows.observed),
            max(1, self.batch_size // channels),
        )
        targets = SlidingWindows(
            values=windows.values[..., context:],
            observed=windows.observed[..., context:],
            starts=windows.starts + context - pad,
            n_timepoints=n,
        )
        return points_from_windows(err, targets, per="point")


def _heads_of(mode: str) -> tuple[str, ...]:
    """The reconstruction/forecast heads a mode's scores are made of."""
    if mode in HEADS:
        return (mode,)
    return HEADS if mode in ("ensemble", "triangulation", "hybrid") else ()


def position_profile(
    errors: np.ndarray, observed: np.ndarray, patch_length: int
) -> np.ndarray:
    """Typical reconstruction error at each window position, relative to the median one.

    A patch at a window's edge is rebuilt from one side only, so its error is
    larger for reasons that have nothing to do with the series; the first and
    last points of a series are only ever seen at a window's edge. Dividing the
    errors by this profile (learnt on the fit series) puts every position on
    the same footing.

    Parameters
    ----------
    errors : ndarray of shape (n_windows, n_heads, n_channels, length)
        Squared errors of each head at every window point.
    observed : ndarray of shape (n_windows, n_channels, length)
        Where the window holds a real point (errors elsewhere are ignored).
    patch_length : int
        The profile is averaged over each patch (it must divide ``length``).

    Returns
    -------
    ndarray of shape (n_heads, length)
        Positive factors with median 1 (1 where no point was observed).
    """
    e = np.where(observed[:, None], errors, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices
        norm = np.nanmedian(e, axis=(0, 3), keepdims=True)  # per head and channel
        e = e / np.where(norm > 0, norm, 1.0)
        profile = np.nanmedian(e, axis=(0, 2))
        n_heads, length = profile.shape
        profile = np.nanmean(
            profile.reshape(n_heads, length // patch_length, patch_length),
            axis=2,
            keepdims=True,
        )
        profile = np.broadcast_to(
            profile, (n_heads, length // patch_length, patch_length)
        )
        profile = profile.reshape(n_heads, length)
        center = np.nanmedian(profile, axis=1, keepdims=True)
    center = np.where(np.isfinite(center) & (center > 0), center, 1.0)
    profile = profile / center
    return np.where(np.isfinite(profile) & (profile > 0), profile, 1.0)


def _reference(
    emb: np.ndarray, random_state: Any
) -> tuple[np.ndarray, np.ndarray, list[NearestNeighbors]]:
    """Standardisation and per-channel nearest-neighbour index of fit-window features.

    The features are scaled by :func:`feature_scale`; the location and
    log-scale (last two features) weigh as much as the embedding features
    together; more than ``_MAX_REFERENCES`` windows are replaced by their
    K-Means centroids.
    """
    mean = emb.mean(axis=0)
    scale = feature_scale(emb)
    scale[:, -2:] /= np.sqrt((emb.shape[2] - 2) / 2)
    neighbors = []
    for channel in range(emb.shape[1]):
        reference = (emb[:, channel] - mean[channel]) / scale[channel]
        if len(reference) > _MAX_REFERENCES:
            reference = (
                KMeans(_MAX_REFERENCES, n_init=1, random_state=random_state)
                .fit(reference)
                .cluster_centers_
            )
        neighbors.append(
            NearestNeighbors(n_neighbors=min(2, len(reference))).fit(reference)
        )
    return mean, scale, neighbors


def feature_scale(features: np.ndarray) -> np.ndarray:
    """Per-channel spread of window features, borrowed from other channels where flat.

    A feature whose standard deviation over the windows is at most
    ``1e-4 * (1 + |mean|)`` in a channel (float32 rounding noise: the channel
    is constant, or nearly, in the fit series) takes the median standard
    deviation of that feature over the channels where it is not flat, or 1
    when it is flat in every channel.

    Parameters
    ----------
    features : ndarray of shape (n_windows, n_channels, n_features)
        Features of the fit windows.

    Returns
    -------
    ndarray of shape (n_channels, n_features)
        Positive scales.
    """
    std = features.std(axis=0)
    flat = std <= FLAT_TOLERANCE * (1.0 + np.abs(features.mean(axis=0)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # flat in every channel
        pooled = np.nanmedian(np.where(flat, np.nan, std), axis=0)
    pooled = np.where(np.isfinite(pooled), pooled, 1.0)
    return np.where(flat, pooled[None, :], std)


def pad_to_context(
    windows: SlidingWindows, context: int
) -> tuple[np.ndarray, np.ndarray]:
    """Windows left-padded (unobserved) to ``context`` points: ``(values, observed)``."""
    n, channels, length = windows.values.shape
    values = np.zeros((n, channels, context), np.float32)
    observed = np.zeros((n, channels, context), bool)
    values[..., context - length :] = windows.values
    observed[..., context - length :] = windows.observed
    return values, observed


def embed_windows(
    model: TSPulse,
    windows: SlidingWindows,
    kind: str,
    batch_size: int,
    device: torch.device,
) -> np.ndarray:
    """Embeddings ``(n_windows, n_channels, dim)`` of windows left-padded to the context.

    For scripts outside an estimator (the detector itself embeds through its
    batched ``_infer``). ``batch_size`` counts single-channel windows.
    """
    values, observed = pad_to_context(windows, model.config.context_length)
    per_batch = max(1, batch_size // windows.values.shape[1])
    chunks = []
    with torch.inference_mode():
        for x, obs in tensor_batches((values, observed), per_batch, device):
            chunks.append(model.embed(x, obs, kind=kind).float().cpu().numpy())
    return np.concatenate(chunks)


def window_location_scale(windows: SlidingWindows) -> np.ndarray:
    """Mean and log standard deviation of each window's observed points.

    Returns an array ``(n_windows, n_channels, 2)``; a window channel without
    observed points gets location 0 and the log-scale of a constant.
    """
    weight = windows.observed.astype(np.float64)
    values = np.where(windows.observed, windows.values, 0.0).astype(np.float64)
    count = np.maximum(weight.sum(axis=2), 1.0)
    loc = values.sum(axis=2) / count
    var = (((values - loc[..., None]) * weight) ** 2).sum(axis=2) / count
    return np.stack([loc, 0.5 * np.log(var + _VARIANCE_EPS)], axis=2)


def nearest_other(neighbors: NearestNeighbors, query: np.ndarray) -> np.ndarray:
    """Distance of each query row to its nearest reference row, itself excluded.

    A query found in the reference set (distance below a tolerance: a fit
    window scored again) gets the distance to the next nearest one.
    """
    dist = neighbors.kneighbors(query)[0]
    if dist.shape[1] == 1:
        return dist[:, 0]
    return np.where(dist[:, 0] > _SELF_MATCH, dist[:, 0], dist[:, 1])


def _fill(scores: np.ndarray) -> np.ndarray:
    """Points without a score (missing, before the first forecast) get the median."""
    missing = np.isnan(scores)
    if not missing.any():
        return scores
    fill = [
        np.median(col[~m]) if (~m).any() else 0.0 for col, m in zip(scores.T, missing.T)
    ]
    return np.where(missing, np.asarray(fill), scores)
