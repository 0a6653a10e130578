"""Discrete-wavelet-transform (DWT) augmentations for time-series SSL views.

Every function works on a whole batch at once: the series are decomposed with
:func:`pywt.wavedec` along the last axis, the coefficients are modified with
vectorised numpy operations, and the batch is rebuilt with :func:`pywt.waverec`
and cropped back to the original length.

Inputs are arrays of shape ``(n, channels, length)`` or ``(n, length)``; the
output has the same shape and (floating) dtype.  Random parameters are drawn
per series (and per channel) from ``rng``, a :class:`numpy.random.Generator`
or anything :func:`numpy.random.default_rng` accepts (an int seed, ``None``).
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Sequence

import numpy as np
import pywt

__all__ = [
    "dwt_band_scale",
    "dwt_low_pass",
    "dwt_perturb_details",
    "dwt_soft_threshold",
    "dwt_zero_details",
]

#: A wavelet name, a :class:`pywt.Wavelet`, or a sequence of those to pick from.
WaveletLike = str | pywt.Wavelet | Sequence[str | pywt.Wavelet]
RandomLike = np.random.Generator | int | None

_Coeffs = list[np.ndarray]


# --- helpers -----------------------------------------------------------------
def _as_rng(rng: RandomLike) -> np.random.Generator:
    """Return a Generator; ints and None are passed to ``default_rng``."""
    if isinstance(rng, (str, bytes)):
        raise TypeError(
            "rng must be a numpy Generator, an int seed or None, got a string "
            f"({rng!r}); pass wavelet names with the `wavelet=` keyword"
        )
    return np.random.default_rng(rng)


def _as_3d(X: np.ndarray) -> tuple[np.ndarray, bool]:
    """View ``X`` as a float ``(n, c, length)`` array; flag whether it was 2-D."""
    X = np.asarray(X)
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(np.float32)
    if X.ndim == 2:
        return X[:, None, :], True
    if X.ndim == 3:
        return X, False
    raise ValueError(
        "expected an array of shape (n, length) or (n, channels, length), "
        f"got {X.shape}"
    )


def _restore(out: np.ndarray, like: np.ndarray, squeeze: bool) -> np.ndarray:
    """Cast ``out`` to ``like``'s dtype and drop the channel axis if it was added."""
    out = out.astype(like.dtype, copy=False)
    return out[:, 0, :] if squeeze else out


def _check_range(name: str, bounds: tuple[float, float], low: float = -np.inf) -> None:
    lo, hi = bounds
    if not (low <= lo <= hi):
        raise ValueError(
            f"{name} must be (low, high) with {low} <= low <= high, got {bounds}"
        )


def _pick_wavelet(
    wavelet: WaveletLike, rng: np.random.Generator | None
) -> pywt.Wavelet:
    """Resolve ``wavelet``; a sequence gives one entry drawn uniformly from ``rng``."""
    if isinstance(wavelet, (str, pywt.Wavelet)):
        choice = wavelet
    else:
        options = list(wavelet)
        if not options:
            raise ValueError("wavelet sequence is empty")
        if len(options) == 1:
            choice = options[0]
        else:
            if rng is None:
                raise ValueError("a sequence of wavelets needs an `rng` to pick from")
            choice = options[int(rng.integers(len(options)))]
    return choice if isinstance(choice, pywt.Wavelet) else pywt.Wavelet(choice)


def _clamp_level(level: int | None, length: int, wavelet: pywt.Wavelet) -> int:
    max_level = pywt.dwt_max_level(length, wavelet.dec_len)
    if level is None:
        return max_level
    if level < 0:
        raise ValueError(f"level must be >= 0 or None, got {level}")
    return min(int(level), max_level)


def _dwt_map(
    X: np.ndarray,
    rng: np.random.Generator | None,
    wavelet: WaveletLike,
    level: int | None,
    mode: str,
    modify: Callable[[_Coeffs], _Coeffs],
) -> np.ndarray:
    """Decompose, ``modify(coeffs)`` (``[cA_n, cD_n, ..., cD_1]``), rebuild, crop.

    When the series are too short for even one level (``level`` clamps to 0),
    ``modify`` receives ``[X]`` (the approximation only) and no transform runs.
    """
    X3, squeeze = _as_3d(X)
    w = _pick_wavelet(wavelet, rng)
    length = X3.shape[-1]
    if X3.size == 0:
        return _restore(X3.copy(), X3, squeeze)
    lev = _clamp_level(level, length, w)
    if lev == 0:
        out = modify([X3.copy()])[0]
    else:
        coeffs = pywt.wavedec(X3, w, mode=mode, level=lev, axis=-1)
        out = pywt.waverec(modify(coeffs), w, mode=mode, axis=-1)[..., :length]
    return _restore(out, X3, squeeze)


def _band_shape(coeffs: _Coeffs) -> tuple[int, int, int]:
    """``(n, c, 1)``: one random draw per series and channel."""
    n, c = coeffs[0].shape[:2]
    return n, c, 1


_DWT_PARAMS_DOC = """wavelet : str, pywt.Wavelet or sequence of those, default "db4"
        Discrete wavelet.  With a sequence, one wavelet is drawn uniformly at
        random from ``rng`` per call (the whole batch shares it).
    level : int or None, default 3
        Decomposition depth, clamped to ``pywt.dwt_max_level(length, wavelet)``
        so short series work; ``None`` uses the maximum.  When it clamps to 0
        (series shorter than the filter) there are no detail bands and the
        detail-only augmentations return the input unchanged.
    mode : str, default "symmetric"
        Signal-extension mode passed to pywt.  "periodization" makes the
        transform orthogonal (non-redundant) for orthogonal wavelets."""


def _doc(func: Callable) -> Callable:
    """Fill the shared ``{dwt_params}`` block, matching the line's indentation."""
    doc = func.__doc__ or ""
    match = re.search(r"^([ \t]*)\{dwt_params\}", doc, flags=re.MULTILINE)
    if match:
        indent = match.group(1)
        block = textwrap.indent(textwrap.dedent("    " + _DWT_PARAMS_DOC), indent)
        doc = doc[: match.start()] + block + doc[match.end():]
    func.__doc__ = doc
    return func


# --- augmentations -----------------------------------------------------------
@_doc
def dwt_low_pass(
    X: np.ndarray,
    rng: RandomLike = None,
    wavelet: WaveletLike = "db4",
    level: int | None = 3,
    *,
    mode: str = "symmetric",
) -> np.ndarray:
    """Keep only the DWT approximation: zero every detail band.

    Deterministic unless ``wavelet`` is a sequence (then ``rng`` picks one).

    Parameters
    ----------
    X : ndarray of shape (n, channels, length) or (n, length)
        Batch of series.
    rng : numpy Generator, int or None, default None
        Only used to draw the wavelet when ``wavelet`` is a sequence.
    {dwt_params}

    Returns
    -------
    ndarray
        Low-passed batch, same shape and dtype as ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(256)
    >>> X = (np.sin(2 * np.pi * t / 128) + np.sin(2 * np.pi * t / 3))[None]
    >>> Y = dwt_low_pass(X.astype("float32"), level=3)
    >>> Y.shape, Y.dtype
    ((1, 256), dtype('float32'))
    >>> bool(np.abs(Y - np.sin(2 * np.pi * t / 128)).mean() < 0.1)
    True
    """
    fixed = isinstance(wavelet, (str, pywt.Wavelet))
    rng_ = None if rng is None and fixed else _as_rng(rng)

    def modify(coeffs: _Coeffs) -> _Coeffs:
        return [coeffs[0]] + [np.zeros_like(d) for d in coeffs[1:]]

    return _dwt_map(X, rng_, wavelet, level, mode, modify)


@_doc
def dwt_soft_threshold(
    X: np.ndarray,
    rng: RandomLike = None,
    sigma: float = 0.3,
    wavelet: WaveletLike = "db4",
    level: int | None = 3,
    *,
    mode: str = "symmetric",
) -> np.ndarray:
    """Soft-threshold the detail coefficients (wavelet shrinkage).

    In every detail band of every series and channel the threshold is
    ``t = sigma * max|c|`` and each coefficient becomes
    ``sign(c) * max(|c| - t, 0)``.  The approximation is untouched.

    Parameters
    ----------
    X : ndarray of shape (n, channels, length) or (n, length)
        Batch of series.
    rng : numpy Generator, int or None
        Only used to draw the wavelet when ``wavelet`` is a sequence.
    sigma : float, default 0.3
        Relative threshold in ``[0, 1]``; 0 is the identity, 1 zeroes the details.
    {dwt_params}

    Returns
    -------
    ndarray
        Denoised batch, same shape and dtype as ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(4, 2, 128)).astype("float32")
    >>> Y = dwt_soft_threshold(X, rng=0, sigma=0.3)
    >>> Y.shape, bool(Y.std() < X.std())
    ((4, 2, 128), True)
    """
    if not 0.0 <= sigma <= 1.0:
        raise ValueError(f"sigma must be in [0, 1], got {sigma}")
    rng_ = _as_rng(rng)

    def modify(coeffs: _Coeffs) -> _Coeffs:
        out = [coeffs[0]]
        for d in coeffs[1:]:
            mag = np.abs(d)
            thr = sigma * mag.max(axis=-1, keepdims=True)
            out.append(np.sign(d) * np.maximum(mag - thr, 0))
        return out

    return _dwt_map(X, rng_, wavelet, level, mode, modify)


@_doc
def dwt_zero_details(
    X: np.ndarray,
    rng: RandomLike = None,
    fraction: float = 0.4,
    finest_levels: int = 2,
    wavelet: WaveletLike = "db4",
    level: int | None = 3,
    *,
    mode: str = "symmetric",
) -> np.ndarray:
    """Zero a random subset of the coefficients of the finest detail bands.

    In each of the ``finest_levels`` finest detail bands (``cD_1`` ... ), for
    every series and channel independently, exactly
    ``round(fraction * band_length)`` coefficients, chosen uniformly at random,
    are set to zero.

    Parameters
    ----------
    X : ndarray of shape (n, channels, length) or (n, length)
        Batch of series.
    rng : numpy Generator, int or None
        Random source (positions to zero, and the wavelet if a sequence).
    fraction : float, default 0.4
        Fraction in ``[0, 1]`` of each affected band to zero.
    finest_levels : int, default 2
        How many of the finest detail bands are affected (clamped to the
        decomposition depth).
    {dwt_params}

    Returns
    -------
    ndarray
        Augmented batch, same shape and dtype as ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(8, 64)).astype("float32")
    >>> Y = dwt_zero_details(X, rng=1, fraction=0.4, finest_levels=2)
    >>> Y.shape, bool(np.allclose(Y, X))
    ((8, 64), False)
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    if finest_levels < 0:
        raise ValueError(f"finest_levels must be >= 0, got {finest_levels}")
    rng_ = _as_rng(rng)

    def modify(coeffs: _Coeffs) -> _Coeffs:
        out = list(coeffs)
        n_details = len(coeffs) - 1
        for i in range(len(coeffs) - min(finest_levels, n_details), len(coeffs)):
            d = coeffs[i]
            k = int(round(fraction * d.shape[-1]))
            if k == 0:
                continue
            # rank of a uniform key = a random permutation per (series, channel)
            ranks = rng_.random(d.shape).argsort(axis=-1).argsort(axis=-1)
            out[i] = np.where(ranks < k, 0, d).astype(d.dtype, copy=False)
        return out

    return _dwt_map(X, rng_, wavelet, level, mode, modify)


@_doc
def dwt_perturb_details(
    X: np.ndarray,
    rng: RandomLike = None,
    noise: tuple[float, float] = (0.1, 0.3),
    wavelet: WaveletLike = "db4",
    level: int | None = 3,
    *,
    mode: str = "symmetric",
) -> np.ndarray:
    """Add Gaussian noise to the detail coefficients, scaled to each band.

    For every series and channel a strength ``s ~ U(noise)`` is drawn; every
    detail band ``d`` then receives ``N(0, (s * std(d))**2)`` noise, where
    ``std(d)`` is that band's standard deviation for that series and channel
    (so constant or all-zero series are left unchanged).

    Parameters
    ----------
    X : ndarray of shape (n, channels, length) or (n, length)
        Batch of series.
    rng : numpy Generator, int or None
        Random source.
    noise : (float, float), default (0.1, 0.3)
        Range of the relative noise strength ``s``.
    {dwt_params}

    Returns
    -------
    ndarray
        Augmented batch, same shape and dtype as ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(8, 3, 96)).astype("float32")
    >>> Y = dwt_perturb_details(X, rng=0, noise=(0.2, 0.5))
    >>> Y.shape, Y.dtype
    ((8, 3, 96), dtype('float32'))
    """
    _check_range("noise", noise, low=0.0)
    rng_ = _as_rng(rng)

    def modify(coeffs: _Coeffs) -> _Coeffs:
        if len(coeffs) == 1:
            return coeffs
        s = rng_.uniform(noise[0], noise[1], size=_band_shape(coeffs))
        out = [coeffs[0]]
        for d in coeffs[1:]:
            scale = s * d.std(axis=-1, keepdims=True)
            out.append((d + scale * rng_.standard_normal(d.shape)).astype(d.dtype))
        return out

    return _dwt_map(X, rng_, wavelet, level, mode, modify)


@_doc
def dwt_band_scale(
    X: np.ndarray,
    rng: RandomLike = None,
    approx: tuple[float, float] = (0.8, 1.2),
    detail: tuple[float, float] = (0.4, 1.6),
    wavelet: WaveletLike = "db4",
    level: int | None = 3,
    *,
    mode: str = "symmetric",
) -> np.ndarray:
    """Rescale the approximation and each detail band by random gains.

    Per series and channel, the approximation is multiplied by a factor drawn
    from ``U(approx)`` and every detail band by its own factor from
    ``U(detail)``.  With both ranges ``(1, 1)`` this is the identity (up to the
    float precision of the DWT round trip).

    Parameters
    ----------
    X : ndarray of shape (n, channels, length) or (n, length)
        Batch of series.
    rng : numpy Generator, int or None
        Random source.
    approx : (float, float), default (0.8, 1.2)
        Range of the approximation gain.
    detail : (float, float), default (0.4, 1.6)
        Range of each detail band's gain.
    {dwt_params}

    Returns
    -------
    ndarray
        Augmented batch, same shape and dtype as ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(4, 128)).astype("float32")
    >>> bool(np.allclose(dwt_band_scale(X, 0, approx=(1, 1), detail=(1, 1)), X,
    ...                  atol=1e-5))
    True
    """
    _check_range("approx", approx)
    _check_range("detail", detail)
    rng_ = _as_rng(rng)

    def modify(coeffs: _Coeffs) -> _Coeffs:
        shape = _band_shape(coeffs)
        gains = [rng_.uniform(approx[0], approx[1], size=shape)]
        gains += [rng_.uniform(detail[0], detail[1], size=shape) for _ in coeffs[1:]]
        return [(c * g).astype(c.dtype, copy=False) for c, g in zip(coeffs, gains)]

    return _dwt_map(X, rng_, wavelet, level, mode, modify)
