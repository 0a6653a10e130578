"""Thread- and process-safe seeding: every fit draws from its own generators.

A fit with a given ``random_state`` must give the same result alone, next to
other fits in threads of one process (joblib ``"threading"``) and in worker
processes (``"loky"``), and must leave the caller's global torch and numpy
random states as they were (see :mod:`sslts.models._random`).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _tiny import TINY_CHECKPOINT, TINY_JEPA, TINY_PATCH_ENCODER, TINY_TSPULSE
from joblib import Parallel, delayed
from torch import nn

from sslts import JEPAEmbedder, TSPulseClassifier, TSPulseEmbedder
from sslts._torch import seeded
from sslts.anomaly import DeepSVDDAnomalyDetector
from sslts.models import (
    MTSJEPA,
    DeepSVDDNetwork,
    DINOHead,
    JEPAConfig,
    PatchEncoder,
    TSPulse,
    TSPulseConfig,
    TSPulseForClassification,
)
from sslts.models._random import RandomSource, active_generator, using
from sslts.models.layers import (
    FastDropout,
    GeneratorMultiheadAttention,
    use_generator_dropout,
)
from sslts.objectives import DINO, LeJEPA, MaskedPatchModel
from sslts.training.net import SeededDataLoader

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SEEDS = (0, 1, 0, 1)  # two fits of each seed, run side by side


def _panel(n: int = 12, channels: int = 2, length: int = 40, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    freq = rng.uniform(0.05, 0.4, size=(n, channels, 1))
    noise = 0.2 * rng.normal(size=(n, channels, length))
    return (np.sin(freq * t) + noise).astype(np.float32)


def _case(name: str, seed: int):
    """``(estimator, X, y, output method)`` of one estimator under test."""
    X, y = _panel(), np.arange(12) % 2
    if name == "classifier":  # TSLens, 12 series: a validation split (validation loader too)
        est = TSPulseClassifier(
            pretrained=TINY_CHECKPOINT,
            head="tslens",
            mask_ratio=0.3,
            validation_fraction=0.2,
            max_epochs=1,
            random_state=seed,
        )
        return est, X, y, "predict_proba"
    if name == "linear_classifier":  # the default head: a probe, then fine-tuning
        est = TSPulseClassifier(pretrained=TINY_CHECKPOINT, max_epochs=1, random_state=seed)
        return est, X, y, "predict_proba"
    if name == "embedder":
        est = TSPulseEmbedder(pretrained=TINY_CHECKPOINT, max_epochs=1, random_state=seed)
        return est, X, None, "transform"
    if name in ("dino", "lejepa", "masked", "mts-jepa"):
        if name == "mts-jepa":  # trains on pairs of consecutive windows
            X = _panel(n=4, length=64)
        est = JEPAEmbedder(objective=name, **TINY_JEPA, random_state=seed)
        return est, X, None, "transform"
    if name == "deepsvdd":
        x = np.sin(np.arange(300) / 4.0) + 0.1 * np.random.default_rng(0).normal(size=300)
        est = DeepSVDDAnomalyDetector(hidden_sizes=(8, 4), max_epochs=1, random_state=seed)
        return est, x, None, "decision_function"
    raise ValueError(name)


def _fit_output(name: str, seed: int, worker_process: bool = False) -> np.ndarray:
    """Fit estimator ``name`` with ``random_state=seed``; its output on the training data.

    In a worker process torch gets one thread, like this module's process
    (``one_torch_thread``), so that float reductions run in the same order.
    """
    if worker_process:
        torch.set_num_threads(1)
    est, X, y, method = _case(name, seed)
    return getattr(est.fit(X, y), method)(X)


REQUIRED = ("classifier", "embedder", "dino", "deepsvdd")


@pytest.fixture(scope="module")
def serial_outputs(one_torch_thread):
    """Outputs of the required estimators fitted one after the other, per seed."""
    return {name: {s: _fit_output(name, s) for s in set(SEEDS)} for name in REQUIRED}


@pytest.mark.parametrize("backend", ["sequential", "threading", "loky"])
@pytest.mark.parametrize("name", REQUIRED)
def test_parallel_fits_match_serial_fits(name, backend, serial_outputs):
    n_jobs = 1 if backend == "sequential" else 2
    outputs = Parallel(n_jobs=n_jobs, backend=backend)(
        delayed(_fit_output)(name, seed, backend == "loky") for seed in SEEDS
    )
    for seed, output in zip(SEEDS, outputs):
        np.testing.assert_array_equal(output, serial_outputs[name][seed])


@pytest.mark.parametrize("backend", ["sequential", "threading", "loky"])
def test_linear_classifier_fits_match_serial_fits(backend):
    serial = {seed: _fit_output("linear_classifier", seed) for seed in (0, 1)}
    n_jobs = 1 if backend == "sequential" else 2
    outputs = Parallel(n_jobs=n_jobs, backend=backend)(
        delayed(_fit_output)("linear_classifier", seed, backend == "loky") for seed in SEEDS
    )
    for seed, output in zip(SEEDS, outputs):
        if backend == "threading":
            # torch's CPU FFT (the encoder's spectral tokens) can differ in the last bit
            # between the main thread and a worker thread; the linear probe fitted on
            # those features carries the difference (about 1e-7) into the output
            np.testing.assert_allclose(output, serial[seed], atol=1e-5)
        else:
            np.testing.assert_array_equal(output, serial[seed])


@pytest.mark.parametrize("name", ["lejepa", "masked", "mts-jepa"])
def test_other_objectives_in_threads_match_serial_fits(name):
    serial = {seed: _fit_output(name, seed) for seed in (0, 1)}
    outputs = Parallel(n_jobs=2, backend="threading")(
        delayed(_fit_output)(name, seed) for seed in SEEDS
    )
    for seed, output in zip(SEEDS, outputs):
        np.testing.assert_array_equal(output, serial[seed])
    assert not np.array_equal(serial[0], serial[1])


@pytest.mark.parametrize("name", REQUIRED)
def test_other_random_state_other_result(name, serial_outputs):
    assert not np.allclose(serial_outputs[name][0], serial_outputs[name][1])


def _global_states() -> tuple[torch.Tensor, np.ndarray]:
    return torch.get_rng_state(), np.random.get_state()[1].copy()


@pytest.mark.parametrize("name", REQUIRED)
def test_fit_leaves_global_random_states_alone(name):
    torch.manual_seed(1234)
    np.random.seed(1234)
    torch_before, numpy_before = _global_states()
    _fit_output(name, 0)
    torch_after, numpy_after = _global_states()
    assert torch.equal(torch_after, torch_before)
    np.testing.assert_array_equal(numpy_after, numpy_before)


def test_threaded_fits_leave_global_random_states_alone():
    torch.manual_seed(99)
    np.random.seed(99)
    torch_before, numpy_before = _global_states()
    Parallel(n_jobs=2, backend="threading")(
        delayed(_fit_output)(name, seed) for name in ("embedder", "lejepa") for seed in (0, 1)
    )
    torch_after, numpy_after = _global_states()
    assert torch.equal(torch_after, torch_before)
    np.testing.assert_array_equal(numpy_after, numpy_before)


# ------------------------------------------------------------ random sources
def test_random_source_generators_per_device_and_reseed():
    source = RandomSource(7)
    cpu = source.generator()
    assert source.generator("cpu") is cpu
    assert source.generator("meta") is None
    first = torch.rand(3, generator=cpu)
    source.reseed(7)
    torch.testing.assert_close(torch.rand(3, generator=cpu), first)
    assert source.seed == 7


def test_using_is_per_block_and_nests():
    assert active_generator() is None
    outer, inner = RandomSource(0), RandomSource(1)
    with using(outer):
        assert active_generator() is outer.generator()
        with using(inner):
            assert active_generator() is inner.generator()
        assert active_generator() is outer.generator()
    assert active_generator() is None


def test_the_active_source_is_per_thread():
    def look(_):
        return active_generator()

    with using(RandomSource(0)):
        seen = Parallel(n_jobs=2, backend="threading")(delayed(look)(i) for i in range(2))
    assert seen == [None, None]  # another thread is not inside this fit


# ----------------------------------------------------------- initialisation
def _tiny_jepa_config(**changes) -> JEPAConfig:
    return JEPAConfig(**{**TINY_PATCH_ENCODER, "dropout": 0.1, **changes})


BUILDERS = {
    "tspulse": lambda: TSPulse(TSPulseConfig(**TINY_TSPULSE)),
    "classification": lambda: TSPulseForClassification(
        TSPulse(TSPulseConfig(**TINY_TSPULSE)), n_channels=2, n_classes=3
    ),
    "patch_encoder": lambda: PatchEncoder(_tiny_jepa_config()),
    "mts-jepa": lambda: MTSJEPA(
        _tiny_jepa_config(codebook_size=4, predictor_dim=8, predictor_layers=1, predictor_heads=2)
    ),
    "lejepa": lambda: LeJEPA(PatchEncoder(_tiny_jepa_config()), projection_dim=4),
    "dino": lambda: DINO(PatchEncoder(_tiny_jepa_config()), n_prototypes=8, hidden=8),
    "masked": lambda: MaskedPatchModel(PatchEncoder(_tiny_jepa_config())),
    "dino_head": lambda: DINOHead(8, 8, 4, 8),
    "deepsvdd": lambda: DeepSVDDNetwork(16, (8, 4)),
}


def _state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_construction_draws_from_the_fit_generator(name):
    torch.manual_seed(5)
    before = torch.get_rng_state()
    with seeded(3):
        first = _state(BUILDERS[name]())
    with seeded(3):
        second = _state(BUILDERS[name]())
    with seeded(4):
        other = _state(BUILDERS[name]())
    assert torch.equal(torch.get_rng_state(), before)  # nothing drawn from the global one
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert any(not torch.equal(first[k], other[k]) for k in first)


def test_construction_keeps_torch_default_initialisation():
    # the same draws in the same order: the fit's generator seeded with s gives
    # the weights that torch.manual_seed(s) gives
    source = RandomSource(11)
    with using(source):
        routed = _state(PatchEncoder(_tiny_jepa_config()))
    with torch.random.fork_rng():
        torch.manual_seed(11)
        plain = _state(PatchEncoder(_tiny_jepa_config()))
    assert all(torch.equal(routed[k], plain[k]) for k in plain)


def test_copies_made_at_construction_stay_copies():
    with seeded(0):
        model = MTSJEPA(
            _tiny_jepa_config(codebook_size=4, predictor_dim=8, predictor_layers=1, predictor_heads=2)
        )
        dino = DINO(PatchEncoder(_tiny_jepa_config()), n_prototypes=8, hidden=8)
    for a, b in zip(model.encoder.parameters(), model.target_encoder.parameters()):
        assert torch.equal(a, b)
    for a, b in zip(dino.student.parameters(), dino.teacher.parameters()):
        assert torch.equal(a, b)


# ------------------------------------------------------------------ dropout
def test_fast_dropout_in_a_fit_draws_from_its_generator():
    drop = FastDropout(0.5).train()
    x = torch.ones(1000)
    torch.manual_seed(0)
    before = torch.get_rng_state()
    with seeded(0):
        a = drop(x)
    with seeded(0):
        b = drop(x)
    with seeded(1):
        c = drop(x)
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert set(a.unique().tolist()) == {0.0, 2.0}


def test_fast_dropout_inplace_and_p_one_in_a_fit():
    x = torch.ones(64)
    with seeded(0):
        expected = FastDropout(0.3).train()(x.clone())
    with seeded(0):
        y = x.clone()
        out = FastDropout(0.3, inplace=True).train()(y)
    assert out is y and torch.equal(y, expected)
    with seeded(0):
        assert torch.equal(FastDropout(1.0).train()(x), torch.zeros_like(x))


def test_transformer_dropouts_are_converted():
    encoder = PatchEncoder(_tiny_jepa_config())
    kinds = {type(m) for m in encoder.modules()}
    assert nn.Dropout not in kinds and nn.MultiheadAttention not in kinds
    assert FastDropout in kinds and GeneratorMultiheadAttention in kinds
    plain = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.2, batch_first=True)
    keys = list(plain.state_dict())
    converted = use_generator_dropout(plain)
    assert list(converted.state_dict()) == keys
    assert converted.dropout1.p == 0.2 and converted.self_attn.dropout == 0.2


@pytest.mark.parametrize("batch_first", [True, False])
def test_generator_attention_computes_torch_attention(batch_first):
    torch.manual_seed(0)
    attention = GeneratorMultiheadAttention(8, 2, dropout=0.1, batch_first=batch_first)
    shape = (3, 5, 8) if batch_first else (5, 3, 8)
    q, kv = torch.randn(shape), torch.randn(shape[:-1] + (8,))
    attn_mask = torch.rand(5, 5) < 0.2
    attn_mask.fill_diagonal_(False)
    padding = torch.zeros(3, 5, dtype=torch.bool)
    padding[0, -1] = True
    kwargs = {"attn_mask": attn_mask, "key_padding_mask": padding}
    # p = 1e-9 drops nothing (p is quantised to 1/65536): this class's own path
    attention.dropout = 1e-9
    with seeded(0):
        own, own_weights = attention.train()(q, kv, kv, **kwargs)
    attention.dropout = 0.0  # torch's path
    reference, weights = attention(q, kv, kv, **kwargs)
    torch.testing.assert_close(own, reference, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(own_weights, weights, rtol=1e-5, atol=1e-6)


def test_generator_attention_dropout_is_seeded_and_leaves_global_alone():
    torch.manual_seed(0)
    attention = GeneratorMultiheadAttention(8, 2, dropout=0.5, batch_first=True).train()
    x = torch.randn(4, 6, 8)
    before = torch.get_rng_state()
    outputs = []
    for seed in (0, 0, 1):
        with seeded(seed):
            outputs.append(attention(x, x, x, need_weights=False)[0])
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.equal(outputs[0], outputs[1]) and not torch.equal(outputs[0], outputs[2])
    attention.eval()
    with seeded(0):  # evaluation: torch's own attention, no dropout
        torch.testing.assert_close(attention(x, x, x)[0], attention(x, x, x)[0])


# -------------------------------------------------------------- shuffling
def test_seeded_data_loader_shuffles_with_the_fit_generator():
    data = torch.arange(20)

    def order(seed):
        with seeded(seed):
            return torch.cat(list(SeededDataLoader(data, batch_size=5, shuffle=True)))

    torch.manual_seed(0)
    before = torch.get_rng_state()
    first, again, other = order(0), order(0), order(1)
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.equal(first, again) and not torch.equal(first, other)
    explicit = torch.Generator().manual_seed(3)
    loader = SeededDataLoader(data, shuffle=True, generator=explicit)
    assert loader.generator is explicit
    assert SeededDataLoader(data).generator is None  # outside a fit: plain DataLoader
