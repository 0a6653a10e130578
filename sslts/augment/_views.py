"""Simple time-series augmentations, a per-sample pipeline and SSL view recipes.

The recipes follow section 4 of SCIENCE.md ("Quantifying the Pre-training
Dividend", LeJEPA and DINO for time series).  All functions share the calling
convention of :mod:`sslts.augment._wavelet`: ``f(X, rng, **params) -> X`` on
``(n, channels, length)`` or ``(n, length)`` float arrays, with random
parameters drawn per series (and per channel where documented) from ``rng``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import NamedTuple

import numpy as np

from sslts.augment._wavelet import (
    RandomLike,
    WaveletLike,
    _as_3d,
    _as_rng,
    _restore,
    dwt_perturb_details,
    dwt_soft_threshold,
    dwt_zero_details,
)

__all__ = [
    "DINO_WAVELETS",
    "AugmentationPipeline",
    "DinoViews",
    "LocalCrops",
    "amplitude_scale",
    "channel_dropout",
    "dino_views",
    "fft_bin_mask",
    "jitter",
    "lejepa_views",
    "random_crop",
]

Augmentation = Callable[[np.ndarray, np.random.Generator], np.ndarray]

#: Wavelets the DINO recipe draws from (one per call).
DINO_WAVELETS: tuple[str, ...] = ("sym4", "sym6", "sym8", "db4", "db6")


# --- simple augmentations ----------------------------------------------------
def jitter(X: np.ndarray, rng: RandomLike = None, std: float = 0.05) -> np.ndarray:
    """Add Gaussian noise relative to each series' own standard deviation.

    Every point of series ``i``, channel ``j`` receives
    ``N(0, (std * std(X[i, j]))**2)`` noise, so the noise level does not depend
    on the series' scale (constant series are left unchanged).

    Parameters
    ----------
    X : ndarray of shape (n, channels, length) or (n, length)
        Batch of series.
    rng : numpy Generator, int or None
        Random source.
    std : float, default 0.05
        Noise standard deviation as a fraction of the series' std.

    Returns
    -------
    ndarray
        Noisy batch, same shape and dtype as ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> X = 100 * np.random.default_rng(0).normal(size=(4, 2, 64)).astype("float32")
    >>> Y = jitter(X, rng=0, std=0.05)
    >>> bool(0.02 < (Y - X).std() / X.std() < 0.08)
    True
    """
    if std < 0:
        raise ValueError(f"std must be >= 0, got {std}")
    X3, squeeze = _as_3d(X)
    rng = _as_rng(rng)
    scale = std * X3.std(axis=-1, keepdims=True)
    out = X3 + scale * rng.standard_normal(X3.shape)
    return _restore(out, X3, squeeze)


def amplitude_scale(
    X: np.ndarray, rng: RandomLike = None, low: float = 0.8, high: float = 1.2
) -> np.ndarray:
    """Multiply each series (all its channels together) by a factor ``U(low, high)``.

    Parameters
    ----------
    X : ndarray of shape (n, channels, length) or (n, length)
        Batch of series.
    rng : numpy Generator, int or None
        Random source.
    low, high : float, default 0.8, 1.2
        Range of the gain.

    Returns
    -------
    ndarray
        Scaled batch, same shape and dtype as ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> Y = amplitude_scale(np.ones((3, 2, 5), "float32"), rng=0)
    >>> bool(np.all((Y >= 0.8) & (Y <= 1.2))), bool(np.all(Y[:, 0] == Y[:, 1]))
    (True, True)
    """
    if not low <= high:
        raise ValueError(f"need low <= high, got {low}, {high}")
    X3, squeeze = _as_3d(X)
    rng = _as_rng(rng)
    gain = rng.uniform(low, high, size=(X3.shape[0], 1, 1))
    return _restore(X3 * gain, X3, squeeze)


def channel_dropout(
    X: np.ndarray, rng: RandomLike = None, p: float = 0.2
) -> np.ndarray:
    """Zero whole channels at random, never all channels of a series.

    Each channel of each series is dropped independently with probability
    ``p``; when that would drop every channel of a series, one of them, chosen
    at random, is kept.  Univariate series (and 2-D input) are therefore
    returned unchanged, and the realised drop rate is slightly below ``p`` when
    there are few channels.

    Parameters
    ----------
    X : ndarray of shape (n, channels, length) or (n, length)
        Batch of series.
    rng : numpy Generator, int or None
        Random source.
    p : float, default 0.2
        Drop probability per channel, in ``[0, 1]``.

    Returns
    -------
    ndarray
        Batch with dropped channels set to 0, same shape and dtype as ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> Y = channel_dropout(np.ones((100, 4, 8), "float32"), rng=0, p=0.5)
    >>> bool((Y.any(axis=-1).sum(axis=1) >= 1).all())
    True
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p}")
    X3, squeeze = _as_3d(X)
    rng = _as_rng(rng)
    n, c, _ = X3.shape
    drop = rng.random((n, c)) < p
    all_dropped = drop.all(axis=1)
    if c and all_dropped.any():
        keep = rng.integers(c, size=n)
        rows = np.flatnonzero(all_dropped)
        drop[rows, keep[rows]] = False
    out = np.where(drop[:, :, None], 0, X3)
    return _restore(out, X3, squeeze)


def fft_bin_mask(
    X: np.ndarray, rng: RandomLike = None, max_fraction: float = 0.3
) -> np.ndarray:
    """Zero a random subset of frequency bins of each series and channel.

    For every series and channel a fraction ``f ~ U(0, max_fraction)`` is
    drawn and ``round(f * n_bins)`` of the ``n_bins = length // 2`` non-DC
    :func:`numpy.fft.rfft` bins, chosen at random, are zeroed; the DC bin is
    always kept, so each series' mean is preserved.  The result is
    transformed back with :func:`numpy.fft.irfft` to the original length.

    Parameters
    ----------
    X : ndarray of shape (n, channels, length) or (n, length)
        Batch of series.
    rng : numpy Generator, int or None
        Random source.
    max_fraction : float, default 0.3
        Largest fraction of non-DC bins to zero, in ``[0, 1]``.

    Returns
    -------
    ndarray
        Filtered batch, same shape and dtype as ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(4, 2, 64)).astype("float32")
    >>> Y = fft_bin_mask(X, rng=0, max_fraction=0.3)
    >>> bool(np.allclose(Y.mean(-1), X.mean(-1), atol=1e-5))
    True
    """
    if not 0.0 <= max_fraction <= 1.0:
        raise ValueError(f"max_fraction must be in [0, 1], got {max_fraction}")
    X3, squeeze = _as_3d(X)
    rng = _as_rng(rng)
    n, c, length = X3.shape
    n_bins = length // 2  # rfft bins besides DC
    if X3.size == 0 or n_bins == 0:
        return _restore(X3.copy(), X3, squeeze)
    k = np.rint(rng.uniform(0.0, max_fraction, size=(n, c, 1)) * n_bins)
    ranks = rng.random((n, c, n_bins)).argsort(axis=-1).argsort(axis=-1)
    spec = np.fft.rfft(X3, axis=-1)
    spec[..., 1:] *= ranks >= k
    out = np.fft.irfft(spec, n=length, axis=-1)
    return _restore(out, X3, squeeze)


def random_crop(
    X: np.ndarray,
    rng: RandomLike = None,
    fraction: float = 0.4,
    output_length: int | None = None,
) -> np.ndarray:
    """Cut one random contiguous window of each series (all channels together).

    The window has ``max(1, round(fraction * length))`` points and a start
    drawn uniformly per series.  With ``output_length=None`` the crop is
    returned at its own (short) length; with an int it is resized to
    ``output_length`` points by linear interpolation inside the window.

    Parameters
    ----------
    X : ndarray of shape (n, channels, length) or (n, length)
        Batch of series.
    rng : numpy Generator, int or None
        Random source.
    fraction : float, default 0.4
        Window length as a fraction of ``length``, in ``(0, 1]``.
    output_length : int or None, default None
        Resize target; ``None`` keeps the crop short.

    Returns
    -------
    ndarray of shape (n, channels, crop_length) or (n, crop_length)
        Crops with the input's dtype and ndim.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(20, dtype="float32").reshape(2, 10)
    >>> random_crop(X, rng=0, fraction=0.4).shape
    (2, 4)
    >>> random_crop(X, rng=0, fraction=0.4, output_length=10).shape
    (2, 10)
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    if output_length is not None and output_length < 1:
        raise ValueError(f"output_length must be >= 1 or None, got {output_length}")
    X3, squeeze = _as_3d(X)
    rng = _as_rng(rng)
    n, c, length = X3.shape
    if length == 0:
        raise ValueError("cannot crop series of length 0")
    width = min(length, max(1, int(round(fraction * length))))
    starts = rng.integers(0, length - width + 1, size=(n, 1, 1))
    if output_length is None:
        idx = np.broadcast_to(starts + np.arange(width), (n, c, width))
        out = np.take_along_axis(X3, idx, axis=-1)
    else:
        pos = starts + np.linspace(0.0, width - 1, output_length)  # (n, 1, out)
        left = np.floor(pos).astype(np.intp)
        right = np.minimum(left + 1, length - 1)
        w = pos - left
        shape = (n, c, output_length)
        lo = np.take_along_axis(X3, np.broadcast_to(left, shape), axis=-1)
        hi = np.take_along_axis(X3, np.broadcast_to(right, shape), axis=-1)
        out = lo * (1 - w) + hi * w
    return _restore(out, X3, squeeze)


# --- pipeline ----------------------------------------------------------------
class AugmentationPipeline:
    """Apply a sequence of augmentations, each to a random subset of the samples.

    For every step a Bernoulli(``p``) draw per sample decides whether that
    sample is augmented; the step is then called once on the selected rows
    only (``step(X[selected], rng)``), so the work stays vectorised.  All
    randomness comes from the single ``rng`` passed to :meth:`__call__`.

    Parameters
    ----------
    steps : sequence of callables ``f(X, rng) -> X``
        Augmentations, applied in order.  They receive 3-D
        ``(n_selected, channels, length)`` arrays and must keep the shape.
        Use :func:`functools.partial` to fix their parameters.
    p : float or sequence of floats, default 0.5
        Per-sample application probability, one for all steps or one per step.

    Examples
    --------
    >>> import numpy as np
    >>> from functools import partial
    >>> pipe = AugmentationPipeline([jitter, partial(amplitude_scale, low=0.5)], p=0.5)
    >>> X = np.random.default_rng(0).normal(size=(16, 2, 32)).astype("float32")
    >>> Y = pipe(X, rng=0)
    >>> Y.shape, bool(np.array_equal(Y, pipe(X, rng=0)))
    ((16, 2, 32), True)
    """

    def __init__(self, steps: Sequence[Augmentation], p: float | Sequence[float] = 0.5):
        self.steps = list(steps)
        for step in self.steps:
            if not callable(step):
                raise TypeError(f"pipeline steps must be callable, got {step!r}")
        if np.ndim(p) == 0:
            probs = [float(p)] * len(self.steps)
        else:
            probs = [float(q) for q in p]
        if len(probs) != len(self.steps):
            raise ValueError(
                f"got {len(probs)} probabilities for {len(self.steps)} steps"
            )
        if any(not 0.0 <= q <= 1.0 for q in probs):
            raise ValueError(f"probabilities must be in [0, 1], got {probs}")
        self.p = p
        self._probs = probs

    def __len__(self) -> int:
        return len(self.steps)

    def __repr__(self) -> str:
        names = ", ".join(_step_name(s) for s in self.steps)
        return f"{type(self).__name__}([{names}], p={self.p!r})"

    def __call__(self, X: np.ndarray, rng: RandomLike = None) -> np.ndarray:
        """Augment a batch; returns a new array with the shape and dtype of ``X``."""
        X3, squeeze = _as_3d(X)
        rng = _as_rng(rng)
        out = X3.copy()
        n = out.shape[0]
        for step, q in zip(self.steps, self._probs):
            selected = rng.random(n) < q
            if selected.all():
                out = np.asarray(step(out, rng), dtype=out.dtype)
            elif selected.any():
                out[selected] = step(out[selected], rng)
        return _restore(out, X3, squeeze)


def _step_name(step: Callable) -> str:
    if isinstance(step, partial):
        args = ", ".join(f"{k}={v!r}" for k, v in step.keywords.items())
        return f"{_step_name(step.func)}({args})"
    return getattr(step, "__name__", repr(step))


def _base_steps(
    jitter_std: float,
    amplitude: tuple[float, float],
    channel_p: float,
    fft_fraction: float,
) -> list[Augmentation]:
    return [
        partial(jitter, std=jitter_std),
        partial(amplitude_scale, low=amplitude[0], high=amplitude[1]),
        partial(channel_dropout, p=channel_p),
        partial(fft_bin_mask, max_fraction=fft_fraction),
    ]


# --- recipes -----------------------------------------------------------------
def lejepa_views(
    p: float = 0.5,
    dwt_p: float = 0.5,
    *,
    wavelet: WaveletLike = "db4",
    level: int = 3,
    sigma: float = 0.3,
    noise: tuple[float, float] = (0.1, 0.3),
    jitter_std: float = 0.05,
    amplitude: tuple[float, float] = (0.8, 1.2),
    channel_p: float = 0.2,
    fft_fraction: float = 0.3,
) -> tuple[AugmentationPipeline, AugmentationPipeline]:
    """The two LeJEPA views of the "pre-training dividend" recipe.

    Both views run jitter, amplitude scaling, channel dropout and FFT-bin
    masking, each with probability ``p`` per sample, then a DWT step with
    probability ``dwt_p``: soft thresholding (view 1) or detail perturbation
    (view 2).  Defaults follow the "pre-training dividend" study's recipe (db4,
    level 3, sigma 0.3, noise U(0.1, 0.3)).

    Parameters
    ----------
    p : float, default 0.5
        Per-sample probability of each simple step.
    dwt_p : float, default 0.5
        Per-sample probability of the DWT step; set 1.0 to always apply it.
    wavelet, level
        DWT wavelet (name or sequence to draw from) and depth.
    sigma : float, default 0.3
        Relative soft threshold of view 1.
    noise : (float, float), default (0.1, 0.3)
        Relative detail-noise range of view 2.
    jitter_std, amplitude, channel_p, fft_fraction
        Parameters of :func:`jitter`, :func:`amplitude_scale`,
        :func:`channel_dropout` and :func:`fft_bin_mask`.

    Returns
    -------
    (AugmentationPipeline, AugmentationPipeline)
        View 1 and view 2.

    Examples
    --------
    >>> import numpy as np
    >>> view1, view2 = lejepa_views()
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(8, 3, 336)).astype("float32")
    >>> v1, v2 = view1(X, rng), view2(X, rng)
    >>> v1.shape == v2.shape == X.shape
    True
    """
    base = _base_steps(jitter_std, amplitude, channel_p, fft_fraction)
    probs = [p] * len(base) + [dwt_p]
    view1 = partial(dwt_soft_threshold, sigma=sigma, wavelet=wavelet, level=level)
    view2 = partial(dwt_perturb_details, noise=noise, wavelet=wavelet, level=level)
    return (
        AugmentationPipeline([*base, view1], p=probs),
        AugmentationPipeline([*base, view2], p=probs),
    )


class LocalCrops:
    """Draw ``n_crops`` random local crops per series and augment them.

    Each crop is :func:`random_crop` with ``fraction`` (short crops by default,
    or resized to ``output_length`` by linear interpolation); all crops of the
    batch are then stacked and passed through ``pipeline`` in one call.

    Parameters
    ----------
    n_crops : int
        Crops per series.
    fraction : float
        Crop length as a fraction of the series length.
    output_length : int or None
        Resize target, or ``None`` to keep the crops short.
    pipeline : callable ``f(X, rng) -> X`` or None
        Augmentation applied to the crops (``None``: none).
    """

    def __init__(
        self,
        n_crops: int = 6,
        fraction: float = 0.4,
        output_length: int | None = None,
        pipeline: Augmentation | None = None,
    ):
        if n_crops < 0:
            raise ValueError(f"n_crops must be >= 0, got {n_crops}")
        self.n_crops = n_crops
        self.fraction = fraction
        self.output_length = output_length
        self.pipeline = pipeline

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(n_crops={self.n_crops}, fraction={self.fraction}, "
            f"output_length={self.output_length}, pipeline={self.pipeline!r})"
        )

    def __call__(self, X: np.ndarray, rng: RandomLike = None) -> list[np.ndarray]:
        """Return a list of ``n_crops`` arrays, each shaped like a crop of ``X``."""
        X3, squeeze = _as_3d(X)
        rng = _as_rng(rng)
        n = X3.shape[0]
        if self.n_crops == 0:
            return []
        tiled = np.concatenate([X3] * self.n_crops, axis=0)
        crops = random_crop(tiled, rng, self.fraction, self.output_length)
        if self.pipeline is not None:
            crops = self.pipeline(crops, rng)
        crops = _restore(crops, X3, squeeze)
        return [crops[i * n : (i + 1) * n] for i in range(self.n_crops)]


class DinoViews(NamedTuple):
    """Views of the DINO recipe: two global pipelines and a local-crop sampler.

    Parameters
    ----------
    global_views : tuple of AugmentationPipeline
        The two global-view pipelines.
    local_views : LocalCrops
        The sampler of local crops.
    """

    global_views: tuple[AugmentationPipeline, AugmentationPipeline]
    local_views: LocalCrops


def dino_views(
    n_local: int = 6,
    local_fraction: float = 0.4,
    local_length: int | None = None,
    p: float = 0.5,
    dwt_p: float = 0.5,
    *,
    wavelet: WaveletLike = DINO_WAVELETS,
    level: int = 3,
    sigma: float = 0.6,
    zero_fraction: float = 0.4,
    finest_levels: int = 3,
    noise: tuple[float, float] = (0.2, 0.5),
    jitter_std: float = 0.05,
    amplitude: tuple[float, float] = (0.8, 1.2),
    channel_p: float = 0.2,
    fft_fraction: float = 0.3,
) -> DinoViews:
    """DINO global and local views with the stronger DWT defaults.

    Every view runs jitter, amplitude scaling, channel dropout and FFT-bin
    masking (each with probability ``p`` per sample) and then one DWT step
    (probability ``dwt_p``), with a wavelet drawn per call from
    :data:`DINO_WAVELETS`:

    * global view 1: soft thresholding, ``sigma`` 0.6;
    * global view 2: zeroing ``zero_fraction`` of the finest 3 detail bands;
    * local views: ``n_local`` random crops of ``local_fraction`` of the
      length, then detail perturbation with noise ``U(0.2, 0.5)``.

    The split of DWT modes over the views is our choice: the "pre-training
    dividend" study lists the DINO DWT defaults and names soft thresholding
    (global) and detail perturbation (local) as the reference's DWT option;
    using zeroing for the
    second global view makes the two global views differ in kind, as the
    two LeJEPA views do.  Local crops are kept short by default (fewer
    patches, as DINO's local crops are smaller), or resized to
    ``local_length`` points by linear interpolation.

    Parameters
    ----------
    n_local : int, default 6
        Local crops per series.
    local_fraction : float, default 0.4
        Local crop length as a fraction of the series length.
    local_length : int or None, default None
        ``None`` keeps local crops at ``round(local_fraction * length)``
        points; an int resizes them to that length.
    p, dwt_p : float, default 0.5
        Per-sample probabilities of the simple steps and of the DWT step.
    wavelet, level, sigma, zero_fraction, finest_levels, noise
        DWT parameters (see the ``dwt_*`` functions).
    jitter_std, amplitude, channel_p, fft_fraction
        Parameters of the simple augmentations.

    Returns
    -------
    DinoViews
        ``(global_views, local_views)``: a pair of pipelines and a
        :class:`LocalCrops` returning a list of ``n_local`` arrays.

    Examples
    --------
    >>> import numpy as np
    >>> (g1, g2), local = dino_views(n_local=6, local_fraction=0.4)
    >>> X = np.random.default_rng(0).normal(size=(4, 2, 320)).astype("float32")
    >>> g1(X, 0).shape, len(local(X, 0)), local(X, 0)[0].shape
    ((4, 2, 320), 6, (4, 2, 128))
    """
    base = _base_steps(jitter_std, amplitude, channel_p, fft_fraction)
    probs = [p] * len(base) + [dwt_p]
    dwt = {"wavelet": wavelet, "level": level}
    global1 = AugmentationPipeline(
        [*base, partial(dwt_soft_threshold, sigma=sigma, **dwt)], p=probs
    )
    zero = partial(
        dwt_zero_details, fraction=zero_fraction, finest_levels=finest_levels, **dwt
    )
    global2 = AugmentationPipeline([*base, zero], p=probs)
    local_pipe = AugmentationPipeline(
        [*base, partial(dwt_perturb_details, noise=noise, **dwt)], p=probs
    )
    local = LocalCrops(n_local, local_fraction, local_length, local_pipe)
    return DinoViews((global1, global2), local)
