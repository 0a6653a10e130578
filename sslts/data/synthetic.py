"""Synthetic pretraining series: KernelSynth and CauKer, fast and reproducible.

Both generators follow the published recipes (KernelSynth from Chronos; CauKer,
arXiv 2508.02879). They sample the Gaussian processes without factorising a
new covariance matrix for each series, which makes them about a hundred times
faster than the reference code.

Kernel bank
-----------
There are 36 kernels on the grid ``x = linspace(0, 1, length)``. Their
hyper-parameters are on the unit interval, as fractions of the reference length
512, so a series shows the same structure at any ``length``:

* 21 ExpSineSquared (length-scale 1) with the CauKer periodicities
  ``{24, 48, 96, 168, 336, 672, 7, 14, 30, 60, 365, 730, 4, 26, 52, 4, 6, 12,
  4, 40, 10} / 512`` (duplicates kept, as in the reference);
* DotProduct with sigma0 in {0, 1, 10}; RBF with length-scale in {0.1, 1, 10};
  RationalQuadratic (length-scale 1) with alpha in {0.1, 1, 10};
* WhiteKernel with noise level in {0.1, 1}; ConstantKernel (1);
* Matérn with (nu, length-scale) = (1/2, 1/512), (3/2, 5/512), (5/2, 20/512).

Periods shorter than two grid steps alias (e.g. 4/512 at ``length=128``).

How the Gaussian processes are sampled
--------------------------------------
A composition folds 1..``max_kernels`` bank kernels from the left with ``+`` or
``*`` (probability 1/2 each). Expanding it by distributivity gives a sum of
products of bank kernels, e.g. ``(A + B) * C = A*C + B*C``.

* **Sums** are exact: a sample of ``K1 + K2`` is the sum of independent
  samples of ``K1`` and ``K2``, so each product is sampled on its own.
* **Stationary products** (no DotProduct) whose circulant embedding on
  ``2 (length - 1)`` points is positive semi-definite are sampled exactly by one
  FFT. That covers the WhiteKernel, the Matérn kernels, RBF(0.1) and most
  products containing one of them.
* **Other products** use per-kernel factors ``K ~ F F^T`` (``F = U
  sqrt(Lambda)``). These are computed once per ``length`` and per process by a
  symmetric eigendecomposition, so they never fail the way the reference's
  Cholesky does. Round-off negative eigenvalues are clipped, and trailing
  eigenpairs holding less than 1e-9 of the trace are dropped, so smooth kernels
  keep at most about 25 columns. A product ``K1 * K2 * ...`` equals ``G G^T``,
  where ``G`` is the row-wise Kronecker (Khatri-Rao) product of the ``Fi``, so
  ``z = G xi`` is an exact sample. It is computed at a cost of ``length *
  prod(rank_i)`` by one matrix product of balanced shape: the factors are split
  into two groups of about equal rank, with Khatri-Rao products ``A`` and
  ``B``, and ``z[n] = A[n] Xi B[n]^T`` for a standard normal matrix ``Xi``.
* **Approximation.** When ``prod(rank_i)`` exceeds 16384, the ranks are
  shared out greedily to keep as much of each factor's variance as possible
  (:func:`_share_ranks`), and the variance that is dropped, ``diag(K) -
  diag(G G^T)``, is added back as white noise. Marginal variances stay exact,
  and the correlations lose some fine-scale structure. At ``length=512``, about
  2% of the products in random compositions are truncated, and 0.2% have a
  largest correlation error above 0.01 (mostly a DotProduct times Matérn
  kernels, or four or more periodic kernels).

Reproducibility
---------------
Draw ``j`` (one series for KernelSynth, one DAG for CauKer) uses its own
generator, seeded by ``SeedSequence(entropy, spawn_key=(j,))``, which is the
``j``-th child of ``SeedSequence(random_state).spawn``. Draws are computed
independently of each other, so the output does not depend on how generation is
split into calls, on ``start`` or on ``n_jobs``.

Speed
-----
At ``length=512`` on one core, CauKer makes about 3,100-3,600 series/s and
KernelSynth about 5,900-6,800 with the machine's other core idle (2,600-2,900 and
5,000-5,700 with it busy; ``benchmarks/bench_generation.py``). CauKer draws
everything random in a DAG first (structure, weights, activations, roots), then
evaluates a block of DAGs together, node by node, so that the per-node Python
overhead is shared by the block. The rest of the time is spent sampling the
roots' Gaussian processes, mostly in the matrix products of products with many
Khatri-Rao columns.
"""

from __future__ import annotations

import functools
import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields

import numpy as np
import torch
from joblib import Parallel, delayed
from scipy import special
from torch.utils.data import IterableDataset, get_worker_info
from tqdm.auto import tqdm

__all__ = ["CauKer", "KernelSynth", "SyntheticSeriesDataset"]

# Spectrum mass below this fraction is negligible: trailing eigenpairs of a
# base kernel, or negative eigenvalues of a circulant embedding (then clipped).
_EIG_TAIL = 1e-9
# Largest Khatri-Rao rank of a product sampled without truncation.
_MAX_PRODUCT_RANK = 16384
# Truncation residual below this fraction of the variance is not restored.
_RESIDUAL_FLOOR = 1e-6
# A series whose std is below this fraction of its RMS is taken as constant.
_CONSTANT_RTOL = 1e-6
# Draws per joblib task (also the progress-bar granularity).
_DRAWS_PER_TASK = 64

_CAUKER_PERIODS = (
    24, 48, 96, 168, 336, 672, 7, 14, 30, 60, 365, 730, 4, 26, 52, 4, 6, 12, 4, 40, 10,
)  # fmt: skip


def _matern(nu_times_2: int) -> Callable[[np.ndarray, float], np.ndarray]:
    """Matérn kernel of half-integer smoothness ``nu = nu_times_2 / 2`` (1, 3, 5)."""
    coefficients = {1: (1.0,), 3: (1.0, 1.0), 5: (1.0, 1.0, 1.0 / 3.0)}[nu_times_2]

    def kernel(d: np.ndarray, length_scale: float) -> np.ndarray:
        a = math.sqrt(nu_times_2) * d / length_scale
        return np.polynomial.polynomial.polyval(a, coefficients) * np.exp(-a)

    return kernel


# Stationary kernels as functions of the distance |x - x'| and one parameter.
_STATIONARY: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "exp_sine_squared": lambda d, p: np.exp(-2.0 * np.sin(np.pi * d / p) ** 2),
    "rbf": lambda d, length_scale: np.exp(-0.5 * (d / length_scale) ** 2),
    "rational_quadratic": lambda d, alpha: (1.0 + d**2 / (2.0 * alpha)) ** -alpha,
    "white": lambda d, noise: noise * (d == 0.0),
    "constant": lambda d, value: np.full_like(d, value),
    "matern12": _matern(1),
    "matern32": _matern(3),
    "matern52": _matern(5),
}


@dataclass(frozen=True, order=True)
class _Kernel:
    """A bank kernel: its kind and its one hyper-parameter (unit-interval units)."""

    kind: str
    param: float

    def matrix(self, x: np.ndarray) -> np.ndarray:
        """Covariance matrix on the grid ``x``."""
        if self.kind == "dot_product":
            return self.param**2 + np.outer(x, x)
        return _STATIONARY[self.kind](np.abs(x[:, None] - x[None, :]), self.param)

    def to_sklearn(self):
        """The same kernel as a scikit-learn GP kernel (for checks and baselines)."""
        from sklearn.gaussian_process import kernels as gp

        build = {
            "exp_sine_squared": lambda p: gp.ExpSineSquared(periodicity=p),
            "dot_product": lambda s: gp.DotProduct(sigma_0=s),
            "rbf": lambda s: gp.RBF(length_scale=s),
            "rational_quadratic": lambda a: gp.RationalQuadratic(alpha=a, length_scale=1.0),
            "white": lambda v: gp.WhiteKernel(noise_level=v),
            "constant": lambda c: gp.ConstantKernel(constant_value=c),
            "matern12": lambda s: gp.Matern(length_scale=s, nu=0.5),
            "matern32": lambda s: gp.Matern(length_scale=s, nu=1.5),
            "matern52": lambda s: gp.Matern(length_scale=s, nu=2.5),
        }
        return build[self.kind](self.param)

    def diagonal(self, x: np.ndarray) -> np.ndarray:
        """Diagonal of :meth:`matrix`, without forming it."""
        if self.kind == "dot_product":
            return self.param**2 + x**2
        return _STATIONARY[self.kind](np.zeros_like(x), self.param)


_KERNEL_BANK: tuple[_Kernel, ...] = (
    *(_Kernel("exp_sine_squared", p / 512) for p in _CAUKER_PERIODS),
    *(_Kernel("dot_product", s) for s in (0.0, 1.0, 10.0)),
    *(_Kernel("rbf", s) for s in (0.1, 1.0, 10.0)),
    *(_Kernel("rational_quadratic", a) for a in (0.1, 1.0, 10.0)),
    *(_Kernel("white", v) for v in (0.1, 1.0)),
    _Kernel("constant", 1.0),
    _Kernel("matern12", 1 / 512),
    _Kernel("matern32", 5 / 512),
    _Kernel("matern52", 20 / 512),
)


def _read_only(array: np.ndarray) -> np.ndarray:
    """``array``, made read-only so that a cached value cannot be changed."""
    array.setflags(write=False)
    return array


@functools.lru_cache(maxsize=None)
def _grid(length: int) -> np.ndarray:
    """Read-only ``linspace(0, 1, length)``."""
    return _read_only(np.linspace(0.0, 1.0, length))


@functools.lru_cache(maxsize=None)
def _lag_covariance(kernel: _Kernel, length: int) -> np.ndarray:
    """Read-only covariance of a stationary kernel between grid point 0 and each point."""
    return _read_only(_STATIONARY[kernel.kind](_grid(length), kernel.param))


@functools.lru_cache(maxsize=None)
def _kernel_variance(kernel: _Kernel, length: int) -> np.ndarray:
    """Read-only diagonal of the kernel's covariance matrix on the grid."""
    return _read_only(kernel.diagonal(_grid(length)))


@functools.lru_cache(maxsize=None)
def _kernel_factor(kernel: _Kernel, length: int) -> np.ndarray:
    """Read-only ``F`` with ``F F^T ~ K``, columns by decreasing eigenvalue."""
    eigval, eigvec = np.linalg.eigh(kernel.matrix(_grid(length)))
    eigval = np.clip(eigval[::-1], 0.0, None)
    tail = np.cumsum(eigval[::-1])[::-1]  # tail[r] = sum of eigval[r:]
    rank = max(1, int(np.count_nonzero(tail > _EIG_TAIL * tail[0])))
    return _read_only(
        np.ascontiguousarray(eigvec[:, ::-1][:, :rank] * np.sqrt(eigval[:rank]))
    )


@functools.lru_cache(maxsize=None)
def _factor_variance(kernel: _Kernel, length: int) -> np.ndarray:
    """Read-only diagonal of ``F F^T`` for the kernel's factor ``F``."""
    factor = _kernel_factor(kernel, length)
    return _read_only(np.einsum("ij,ij->i", factor, factor))


def _share_ranks(captured: Sequence[np.ndarray], budget: int) -> list[int]:
    """Columns to keep per factor so that the product of their counts is <= budget.

    ``captured[k][r - 1]`` is the fraction of factor ``k``'s variance held by
    its first ``r`` columns. Starting from one column each, columns are added
    in decreasing order of their gain in log-captured variance per unit of
    log-cost (made non-increasing within a factor) until the budget is spent:
    a greedy maximisation of the product of the captured fractions.
    """
    gains, owners, log_costs = [], [], []
    for k, frac in enumerate(captured):
        log_cost = np.log1p(1.0 / np.arange(1, len(frac)))  # log((r + 1) / r)
        gains.append(np.minimum.accumulate(np.log(frac[1:] / frac[:-1]) / log_cost))
        owners.append(np.full(len(log_cost), k))
        log_costs.append(log_cost)
    order = np.argsort(-np.concatenate(gains), kind="stable")
    spent = np.cumsum(np.concatenate(log_costs)[order])
    n_added = np.searchsorted(spent, math.log(budget) + 1e-9, side="right")
    taken = np.concatenate(owners)[order[:n_added]]
    return (1 + np.bincount(taken, minlength=len(captured))).tolist()


def _circulant_spectrum(kernels: Sequence[_Kernel], length: int) -> np.ndarray | None:
    """Scaled root half-spectrum of the circulant embedding of a stationary product.

    The covariance ``c(|i - j|)`` of the product is embedded in a circulant
    matrix of size ``m = 2 (length - 1)``, whose eigenvalues ``lambda_k`` are
    the FFT of ``c(0), ..., c(length - 1), c(length - 2), ..., c(1)`` and are
    symmetric (``lambda_k = lambda_{m-k}``). Returns the weights ``w_k`` of
    frequencies ``k = 0, ..., m / 2`` used by :func:`_circulant_sample`:
    ``sqrt(m lambda_k)``, divided by ``sqrt(2)`` for the frequencies that
    stand for two (all but ``0`` and ``m / 2``). Returns ``None`` when FFT
    sampling would not be exact: the product is not stationary, or the
    embedding is not PSD (its negative eigenvalues exceed ``_EIG_TAIL`` of the
    spectrum's mass).
    """
    if any(k.kind == "dot_product" for k in kernels):
        return None
    row = np.prod([_lag_covariance(k, length) for k in kernels], axis=0)
    eigval = np.fft.rfft(np.concatenate([row, row[-2:0:-1]])).real
    multiplicity = np.full(length, 2.0)
    multiplicity[[0, -1]] = 1.0
    if -np.sum(multiplicity * np.minimum(eigval, 0.0)) > _EIG_TAIL * np.sum(
        multiplicity * np.abs(eigval)
    ):
        return None
    m = 2 * (length - 1)
    return np.sqrt(np.clip(eigval, 0.0, None) * m / multiplicity)


def _circulant_sample(
    spectrum: np.ndarray, length: int, rng: np.random.Generator
) -> np.ndarray:
    """Exact sample of the stationary covariance embedded with ``spectrum``.

    The real part of the FFT of ``sqrt(lambda / m) (a + i b)`` (``a``, ``b``
    standard normal) is an exact sample. Pairing frequencies ``k`` and ``m -
    k``, which have the same eigenvalue, gives the same distribution from half
    as many normals, by one inverse real FFT.
    """
    noise = rng.standard_normal((2, len(spectrum)))
    coefficients = spectrum * (noise[0] + 1j * noise[1])
    return np.fft.irfft(coefficients, 2 * (length - 1))[:length]


def _truncated_factors(
    kernels: Sequence[_Kernel], length: int
) -> tuple[tuple[np.ndarray, ...], np.ndarray | None]:
    """Khatri-Rao factors of a product, and the std of the white noise to add.

    The factors (largest rank first) are the bank factors, truncated by
    :func:`_share_ranks` if the product of their ranks exceeds
    ``_MAX_PRODUCT_RANK``. There are none for a product with a WhiteKernel,
    which is diagonal. The noise restores the variance that truncation drops
    (``None`` when negligible), so that marginal variances are exact.
    """
    variance = np.prod([_kernel_variance(k, length) for k in kernels], axis=0)
    if any(k.kind == "white" for k in kernels):
        return (), np.sqrt(variance)
    factors = [_kernel_factor(k, length) for k in kernels]
    if math.prod(f.shape[1] for f in factors) > _MAX_PRODUCT_RANK:
        energy = [np.cumsum(np.einsum("ij,ij->j", f, f)) for f in factors]
        ranks = _share_ranks([e / e[-1] for e in energy], _MAX_PRODUCT_RANK)
        factors = [f[:, :r] for f, r in zip(factors, ranks)]
        captured = np.prod([np.einsum("ij,ij->i", f, f) for f in factors], axis=0)
    else:
        captured = np.prod([_factor_variance(k, length) for k in kernels], axis=0)
    factors.sort(key=lambda f: -f.shape[1])
    residual = variance - captured
    if np.all(residual <= _RESIDUAL_FLOOR * variance):
        return tuple(factors), None
    return tuple(factors), np.sqrt(np.clip(residual, 0.0, None))


def _row_kronecker(factors: Sequence[np.ndarray], length: int) -> np.ndarray:
    """Row-wise Kronecker (Khatri-Rao) product of ``factors``; a column of ones if none.

    Parameters
    ----------
    factors : sequence of ndarray of shape (length, rank_i)
        Factors to combine.
    length : int
        Number of rows.

    Returns
    -------
    ndarray of shape (length, prod(rank_i))
        Row ``n`` is the Kronecker product of the factors' rows ``n``.
    """
    if not factors:
        return np.ones((length, 1))
    face, *rest = factors
    for factor in rest:
        face = (face[:, :, None] * factor[:, None, :]).reshape(length, -1)
    return face


def _split_factors(
    factors: Sequence[np.ndarray],
) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """Two groups of factors whose products of ranks are about equal.

    Factors are taken by decreasing rank, each into the group whose product of
    ranks is smaller so far.

    Parameters
    ----------
    factors : sequence of ndarray of shape (length, rank_i)
        Khatri-Rao factors of a product.

    Returns
    -------
    left, right : tuple of ndarray
        The two groups; ``right`` is empty for a single factor.
    """
    groups: tuple[list[np.ndarray], list[np.ndarray]] = ([], [])
    ranks = [1, 1]
    for factor in sorted(factors, key=lambda f: -f.shape[1]):
        side = int(ranks[1] < ranks[0])
        groups[side].append(factor)
        ranks[side] *= factor.shape[1]
    return tuple(groups[0]), tuple(groups[1])


def _khatri_rao_sample(
    left: Sequence[np.ndarray],
    right: Sequence[np.ndarray],
    noise_std: np.ndarray | None,
    length: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Sample of covariance ``prod_i (F_i F_i^T) + diag(noise_std**2)``.

    The factors ``F_i`` are split into ``left`` and ``right`` (no factors: only
    noise). With ``A`` and ``B`` the row-wise Kronecker products of the two
    groups, ``z[n] = A[n] xi B[n]^T`` for a standard normal matrix ``xi``: one
    matrix product ``A xi`` whose inner size, ``rank(A)``, is about the square
    root of the total rank, then a row-wise dot product with ``B``.
    """
    z = np.zeros(length)
    if left:
        face_left = _row_kronecker(left, length)
        face_right = _row_kronecker(right, length)
        xi = rng.standard_normal((face_left.shape[1], face_right.shape[1]))
        z += np.einsum("ij,ij->i", face_left @ xi, face_right)
    if noise_std is not None:
        z += noise_std * rng.standard_normal(length)
    return z


@functools.lru_cache(maxsize=2048)
def _product_sampler(
    kernels: tuple[_Kernel, ...], length: int
) -> Callable[[np.random.Generator], np.ndarray]:
    """Sampler of the zero-mean GP whose kernel is the product of ``kernels``.

    FFT on a circulant embedding when that is exact, else Khatri-Rao factors.
    """
    spectrum = _circulant_spectrum(kernels, length)
    if spectrum is not None:
        return functools.partial(_circulant_sample, spectrum, length)
    factors, noise_std = _truncated_factors(kernels, length)
    left, right = _split_factors(factors)
    return functools.partial(_khatri_rao_sample, left, right, noise_std, length)


def _sample_composition(
    kernels: Sequence[_Kernel],
    products: Sequence[bool],
    length: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Sample the GP whose kernel folds ``kernels`` from the left.

    ``products[i]`` says whether ``kernels[i + 1]`` enters by ``*`` (else ``+``).
    """
    terms = [[kernels[0]]]
    for kernel, is_product in zip(kernels[1:], products):
        if is_product:
            terms = [term + [kernel] for term in terms]
        else:
            terms.append([kernel])
    samples = [_product_sampler(tuple(sorted(term)), length)(rng) for term in terms]
    return np.sum(samples, axis=0)


def _random_gp(length: int, max_kernels: int, rng: np.random.Generator) -> np.ndarray:
    """Sample a GP with a random composition of 1..``max_kernels`` bank kernels."""
    n_kernels = rng.integers(1, max_kernels + 1)
    picks = rng.integers(len(_KERNEL_BANK), size=n_kernels)
    products = rng.random(n_kernels - 1) < 0.5
    return _sample_composition([_KERNEL_BANK[i] for i in picks], products, length, rng)


def _standardize(x: np.ndarray) -> np.ndarray:
    """Zero mean and unit std along the last axis; constant series become 0.

    A series counts as constant when its std is below ``_CONSTANT_RTOL`` times
    its RMS, i.e. when its variation is round-off or below float32 resolution.
    """
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = np.mean(centred * centred, axis=-1, keepdims=True)
    varying = var > _CONSTANT_RTOL**2 * (var + mean * mean)
    return np.divide(centred, np.sqrt(var), out=np.zeros_like(centred), where=varying)


def _anomalies(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """1 to 5 spikes of height U(-5, 5) at random positions, zero elsewhere."""
    spikes = np.zeros_like(x)
    where = rng.choice(len(x), size=min(len(x), rng.integers(1, 6)), replace=False)
    spikes[where] = rng.uniform(-5.0, 5.0, size=len(where))
    return spikes


# CauKer mean functions of the grid x.
_MEANS: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "zero": lambda x, rng: np.zeros_like(x),
    "linear": lambda x, rng: rng.uniform(-1.0, 1.0) * x + rng.uniform(-1.0, 1.0),
    "exponential": lambda x, rng: (
        rng.uniform(0.5, 1.5) * np.exp(rng.uniform(0.5, 1.5) * x)
    ),
    "anomaly": _anomalies,
}

# CauKer activations (the v1 and v2 banks), applied to rows ``v`` of W . parents + b.
# Column ``k`` of ``u`` holds one U(0, 1) number per row for the k-th random
# parameter, e.g. ``0.5 + 1.5 u`` is a U(0.5, 2) slope.
_ACTIVATIONS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "linear": lambda v, u: (0.5 + 1.5 * u[:, :1]) * v + (2.0 * u[:, 1:2] - 1.0),
    "relu": lambda v, u: np.maximum(v, 0.0),
    "sigmoid": lambda v, u: special.expit(v),
    "sin": lambda v, u: np.sin(v),
    "mod": lambda v, u: np.mod(v, 1.0 + 4.0 * u[:, :1]),
    "leaky_relu": lambda v, u: np.where(v > 0.0, v, (0.01 + 0.29 * u[:, :1]) * v),
    "tanh": lambda v, u: np.tanh(v),
    "softplus": lambda v, u: np.logaddexp(0.0, v),
    "swish": lambda v, u: v * special.expit(v),
    "gaussian": lambda v, u: np.exp(-v * v),
}
# Random parameters per activation (columns of ``u``).
_ACTIVATION_PARAMS = 2


def _activate(pre: np.ndarray, kinds: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Apply activation ``kinds[r]`` (an index into ``_ACTIVATIONS``) to row ``r``.

    Parameters
    ----------
    pre : ndarray of shape (n_rows, length)
        Pre-activations ``W . parents + b``.
    kinds : ndarray of int, shape (n_rows,)
        Activation of each row, by position in ``_ACTIVATIONS``.
    u : ndarray of shape (n_rows, _ACTIVATION_PARAMS)
        U(0, 1) numbers that set each row's activation parameters.

    Returns
    -------
    ndarray of shape (n_rows, length)
        The activated rows.
    """
    functions = list(_ACTIVATIONS.values())
    out = np.empty_like(pre)
    for kind in np.unique(kinds):
        rows = kinds == kind
        out[rows] = functions[kind](pre[rows], u[rows])
    return out


@functools.lru_cache(maxsize=None)
def _upper_triangle(n: int) -> np.ndarray:
    """Read-only mask of the entries ``(i, j)``, ``j >= i``, of an ``n x n`` matrix."""
    return _read_only(np.triu(np.ones((n, n), dtype=bool)))


def _random_parents(
    n_nodes: int, max_parents: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Parents in a random DAG whose nodes ``0, ..., n_nodes - 1`` are in topological order.

    Node ``i`` takes ``U{0..min(i, max_parents)}`` distinct parents, a uniform
    subset of the nodes before it: the first ones of a random permutation of
    ``0, ..., i - 1``.

    Parameters
    ----------
    n_nodes : int
        Nodes in the DAG.
    max_parents : int
        Largest number of parents of a node.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    parents : ndarray of int, shape (n_nodes, width)
        Parent indices of each node, padded with 0; ``width = min(max_parents,
        n_nodes - 1)``.
    is_parent : ndarray of bool, shape (n_nodes, width)
        Which entries of ``parents`` are parents.
    """
    width = max(0, min(max_parents, n_nodes - 1))
    counts = rng.integers(np.minimum(np.arange(n_nodes), max_parents) + 1)
    keys = rng.random((n_nodes, n_nodes))
    keys[_upper_triangle(n_nodes)] = np.inf  # node i picks among j < i only
    parents = np.argsort(keys, axis=1)[:, :width]
    is_parent = np.arange(width) < counts[:, None]
    return np.where(is_parent, parents, 0), is_parent


def _cauker_root(
    x: np.ndarray, max_kernels: int, rng: np.random.Generator
) -> np.ndarray:
    """A CauKer root before standardisation: a random mean plus a random GP.

    Parameters
    ----------
    x : ndarray of shape (length,)
        The grid.
    max_kernels : int
        Largest number of bank kernels in the GP's composition.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    ndarray of shape (length,)
        Two mean functions combined by ``+`` or ``*``, plus the GP sample.
    """
    means = list(_MEANS.values())
    kinds = rng.integers(len(means), size=2)
    mean_a, mean_b = (means[k](x, rng) for k in kinds)
    mean = mean_a * mean_b if rng.random() < 0.5 else mean_a + mean_b
    return mean + _random_gp(len(x), max_kernels, rng)


@dataclass(frozen=True)
class _CauKerDraws:
    """The random part of one CauKer draw, or of several stacked along a first axis.

    Shapes are given for a stack of ``n_draws``; one draw has no first axis.

    Attributes
    ----------
    parents, weights : ndarray of shape (n_draws, n_nodes, width)
        Parent indices of each node (padded with 0) and their weights ``W``
        (0 for padding).
    bias : ndarray of shape (n_draws, n_nodes)
        ``b`` of each node.
    activation : ndarray of int, shape (n_draws, n_nodes)
        Activation of each node, by position in ``_ACTIVATIONS``.
    activation_u : ndarray of shape (n_draws, n_nodes, _ACTIVATION_PARAMS)
        U(0, 1) numbers setting the activations' parameters.
    is_root : ndarray of bool, shape (n_draws, n_nodes)
        Nodes without parents.
    nodes : ndarray of shape (n_draws, n_nodes, length)
        Roots' values before standardisation; zeros elsewhere.
    outputs : ndarray of int, shape (n_draws, n_picked)
        Nodes taken as output series, in order.
    """

    parents: np.ndarray
    weights: np.ndarray
    bias: np.ndarray
    activation: np.ndarray
    activation_u: np.ndarray
    is_root: np.ndarray
    nodes: np.ndarray
    outputs: np.ndarray

    @classmethod
    def stack(cls, draws: Sequence[_CauKerDraws]) -> _CauKerDraws:
        """Stack single draws along a new first axis.

        Parameters
        ----------
        draws : sequence of _CauKerDraws
            Single draws of one generator.

        Returns
        -------
        _CauKerDraws
            Each attribute is the stack of the draws' attributes.
        """
        return cls(
            *(np.stack([getattr(d, f.name) for d in draws]) for f in fields(cls))
        )


class _SyntheticGenerator(ABC):
    """Seeding, chunking and parallelism shared by the generators.

    Subclasses implement :meth:`_draw_block`, which turns the random generators
    of consecutive draws into ``_series_per_draw`` series of shape
    ``(n_channels, length)`` each.
    """

    n_channels: int = 1

    def __init__(self, length: int, random_state: int | None) -> None:
        if length < 2:
            raise ValueError(f"length must be at least 2, got {length}")
        self.length = length
        self.random_state = random_state
        # Entropy is fixed here even for None, so one instance is consistent.
        self._entropy = np.random.SeedSequence(random_state).entropy

    @property
    def _series_per_draw(self) -> int:
        """Series made by one draw (one random generator)."""
        return 1

    def generate(
        self,
        n_samples: int,
        n_jobs: int | None = 1,
        start: int = 0,
        verbose: bool = False,
    ) -> np.ndarray:
        """Generate the series of indices ``start, ..., start + n_samples - 1``.

        Parameters
        ----------
        n_samples : int
            Number of series.
        n_jobs : int or None, default=1
            Number of joblib workers. The output does not depend on it.
        start : int, default=0
            Index of the first series, to resume or stream. The output does not
            depend on how a range of indices is split into calls.
        verbose : bool, default=False
            Show a tqdm progress bar.

        Returns
        -------
        ndarray of float32
            ``(n_samples, length)`` if ``n_channels == 1``, else
            ``(n_samples, n_channels, length)``. Each series (each channel) has
            zero mean and unit standard deviation, or is all zeros if it was
            constant.
        """
        if n_samples < 0 or start < 0:
            raise ValueError(
                f"n_samples and start must be non-negative, got {n_samples}, {start}"
            )
        per_draw = self._series_per_draw
        first, stop = start // per_draw, -(-(start + n_samples) // per_draw)
        bounds = [*range(first, stop, _DRAWS_PER_TASK), stop]
        tasks = Parallel(n_jobs=n_jobs, return_as="generator")(
            delayed(self._draws)(lo, hi) for lo, hi in itertools.pairwise(bounds)
        )
        parts = [np.empty((0, self.n_channels, self.length), dtype=np.float32)]
        with tqdm(total=stop - first, unit="draw", disable=not verbose) as progress:
            for part in tasks:
                parts.append(part)
                progress.update(len(part) // per_draw)
        offset = start - first * per_draw
        series = np.concatenate(parts)[offset : offset + n_samples]
        return series[:, 0] if self.n_channels == 1 else series

    def _draws(self, lo: int, hi: int) -> np.ndarray:
        """Series of draws ``lo, ..., hi - 1``, stacked, as float32."""
        rngs = [self._rng(j) for j in range(lo, hi)]
        return self._draw_block(rngs).astype(np.float32)

    def _rng(self, draw: int) -> np.random.Generator:
        """Random generator of draw ``draw`` (the ``draw``-th spawned child seed)."""
        seed = np.random.SeedSequence(self._entropy, spawn_key=(draw,))
        return np.random.default_rng(seed)

    @abstractmethod
    def _draw_block(self, rngs: Sequence[np.random.Generator]) -> np.ndarray:
        """Draws made from ``rngs``, one each: ``(n_series, n_channels, length)``.

        The series of draw ``k`` are rows ``k * _series_per_draw, ...``, and
        depend on ``rngs[k]`` only, not on the other draws of the block.
        """


class KernelSynth(_SyntheticGenerator):
    """Gaussian-process series with random kernel compositions (KernelSynth).

    Each series is a sample of a zero-mean GP on ``linspace(0, 1, length)``
    whose kernel folds 1..``max_kernels`` kernels, drawn uniformly with
    replacement from the 36-kernel bank, with ``+`` or ``*`` (probability 1/2
    each), then standardised. See the module docstring for the bank and for
    what is exact in the sampling.

    Parameters
    ----------
    length : int, default=512
        Number of time steps.
    max_kernels : int, default=5
        Largest number of bank kernels in one composition.
    random_state : int or None, default=None
        Base seed. ``None`` draws one at construction.

    Examples
    --------
    >>> gen = KernelSynth(length=64, random_state=0)
    >>> x = gen.generate(8)
    >>> x.shape, x.dtype
    ((8, 64), dtype('float32'))
    >>> bool(np.array_equal(x[5:], gen.generate(3, start=5)))
    True
    """

    def __init__(
        self, length: int = 512, max_kernels: int = 5, random_state: int | None = None
    ) -> None:
        if max_kernels < 1:
            raise ValueError(f"max_kernels must be at least 1, got {max_kernels}")
        super().__init__(length, random_state)
        self.max_kernels = max_kernels

    def _draw_block(self, rngs: Sequence[np.random.Generator]) -> np.ndarray:
        gps = [_random_gp(self.length, self.max_kernels, rng) for rng in rngs]
        return _standardize(np.array(gps).reshape(len(rngs), 1, self.length))


class CauKer(_SyntheticGenerator):
    """Structural-causal-model series over Gaussian-process roots (CauKer).

    One draw builds a random DAG on ``n_nodes`` nodes in a random topological
    order: node ``i`` takes ``U{0..min(i, max_parents)}`` distinct parents
    among the nodes before it. (The reference also shuffles node labels, which
    changes nothing here since outputs are picked uniformly.)

    * A node without parents is a root: a GP sample with a random kernel
      composition (as in :class:`KernelSynth`) plus a mean function that
      combines two of {zero, linear ``a x + b``, exponential ``a exp(b x)``,
      1-5 anomaly spikes} by ``+`` or ``*``.
    * Any other node is ``activation(W . parents + b)``, with ``W`` and ``b``
      standard normal and an activation drawn from: linear, relu, sigmoid, sin,
      mod, leaky relu, tanh, softplus, swish, gaussian.

    Every node is standardised before it feeds its children. This keeps all
    values bounded, so exponentials and ``mod`` cannot overflow, and makes the
    linear activation the identity. Each draw gives ``n_outputs`` series, each
    made of ``n_channels`` nodes; all these nodes are distinct and picked at
    random.

    Parameters
    ----------
    length : int, default=512
        Number of time steps.
    n_nodes : int, default=18
        Nodes in each DAG.
    max_parents : int, default=6
        Largest number of parents of a node.
    n_outputs : int, default=4
        Series taken from one DAG.
    n_channels : int, default=1
        Channels per series (nodes of the same DAG). ``n_outputs * n_channels``
        must not exceed ``n_nodes``.
    max_kernels : int, default=5
        Largest number of bank kernels in a root's composition.
    random_state : int or None, default=None
        Base seed. ``None`` draws one at construction.

    Examples
    --------
    >>> gen = CauKer(length=64, n_nodes=8, n_outputs=2, random_state=0)
    >>> gen.generate(6).shape
    (6, 64)
    >>> CauKer(length=64, n_channels=3, random_state=0).generate(5).shape
    (5, 3, 64)
    """

    def __init__(
        self,
        length: int = 512,
        n_nodes: int = 18,
        max_parents: int = 6,
        n_outputs: int = 4,
        n_channels: int = 1,
        max_kernels: int = 5,
        random_state: int | None = None,
    ) -> None:
        if min(n_nodes, n_outputs, n_channels, max_kernels) < 1 or max_parents < 0:
            raise ValueError(
                "n_nodes, n_outputs, n_channels and max_kernels must be at least 1, "
                "max_parents at least 0"
            )
        if n_outputs * n_channels > n_nodes:
            raise ValueError(
                f"n_outputs * n_channels = {n_outputs * n_channels} exceeds "
                f"n_nodes = {n_nodes}"
            )
        super().__init__(length, random_state)
        self.n_nodes = n_nodes
        self.max_parents = max_parents
        self.n_outputs = n_outputs
        self.n_channels = n_channels
        self.max_kernels = max_kernels

    @property
    def _series_per_draw(self) -> int:
        return self.n_outputs

    def _draw_block(self, rngs: Sequence[np.random.Generator]) -> np.ndarray:
        draws = _CauKerDraws.stack([self._random_draw(rng) for rng in rngs])
        nodes = self._evaluate(draws)
        series = np.take_along_axis(nodes, draws.outputs[:, :, None], axis=1)
        return series.reshape(-1, self.n_channels, self.length)

    def _random_draw(self, rng: np.random.Generator) -> _CauKerDraws:
        """Everything random in one draw: the DAG, its parameters and its roots."""
        n_nodes = self.n_nodes
        parents, is_parent = _random_parents(n_nodes, self.max_parents, rng)
        weights = np.where(is_parent, rng.standard_normal(is_parent.shape), 0.0)
        bias = rng.standard_normal(n_nodes)
        activation = rng.integers(len(_ACTIVATIONS), size=n_nodes)
        activation_u = rng.random((n_nodes, _ACTIVATION_PARAMS))
        is_root = ~is_parent.any(axis=1)
        nodes = np.zeros((n_nodes, self.length))
        x = _grid(self.length)
        for i in np.flatnonzero(is_root):
            nodes[i] = _cauker_root(x, self.max_kernels, rng)
        outputs = rng.permutation(n_nodes)[: self.n_outputs * self.n_channels]
        return _CauKerDraws(
            parents, weights, bias, activation, activation_u, is_root, nodes, outputs
        )

    def _evaluate(self, draws: _CauKerDraws) -> np.ndarray:
        """Standardised nodes ``(n_draws, n_nodes, length)`` of stacked draws.

        Computed in place of ``draws.nodes``. The draws are evaluated together, node by node in topological order:
        node ``i`` of every draw is one vectorised step.
        """
        nodes = draws.nodes
        for i in range(self.n_nodes):
            rows = np.flatnonzero(~draws.is_root[:, i])
            if len(rows):
                pre = draws.bias[rows, i, None] + np.zeros(self.length)
                for p in range(min(i, draws.parents.shape[-1])):
                    parent = nodes[rows, draws.parents[rows, i, p]]
                    pre += draws.weights[rows, i, p, None] * parent
                kinds, u = draws.activation[rows, i], draws.activation_u[rows, i]
                nodes[rows, i] = _activate(pre, kinds, u)
            nodes[:, i] = _standardize(nodes[:, i])
        return nodes


class SyntheticSeriesDataset(IterableDataset):
    """Stream of synthetic series for a torch ``DataLoader``.

    Series ``start, start + 1, ...`` are generated in chunks of ``chunk_size``
    consecutive indices. With ``k`` DataLoader workers, worker ``w`` generates
    chunks ``w, w + k, w + 2k, ...``, so series ``i`` is the same whatever the
    number of workers. The stream is in index order with ``num_workers=0``. It
    is also in index order with several workers when ``batch_size ==
    chunk_size``, because the DataLoader takes one batch from each worker in
    turn. Otherwise the workers' streams are interleaved: the same series, in a
    different order.

    Parameters
    ----------
    generator : KernelSynth or CauKer
        Source of the series.
    n_samples : int or None, default=None
        Length of the stream; ``None`` streams forever.
    start : int, default=0
        Index of the first series.
    chunk_size : int, default=256
        Series generated per call.

    Yields
    ------
    torch.Tensor
        ``(n_channels, length)`` float32 (``(1, length)`` for univariate series).

    Examples
    --------
    >>> from torch.utils.data import DataLoader
    >>> gen = KernelSynth(length=32, random_state=0)
    >>> data = SyntheticSeriesDataset(gen, n_samples=10, chunk_size=4)
    >>> [tuple(batch.shape) for batch in DataLoader(data, batch_size=4)]
    [(4, 1, 32), (4, 1, 32), (2, 1, 32)]
    """

    def __init__(
        self,
        generator: _SyntheticGenerator,
        n_samples: int | None = None,
        start: int = 0,
        chunk_size: int = 256,
    ) -> None:
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        self.generator = generator
        self.n_samples = n_samples
        self.start = start
        self.chunk_size = chunk_size

    def __iter__(self) -> Iterator[torch.Tensor]:
        info = get_worker_info()
        worker, n_workers = (0, 1) if info is None else (info.id, info.num_workers)
        end = math.inf if self.n_samples is None else self.start + self.n_samples
        shape = (self.generator.n_channels, self.generator.length)
        for chunk in itertools.count(worker, n_workers):
            lo = self.start + chunk * self.chunk_size
            if lo >= end:
                return
            hi = int(min(lo + self.chunk_size, end))
            series = self.generator.generate(hi - lo, start=lo)
            yield from torch.from_numpy(series.reshape(-1, *shape))
