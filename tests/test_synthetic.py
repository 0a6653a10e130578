"""Synthetic generators: shapes, seeds, numerics, GP covariances, streaming."""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from sslts.data import synthetic as syn
from sslts.data.synthetic import CauKer, KernelSynth, SyntheticSeriesDataset

LENGTH = 64
BANK = syn._KERNEL_BANK


def kernel(kind: str, index: int = 0) -> syn._Kernel:
    return [k for k in BANK if k.kind == kind][index]


def gp_samples(kernels, length: int, n: int, seed: int = 0) -> np.ndarray:
    """``n`` samples, ``(n, length)``, of the GP with the product of ``kernels``."""
    sampler = syn._product_sampler(tuple(sorted(kernels)), length)
    rng = np.random.default_rng(seed)
    return np.stack([sampler(rng) for _ in range(n)])


def product_kernel(kernels, length: int) -> np.ndarray:
    x = syn._grid(length)
    return np.prod([k.matrix(x) for k in kernels], axis=0)


def max_z_score(samples: np.ndarray, cov: np.ndarray) -> float:
    """Largest |empirical - cov| over the standard error of a zero-mean estimate."""
    n = len(samples)
    empirical = samples.T @ samples / n
    se = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n)
    exact = se == 0  # e.g. DotProduct(0) at x = 0: both sides are exactly 0
    assert np.allclose(empirical[exact], cov[exact], atol=1e-12)
    return float(np.max(np.abs(empirical - cov)[~exact] / se[~exact]))


def make(name: str, length: int = LENGTH, **kwargs):
    return {"kernelsynth": KernelSynth, "cauker": CauKer}[name](length, **kwargs)


# --------------------------------------------------------------------------- API


@pytest.mark.parametrize(
    ("generator", "shape"),
    [
        (KernelSynth(length=LENGTH, random_state=0), (7, LENGTH)),
        (CauKer(length=LENGTH, random_state=0), (7, LENGTH)),
        (CauKer(length=LENGTH, n_channels=3, random_state=0), (7, 3, LENGTH)),
    ],
)
def test_shape_and_dtype(generator, shape):
    x = generator.generate(7)
    assert x.shape == shape
    assert x.dtype == np.float32
    assert generator.generate(0).shape == (0, *shape[1:])


def test_kernel_bank_matches_cauker():
    periods = sorted(round(k.param * 512) for k in BANK if k.kind == "exp_sine_squared")
    assert periods == sorted(syn._CAUKER_PERIODS)
    assert len(BANK) == 36
    assert {k.param for k in BANK if k.kind == "dot_product"} == {0.0, 1.0, 10.0}
    assert {k.param for k in BANK if k.kind == "rbf"} == {0.1, 1.0, 10.0}
    assert {k.param for k in BANK if k.kind == "rational_quadratic"} == {0.1, 1.0, 10.0}
    assert {k.param for k in BANK if k.kind == "white"} == {0.1, 1.0}
    assert {"constant", "matern12", "matern32", "matern52"} <= {k.kind for k in BANK}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"length": 1},
        {"n_nodes": 4, "n_outputs": 2, "n_channels": 3},
        {"max_kernels": 0},
        {"max_parents": -1},
    ],
)
def test_invalid_parameters(kwargs):
    with pytest.raises(ValueError):
        CauKer(**kwargs)


def test_invalid_generate_arguments():
    with pytest.raises(ValueError):
        KernelSynth(length=LENGTH).generate(-1)
    with pytest.raises(ValueError):
        KernelSynth(length=LENGTH).generate(3, start=-1)


# --------------------------------------------------------------- reproducibility


@pytest.mark.parametrize("name", ["kernelsynth", "cauker"])
def test_same_seed_same_data_other_seed_other_data(name):
    x = make(name, random_state=3).generate(12)
    np.testing.assert_array_equal(x, make(name, random_state=3).generate(12))
    assert not np.allclose(x, make(name, random_state=4).generate(12))


def test_unseeded_generator_is_consistent_with_itself():
    gen = KernelSynth(length=LENGTH)
    np.testing.assert_array_equal(gen.generate(6)[2:], gen.generate(4, start=2))
    assert not np.allclose(gen.generate(6), KernelSynth(length=LENGTH).generate(6))


@pytest.mark.parametrize("name", ["kernelsynth", "cauker"])
def test_output_does_not_depend_on_chunking(name):
    gen = make(name, random_state=1)
    full = gen.generate(100)
    # 37 is not a multiple of CauKer's 4 series per DAG: the split cuts a draw.
    chunks = np.concatenate([gen.generate(37), gen.generate(63, start=37)])
    np.testing.assert_array_equal(full, chunks)
    np.testing.assert_array_equal(full[98:], gen.generate(2, start=98))


def test_draw_seeds_are_spawned_children():
    gen = KernelSynth(length=LENGTH, random_state=11)
    child = np.random.SeedSequence(11).spawn(6)[5]
    expected = np.random.default_rng(child).random(4)
    np.testing.assert_array_equal(gen._rng(5).random(4), expected)


@pytest.mark.slow  # starts a pool of worker processes (about 7 s)
@pytest.mark.parametrize("name", ["kernelsynth", "cauker"])
def test_n_jobs_does_not_change_output(name, monkeypatch):
    monkeypatch.setattr(syn, "_DRAWS_PER_TASK", 5)  # several tasks per worker
    gen = make(name, random_state=2)
    np.testing.assert_array_equal(gen.generate(42, n_jobs=2), gen.generate(42))


def test_verbose_shows_progress(capsys):
    KernelSynth(length=LENGTH, random_state=0).generate(3, verbose=True)
    assert "3/3" in capsys.readouterr().err


# ---------------------------------------------------------------------- numerics


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", ["kernelsynth", "cauker"])
def test_many_draws_are_finite_and_standardised(name, seed):
    gen = make(name, length=128, random_state=seed)
    x = gen.generate(200 * gen._series_per_draw).astype(np.float64)  # 200 draws
    assert np.isfinite(x).all()
    std = x.std(axis=-1)
    constant = std == 0
    assert constant.mean() < 0.03
    assert np.all(x[constant] == 0)
    np.testing.assert_allclose(x.mean(axis=-1), 0, atol=1e-5)
    np.testing.assert_allclose(std[~constant], 1, atol=1e-5)


def test_standardize_handles_constant_and_tiny_series():
    ramp = np.arange(50.0)
    x = np.stack([np.full(50, 3.0), 3.0 + 1e-12 * ramp, 1e-30 * ramp])
    out = syn._standardize(x)
    np.testing.assert_array_equal(out[:2], 0)  # round-off level variation
    np.testing.assert_allclose(out[2].std(), 1)  # tiny but genuine variation


@pytest.mark.parametrize("name", sorted(syn._ACTIVATIONS))
def test_activation(name):
    u = np.random.default_rng(0).random((1, syn._ACTIVATION_PARAMS))
    v = np.linspace(-6, 6, 241)
    y = syn._ACTIVATIONS[name](v[None], u)[0]
    assert y.shape == v.shape
    assert np.isfinite(
        syn._ACTIVATIONS[name](np.linspace(-1e4, 1e4, 101)[None], u)
    ).all()
    pos, neg = v > 0, v < 0
    if name == "linear":
        slope, intercept = np.polyfit(v, y, 1)
        assert 0.5 <= slope <= 2 and -1 <= intercept <= 1
        np.testing.assert_allclose(y, slope * v + intercept, atol=1e-9)
    elif name == "relu":
        np.testing.assert_array_equal(y, np.where(pos, v, 0))
    elif name == "leaky_relu":
        np.testing.assert_array_equal(y[pos], v[pos])
        alpha = y[neg] / v[neg]
        assert np.ptp(alpha) < 1e-12 and 0.01 <= alpha[0] <= 0.3
    elif name == "mod":
        assert y.min() >= 0 and y.max() < 5
        assert np.all(np.diff(y)[np.diff(y) < 0] < -0.9)  # saw-tooth: only drops jump
    elif name in ("sigmoid", "gaussian"):
        assert y.min() > 0 and y.max() <= 1
    elif name == "sin":
        np.testing.assert_array_equal(y, np.sin(v))
    elif name == "tanh":
        assert y.min() > -1 and y.max() < 1
        np.testing.assert_allclose(y, -y[::-1])  # odd
    elif name == "softplus":
        assert np.all(y > 0) and np.all(y >= v)
    elif name == "swish":
        assert y.min() > -0.28 and np.allclose(y[pos][-1], 6, atol=0.02)
    else:
        pytest.fail(f"untested activation {name}")


def test_activation_bank():
    assert set(syn._ACTIVATIONS) == {
        "linear", "relu", "sigmoid", "sin", "mod", "leaky_relu",
        "tanh", "softplus", "swish", "gaussian",
    }  # fmt: skip


@pytest.mark.parametrize("name", sorted(syn._MEANS))
def test_mean_function(name):
    x = syn._grid(LENGTH)
    for seed in range(20):
        m = syn._MEANS[name](x, np.random.default_rng(seed))
        assert m.shape == x.shape and np.isfinite(m).all()
        if name == "zero":
            np.testing.assert_array_equal(m, 0)
        elif name == "linear":
            np.testing.assert_allclose(np.diff(m, 2), 0, atol=1e-12)
            assert abs(m[-1] - m[0]) <= 1 and abs(m[0]) <= 1
        elif name == "exponential":
            assert np.all(m > 0) and np.all(np.diff(m) > 0)
            assert 0.5 <= m[0] <= 1.5
        elif name == "anomaly":
            spikes = m[m != 0]
            assert 1 <= len(spikes) <= 5 and np.all(np.abs(spikes) <= 5)
        else:
            pytest.fail(f"untested mean function {name}")


# ------------------------------------------------------------------ GP sampling


UNIQUE_KERNELS = sorted(set(BANK))


@pytest.mark.parametrize("k", UNIQUE_KERNELS, ids=lambda k: f"{k.kind}-{k.param:.3g}")
def test_bank_kernel_samples_have_the_kernel_covariance(k):
    length = 16
    samples = gp_samples([k], length, n=3000)
    assert np.isfinite(samples).all()
    assert max_z_score(samples, product_kernel([k], length)) < 6


@pytest.mark.parametrize("k", UNIQUE_KERNELS, ids=lambda k: f"{k.kind}-{k.param:.3g}")
def test_bank_kernels_match_sklearn(k):
    x = syn._grid(40)
    K = k.matrix(x)
    np.testing.assert_allclose(K, k.to_sklearn()(x[:, None]), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(k.diagonal(x), np.diag(K), rtol=1e-12)


def test_white_kernel_samples_are_white():
    samples = gp_samples([kernel("white", 1)], 16, n=3000)
    np.testing.assert_allclose(samples.T @ samples / 3000, np.eye(16), atol=0.15)


def test_periodic_kernel_samples_repeat_with_their_period():
    length = 129  # grid step 1/128: a period of p/512 is p/4 steps
    rng = np.random.default_rng(0)
    tested = 0
    for k in UNIQUE_KERNELS:
        p = k.param * 128
        if k.kind != "exp_sine_squared" or p != round(p) or not 3 <= p < length // 2:
            continue
        p = round(p)
        z = syn._product_sampler((k,), length)(rng)
        assert np.abs(z[p:] - z[:-p]).max() < 1e-6 * np.abs(z).max()
        # Not trivially periodic (constant): kernel correlation is exp(-2) at p / 2.
        assert np.corrcoef(z[: -(p // 2)], z[p // 2 :])[0, 1] < 0.9
        tested += 1
    assert tested >= 6


def test_composition_expands_into_independent_products():
    per, rbf, white = kernel("exp_sine_squared"), kernel("rbf", 1), kernel("white", 1)
    length, n = 12, 4000
    rng = np.random.default_rng(0)
    # ((per + rbf) * white) = per*white + rbf*white
    draw = functools.partial(syn._sample_composition, [per, rbf, white], [False, True])
    samples = np.stack([draw(length, rng) for _ in range(n)])
    expected = product_kernel([per, white], length)
    expected += product_kernel([rbf, white], length)
    assert max_z_score(samples, expected) < 6


def implied_covariance(kernels, length: int) -> tuple[np.ndarray, tuple[np.ndarray]]:
    """Covariance the Khatri-Rao sampler draws from, and its factors."""
    factors, noise_std = syn._truncated_factors(tuple(sorted(kernels)), length)
    cov = np.zeros((length, length)) if noise_std is None else np.diag(noise_std**2)
    if factors:
        face = np.ones((length, 1))
        for f in factors:
            face = (face[:, :, None] * f[:, None, :]).reshape(length, -1)
        cov += face @ face.T
    return cov, factors


EXACT_PRODUCTS = {
    "khatri-rao": (
        kernel("exp_sine_squared", 0), kernel("rbf", 1), kernel("dot_product", 1)
    ),
    "fft": (kernel("matern32"), kernel("exp_sine_squared", 1), kernel("matern52")),
    "diagonal": (kernel("white", 0), kernel("dot_product", 2), kernel("rbf", 0)),
}


@pytest.mark.parametrize("path", sorted(EXACT_PRODUCTS))
def test_exact_product_covariance(path):
    kernels, length = EXACT_PRODUCTS[path], 24
    assert (syn._circulant_spectrum(kernels, length) is None) == (path != "fft")
    true = product_kernel(kernels, length)
    if path != "fft":
        implied, _ = implied_covariance(kernels, length)
        np.testing.assert_allclose(implied, true, atol=1e-6 * true.max())
    assert max_z_score(gp_samples(kernels, length, n=4000), true) < 6


TRUNCATED_PRODUCTS = {
    # Non-stationary (DotProduct) times rough kernels: no FFT, ranks 2 x 48^3.
    "dot-matern": tuple(
        kernel(kind, 1 if kind == "dot_product" else 0)
        for kind in ("dot_product", "matern12", "matern32", "matern52")
    ),
    # Four periodic kernels, with a non-PSD circulant embedding: ranks about 19^4.
    "periodic": tuple(kernel("exp_sine_squared", i) for i in (0, 1, 7, 8)),
}


@pytest.mark.parametrize("case", sorted(TRUNCATED_PRODUCTS))
def test_truncated_product_covariance(case):
    kernels, length = TRUNCATED_PRODUCTS[case], 48
    full_rank = math.prod(syn._kernel_factor(k, length).shape[1] for k in kernels)
    implied, factors = implied_covariance(kernels, length)
    kept_rank = math.prod(f.shape[1] for f in factors)
    assert syn._circulant_spectrum(kernels, length) is None
    assert full_rank > syn._MAX_PRODUCT_RANK >= kept_rank  # the approximate path
    true = product_kernel(kernels, length)
    # Marginal variances are exact; correlations are close.
    np.testing.assert_allclose(np.diag(implied), np.diag(true), rtol=1e-9, atol=1e-12)
    approx_error = np.abs(implied - true).max() / np.diag(true).max()
    assert approx_error < 0.02
    # The sampler draws from the implied covariance, hence nearly from the true one.
    samples = gp_samples(kernels, length, n=3000)
    assert max_z_score(samples, implied) < 6
    assert max_z_score(samples, true) < 6 + approx_error * np.sqrt(3000)


def test_share_ranks_respects_budget_and_favours_slow_spectra():
    fast = np.cumsum(0.5 ** np.arange(1, 40))  # a smooth kernel's spectrum
    flat = np.arange(1, 101) / 100  # a white-like spectrum
    # The flat spectrum keeps all its columns; 4 of the fast one hold 94%.
    assert syn._share_ranks([fast / fast[-1], flat], budget=400) == [4, 100]
    assert syn._share_ranks([fast / fast[-1]], budget=10**6) == [39]


# ------------------------------------------------------------- distribution


def node_by_node_cauker(gen: CauKer, rng: np.random.Generator) -> np.ndarray:
    """One CauKer draw by the definition, one node at a time (no vectorisation)."""
    x = syn._grid(gen.length)
    activations = list(syn._ACTIVATIONS.values())
    nodes = np.empty((gen.n_nodes, gen.length))
    for i in range(gen.n_nodes):
        n_parents = rng.integers(min(i, gen.max_parents) + 1)
        if n_parents == 0:
            value = syn._cauker_root(x, gen.max_kernels, rng)
        else:
            parents = nodes[rng.permutation(i)[:n_parents]]
            pre = rng.standard_normal(n_parents) @ parents + rng.standard_normal()
            u = rng.random((1, syn._ACTIVATION_PARAMS))
            value = activations[rng.integers(len(activations))](pre[None], u)[0]
        nodes[i] = syn._standardize(value)
    return nodes[rng.permutation(gen.n_nodes)[: gen.n_outputs]]


def series_statistics(x: np.ndarray) -> dict[str, np.ndarray]:
    """Per-series summaries of standardised series ``(n, length)``."""
    constant = x.std(axis=-1) == 0
    varying = x[~constant]
    diff_std = np.diff(varying, axis=-1).std(axis=-1)
    lag1 = np.mean(varying[:, 1:] * varying[:, :-1], axis=-1)
    return {
        "diff_std": diff_std,
        "lag1_autocorrelation": lag1,
        "max_abs": np.abs(varying).max(axis=-1),
        "constant": constant.astype(float),
    }


def test_vectorised_cauker_matches_the_node_by_node_definition():
    from scipy import stats

    # One series per DAG, so that the samples are independent.
    gen = CauKer(length=96, random_state=0)
    fast = gen.generate(4 * 1500)[::4].astype(np.float64)
    rng = np.random.default_rng(12345)
    slow = np.stack([node_by_node_cauker(gen, rng)[0] for _ in range(1500)])
    fast_stats, slow_stats = series_statistics(fast), series_statistics(slow)
    for name in fast_stats:
        a, b = fast_stats[name], slow_stats[name]
        se = np.sqrt(a.var() / len(a) + b.var() / len(b))
        assert abs(a.mean() - b.mean()) < 4 * se + 1e-3, name
        if name != "constant":
            assert stats.ks_2samp(a, b).pvalue > 1e-3, name


# --------------------------------------------------------------- multivariate


def test_multivariate_channels_are_distinct_standardised_nodes():
    x = CauKer(length=LENGTH, n_channels=3, n_outputs=4, random_state=0).generate(40)
    assert x.shape == (40, 3, LENGTH)
    np.testing.assert_allclose(x.mean(-1), 0, atol=1e-5)
    identical = [
        np.allclose(s[a], s[b]) or np.allclose(s[a], -s[b])
        for s in x
        for a, b in itertools.combinations(range(3), 2)
    ]
    assert np.mean(identical) < 0.1


# ------------------------------------------------------------------- dataset


def test_dataset_streams_series_in_index_order():
    gen = KernelSynth(length=32, random_state=0)
    data = SyntheticSeriesDataset(gen, n_samples=10, start=3, chunk_size=4)
    stream = torch.stack(list(data))
    assert stream.shape == (10, 1, 32) and stream.dtype == torch.float32
    np.testing.assert_array_equal(stream[:, 0].numpy(), gen.generate(10, start=3))


def sorted_rows(series: torch.Tensor) -> list[bytes]:
    return sorted(map(bytes, series.numpy()))


def test_dataset_is_the_same_with_several_workers():
    gen = CauKer(length=32, n_channels=2, n_nodes=10, random_state=0)
    expected = torch.from_numpy(gen.generate(22, start=5))
    data = SyntheticSeriesDataset(gen, n_samples=22, start=5, chunk_size=4)
    ordered = torch.cat(list(DataLoader(data, batch_size=4, num_workers=2)))
    torch.testing.assert_close(ordered, expected, rtol=0, atol=0)
    interleaved = torch.stack(list(DataLoader(data, batch_size=None, num_workers=2)))
    assert sorted_rows(interleaved) == sorted_rows(expected)


def test_dataset_without_length_is_infinite():
    gen = KernelSynth(length=32, random_state=0)
    stream = SyntheticSeriesDataset(gen, chunk_size=3)
    head = torch.stack(list(itertools.islice(stream, 8)))
    np.testing.assert_array_equal(head[:, 0].numpy(), gen.generate(8))
