"""MTS-JEPA objective, EMA target, loss schedule and collapse monitoring."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from skorch.callbacks import GradientNormClipping

from sslts.models import MTSJEPA, JEPAConfig
from sslts.objectives import MTSJEPALosses, MTSJEPAObjective
from sslts.training import (
    CollapseMonitor,
    PretrainNet,
    code_usage_entropy,
    effective_rank,
    ema_update,
    mtsjepa_callbacks,
    pretrain_callbacks,
    top_code_probability,
)

K = 32


def config(**overrides) -> JEPAConfig:
    values = dict(
        context_length=40,
        patch_length=10,
        d_model=32,
        n_layers=1,
        n_heads=2,
        expansion=2,
        dropout=0.0,
        codebook_size=K,
        predictor_dim=32,
        predictor_layers=1,
        predictor_heads=2,
    )
    return JEPAConfig(**{**values, **overrides})


def toy_pairs(n: int = 192, seed: int = 0) -> dict[str, np.ndarray]:
    """Consecutive 40-point windows of four shapes: slow and fast sines, square, saw."""
    rng = np.random.default_rng(seed)
    t = np.arange(80)
    kind = rng.integers(0, 4, n)[:, None]
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    shapes = [
        np.sin(2 * np.pi * t / 40 + phase),
        np.sin(2 * np.pi * t / 8 + phase),
        np.sign(np.sin(2 * np.pi * t / 20 + phase)),
        ((t / 13 + phase) % 1) * 2 - 1,
    ]
    series = np.select([kind == i for i in range(4)], shapes)
    series = rng.uniform(0.5, 2.0, (n, 1)) * series + 0.05 * rng.normal(size=series.shape)
    series = series.astype(np.float32)[:, None, :]
    return {"x": series[..., :40], "x_next": series[..., 40:]}


def make_net(cfg: JEPAConfig, max_epochs: int, lr: float = 2e-3, **kwargs) -> PretrainNet:
    callbacks = pretrain_callbacks(
        MTSJEPALosses._fields[1:],
        max_epochs=max_epochs,
        extra=[("clip", GradientNormClipping(0.5)), *mtsjepa_callbacks(decay=0.99)],
    )
    return PretrainNet(
        MTSJEPA,
        module__config=cfg,
        criterion=MTSJEPAObjective,
        criterion__config=cfg,
        max_epochs=max_epochs,
        batch_size=32,
        lr=lr,
        callbacks=callbacks,
        verbose=0,
        **kwargs,
    )


def fit(cfg: JEPAConfig, max_epochs: int, seed: int = 0, data=None) -> PretrainNet:
    torch.manual_seed(seed)
    return make_net(cfg, max_epochs).fit(toy_pairs() if data is None else data)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def trained() -> PretrainNet:
    return fit(config(), max_epochs=10)


# ---------------------------------------------------------------- training
def test_loss_decreases_on_toy_problem(trained):
    losses = trained.history[:, "train_loss"]
    assert losses[-1] < 0.6 * losses[0]
    assert trained.history[-1, "loss_reconstruction"] < trained.history[0, "loss_reconstruction"]
    assert trained.history[-1, "loss_fine_kl"] < trained.history[0, "loss_fine_kl"]


def test_no_collapse_decisive_and_diverse_codes(trained):
    """tau = 0.1: sharp assignments, several codes in use, embeddings not on a line."""
    last = trained.history[-1]
    assert last["code_top_probability"] > 5 / K
    assert last["code_usage_entropy"] > 0.5
    assert last["embedding_rank"] > 2.0
    model = trained.module_.eval()
    with torch.no_grad():
        p = model.code_probabilities(torch.from_numpy(toy_pairs(seed=1)["x"]))
    assert top_code_probability(p) > 5 / K
    assert p.argmax(-1).unique().numel() >= 8


def test_paper_batch_entropy_weight_uses_fewer_codes(trained):
    """The paper's weight 0.01 lets most patches share a few codes (index collapse)."""
    paper = fit(config(batch_entropy_weight=0.01), max_epochs=10)
    ours = trained.history[-1, "code_usage_entropy"]
    assert paper.history[-1, "code_usage_entropy"] < ours - 0.1


def test_published_temperature_gives_near_uniform_codes():
    """tau = 1.0 (the reference code) caps the top-code probability near 1/K."""
    net = fit(config(temperature=1.0), max_epochs=3)
    assert net.history[-1, "code_top_probability"] < 2 / K


def test_reconstruction_weight_is_annealed_over_epochs(trained):
    weights = trained.history[:, "loss_reconstruction_weight"]
    np.testing.assert_allclose(weights, np.linspace(0.5, 0.1, 10), atol=1e-6)


def test_ema_moved_the_target_towards_the_online_weights(trained):
    model = trained.module_
    torch.manual_seed(0)
    initial = MTSJEPA(model.config)  # the same seed: the weights before training
    online = dict(model.encoder.named_parameters())
    for name, target in model.target_encoder.named_parameters():
        start = dict(initial.target_encoder.named_parameters())[name]
        assert not target.requires_grad
        if not torch.equal(online[name], start):
            assert not torch.equal(target, start), name
            assert not torch.equal(target, online[name]), name
    assert not torch.equal(model.target_codebook.prototypes, initial.codebook.prototypes)


def test_same_seed_same_training():
    data = toy_pairs(n=64)
    a = fit(config(), max_epochs=2, seed=7, data=data)
    b = fit(config(), max_epochs=2, seed=7, data=data)
    np.testing.assert_allclose(a.history[:, "train_loss"], b.history[:, "train_loss"], rtol=1e-5)
    for pa, pb in zip(a.module_.parameters(), b.module_.parameters()):
        torch.testing.assert_close(pa, pb)


@pytest.mark.parametrize(
    "overrides",
    [{"use_codebook": False}, {"use_coarse": False}, {"use_codebook": False, "use_coarse": False}],
)
def test_ablations_train(overrides):
    cfg = config(**overrides)
    net = fit(cfg, max_epochs=1, data=toy_pairs(n=64))
    row = net.history[-1]
    assert math.isfinite(row["train_loss"])
    if not cfg.use_codebook:
        assert row["loss_fine_kl"] == row["loss_codebook"] == row["loss_batch_entropy"] == 0
        assert "code_top_probability" not in row
        assert row["embedding_rank"] > 1
    if not cfg.use_coarse:
        assert row["loss_coarse"] == 0


# ---------------------------------------------------------------- objective
def batch(seed: int = 0) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(v[:8]) for k, v in toy_pairs(n=8, seed=seed).items()}


@pytest.mark.parametrize("overrides", [{}, {"use_codebook": False}, {"use_coarse": False}])
def test_total_is_the_weighted_sum(overrides):
    cfg = config(
        fine_weight=0.7,
        coarse_weight=0.3,
        latent_weight=0.2,
        codebook_weight=0.9,
        commitment_weight=0.4,
        sample_entropy_weight=0.05,
        batch_entropy_weight=0.02,
        **overrides,
    )
    torch.manual_seed(0)
    model = MTSJEPA(cfg)
    objective = MTSJEPAObjective(cfg)
    objective.progress = 0.25
    data = batch()
    losses = objective(model(**data), **data)
    assert isinstance(losses, MTSJEPALosses)
    r = 0.5 + 0.25 * (0.1 - 0.5)
    assert float(losses.reconstruction_weight) == pytest.approx(r)
    fine = losses.fine_kl + 0.2 * losses.fine_mse if cfg.use_codebook else losses.fine_mse
    expected = (
        0.7 * fine
        + 0.3 * losses.coarse
        + 0.9 * losses.codebook
        + 0.4 * losses.commitment
        + 0.05 * losses.sample_entropy
        - 0.02 * losses.batch_entropy
        + r * losses.reconstruction
    )
    torch.testing.assert_close(losses.total, expected)
    assert all(torch.isfinite(v) for v in losses)
    if cfg.use_codebook:
        assert 0 < losses.sample_entropy <= losses.batch_entropy <= math.log(K) + 1e-5
        assert losses.fine_kl > 0
    if not cfg.use_coarse:
        assert losses.coarse == 0


def test_objective_needs_the_next_window():
    cfg = config()
    data = batch()
    with pytest.raises(ValueError, match="pass x_next"):
        MTSJEPAObjective(cfg)(MTSJEPA(cfg)(data["x"]), data["x"])


@pytest.mark.parametrize("space", ["data", "scaled"])
def test_reconstruction_loss_undoes_revin(space):
    cfg = config(reconstruction_space=space)
    model = MTSJEPA(cfg)
    x = 100.0 + 10.0 * batch()["x"]
    out = model(x, x)
    objective = MTSJEPAObjective(cfg)
    # A decoder that returned the scaled input exactly: zero error after RevIN.
    scaled = (x - out.loc) / out.scale
    exact = out._replace(reconstruction=scaled * out.scale + out.loc)
    assert objective._reconstruction(exact, x, None) < 1e-8
    # An error of 0.1 in scaled units is 0.1 * scale in data units.
    shifted = out._replace(reconstruction=(scaled + 0.1) * out.scale + out.loc)
    expected = 0.01 * (out.scale**2).mean() if space == "data" else 0.01
    assert float(objective._reconstruction(shifted, x, None)) == pytest.approx(
        float(expected), rel=1e-3
    )
    # Unobserved points are left out.
    observed = torch.ones_like(x, dtype=torch.bool)
    observed[..., :10] = False
    wrong = exact.reconstruction.clone()
    wrong[..., :10] += 1e3
    assert objective._reconstruction(exact._replace(reconstruction=wrong), x, observed) < 1e-8


# ---------------------------------------------------------------- callbacks and monitors
def test_ema_update_rule():
    torch.manual_seed(0)
    online, target = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    start = [p.clone() for p in target.parameters()]
    ema_update(online, target, 1.0)
    for p, s in zip(target.parameters(), start):
        torch.testing.assert_close(p, s)
    ema_update(online, target, 0.75)
    for p, s, o in zip(target.parameters(), start, online.parameters()):
        torch.testing.assert_close(p, 0.75 * s + 0.25 * o)
    ema_update(online, target, 0.0)
    for p, o in zip(target.parameters(), online.parameters()):
        torch.testing.assert_close(p, o)
    with pytest.raises(ValueError, match="different parameters"):
        ema_update(online, torch.nn.Linear(3, 2, bias=False), 0.5)


def test_ema_target_bad_names():
    net = make_net(config(), max_epochs=1)
    net.set_params(callbacks__ema__target="target_encoder")
    with pytest.raises(ValueError, match="as many online as target names"):
        net.fit(toy_pairs(n=32))
    net = make_net(config(), max_epochs=1)
    net.set_params(callbacks__ema__target=("target_encoder", "no_such_codebook"))
    with pytest.raises(AttributeError, match="no submodule 'no_such_codebook'"):
        net.fit(toy_pairs(n=32))


def test_objective_progress_by_steps():
    cfg = config()
    net = make_net(cfg, max_epochs=1)
    net.set_params(callbacks__objective_progress__total_steps=3)  # 64 samples = 2 batches
    net.fit(toy_pairs(n=64))
    assert net.criterion_.progress == pytest.approx(0.5)
    with pytest.raises(ValueError, match="total_steps must be >= 1"):
        net.set_params(callbacks__objective_progress__total_steps=0).fit(toy_pairs(n=32))


def test_collapse_statistics():
    uniform = torch.full((10, K), 1 / K)
    assert code_usage_entropy(uniform) == pytest.approx(1.0)
    assert top_code_probability(uniform) == pytest.approx(1 / K)
    one_code = torch.nn.functional.one_hot(torch.zeros(10, dtype=torch.long), K).float()
    assert code_usage_entropy(one_code) == pytest.approx(0.0, abs=1e-9)
    assert top_code_probability(one_code) == pytest.approx(1.0)
    two_codes = torch.nn.functional.one_hot(torch.arange(10) % 2, K).float()
    assert code_usage_entropy(two_codes) == pytest.approx(math.log(2) / math.log(K))
    rng = torch.Generator().manual_seed(0)
    assert effective_rank(torch.randn(4000, 4, generator=rng)) == pytest.approx(4.0, rel=0.02)
    line = torch.randn(100, 1, generator=rng) * torch.tensor([[1.0, 2.0, -1.0]])
    assert effective_rank(line) == pytest.approx(1.0, abs=1e-6)
    assert effective_rank(torch.ones(5, 3)) == 0.0
    assert effective_rank(torch.ones(1, 3)) == 0.0


def test_collapse_monitor_reads_named_fields_and_callables():
    monitor = CollapseMonitor(probabilities=None, embeddings=lambda out: out["z"], max_rows=5)
    monitor.on_epoch_begin(None)
    for _ in range(3):
        monitor.on_batch_end(None, training=True, y_pred={"z": torch.randn(2, 3)})
    monitor.on_batch_end(None, training=False, y_pred={"z": torch.randn(2, 3)})
    assert sum(len(r) for r in monitor.rows_["embeddings"]) == 5
    assert monitor.rows_["probabilities"] == []
