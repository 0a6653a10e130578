"""Objectives: the TSPulse loss and the registry of the latent objectives."""

from typing import NamedTuple

import numpy as np
import pytest
import torch
from sklearn.base import clone
from skorch.callbacks import Callback
from torch import nn

from sslts._validation import Panel
from sslts.latent import JEPAEmbedder
from sslts.models import MTSJEPA, JEPAConfig, PatchEncoder, TSPulse
from sslts.objectives import (
    _registry,
    available_objectives,
    get_objective,
    MTSJEPALosses,
    Objective,
    register_objective,
    TSPulseObjective,
    window_batch,
    wrap_encoder,
)


def _batch(config, n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(config.context_length + config.forecast_length, dtype=torch.float32)
    freq = torch.rand(n, 1, 1, generator=g) * 0.4 + 0.05
    return torch.sin(freq * t) + 0.05 * torch.randn(n, 1, t.numel(), generator=g)


def test_losses_are_finite_and_weighted(tiny_config):
    torch.manual_seed(0)
    model = TSPulse(tiny_config).train()
    x = _batch(tiny_config)
    losses = TSPulseObjective(tiny_config)(model(x), x)
    assert all(torch.isfinite(v) and v >= 0 for v in losses)
    parts = losses.time + losses.fft + losses.fft_time + losses.prob + losses.forecast
    torch.testing.assert_close(losses.total, parts)
    assert losses.forecast > 0


def test_zero_weights_remove_terms(tiny_config):
    from dataclasses import replace

    cfg = replace(tiny_config, fft_weight=0.0, prob_weight=0.0, forecast_weight=0.0)
    torch.manual_seed(0)
    model = TSPulse(cfg).train()
    x = _batch(cfg)
    losses = TSPulseObjective(cfg)(model(x), x)
    torch.testing.assert_close(losses.total, losses.time + losses.fft_time)


def test_forecast_loss_skipped_without_future(tiny_config):
    model = TSPulse(tiny_config).train()
    x = _batch(tiny_config)[..., : tiny_config.context_length]
    assert TSPulseObjective(tiny_config)(model(x), x).forecast == 0


def test_time_loss_counts_only_hidden_observed_points(tiny_config):
    model = TSPulse(tiny_config).eval()
    x = _batch(tiny_config, n=2)
    out = model(x)
    hidden = torch.zeros_like(out.hidden)
    hidden[..., :8] = True
    perfect_there = out._replace(
        hidden=hidden,
        time=torch.where(hidden, (x[..., :64] - out.loc) / out.scale, out.time + 100.0),
    )
    losses = TSPulseObjective(tiny_config)(perfect_there, x)
    assert losses.time.item() < 1e-10


def test_loss_decreases_on_a_toy_problem(tiny_config):
    torch.manual_seed(0)
    model = TSPulse(tiny_config).train()
    objective = TSPulseObjective(tiny_config)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-3)
    x = _batch(tiny_config, n=64)
    first = None
    for _ in range(60):
        loss = objective(model(x), x).total
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    assert loss.item() < 0.8 * first


# ------------------------------------------------------------------ registry
class ToyLosses(NamedTuple):
    total: torch.Tensor
    variance: torch.Tensor


class ToyModule(nn.Module):
    """Embeddings of a noisy copy of the input and of the input itself."""

    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder

    def forward(self, x, observed=None):
        noisy = x + 0.1 * torch.randn_like(x)
        return self.encoder.embed(noisy, observed), self.encoder.embed(x, observed)


class ToyObjective:
    """Invariance to noise, with a variance floor against collapse."""

    def __call__(self, output, **batch):
        first, second = output
        variance = first.var(0).mean()
        invariance = (first - second).pow(2).mean()
        return ToyLosses(invariance + torch.relu(1 - variance), variance)


class EpochCounter(Callback):
    def on_epoch_end(self, net, **kwargs):
        net.history.record("toy_epochs_seen", len(net.history))


@pytest.fixture
def toy_objective(monkeypatch):
    """A toy objective in the registry for one test only."""
    monkeypatch.setattr(_registry, "_OBJECTIVES", dict(_registry._OBJECTIVES))
    return register_objective(
        Objective(
            name="toy",
            module=ToyModule,
            build=wrap_encoder(ToyModule),
            criterion=ToyObjective,
            losses=ToyLosses,
            callbacks=lambda module: [("count", EpochCounter())],
        )
    )


def test_builtin_objectives_are_registered():
    assert set(available_objectives()) >= {"dino", "lejepa", "masked", "mts-jepa"}
    assert available_objectives() == tuple(sorted(available_objectives()))
    mts = get_objective("mts-jepa")
    assert mts.module is MTSJEPA and mts.losses is MTSJEPALosses
    assert mts.loss_parts == MTSJEPALosses._fields[1:]


def test_unknown_objective_lists_the_choices():
    with pytest.raises(ValueError, match=r"unknown objective 'simclr'; available: \['dino', 'lejepa'"):
        get_objective("simclr")


def test_names_are_unique():
    with pytest.raises(ValueError, match="'dino' is already registered"):
        register_objective(get_objective("dino"))


def test_initial_module_from_config_encoder_or_other_objective():
    config = JEPAConfig(context_length=16, patch_length=4, d_model=8, n_layers=1, n_heads=2)
    lejepa, mts = get_objective("lejepa"), get_objective("mts-jepa")
    encoder = PatchEncoder(config)
    assert lejepa.initial_module(encoder).encoder is encoder
    model = mts.initial_module(encoder)
    assert isinstance(model, MTSJEPA)
    for part in (model.encoder, model.target_encoder):
        torch.testing.assert_close(part.state_dict(), encoder.state_dict())
    assert mts.initial_module(model) is model  # its own module: trained as it is
    assert lejepa.initial_module(model).encoder is model.encoder
    # DINO embeds with its teacher: that is what another objective starts from
    dino = get_objective("dino").initial_module(config)
    assert lejepa.initial_module(dino).encoder is dino.teacher.encoder
    with pytest.raises(ValueError, match="cannot start from a Linear"):
        lejepa.initial_module(nn.Linear(2, 2))


def test_window_batch_follows_the_length_policy():
    panel = Panel(np.ones((2, 1, 10), np.float32), None, np.array([10, 10]))
    batch = window_batch(panel, 4)
    assert batch["x"].shape == batch["observed"].shape == (6, 1, 4)


def test_registered_objective_trains_through_jepa_embedder(toy_objective, panel):
    assert "toy" in available_objectives()
    emb = JEPAEmbedder(
        objective="toy", context_length=16, patch_length=4, d_model=8, n_layers=1,
        n_heads=2, max_epochs=2, batch_size=16, random_state=0,
    ).fit(panel)
    assert isinstance(emb.model_, ToyModule) and emb.encoder_ is emb.model_.encoder
    assert [row["toy_epochs_seen"] for row in emb.history_] == [1, 2]
    assert all(np.isfinite(row["loss_variance"]) for row in emb.history_)
    assert emb.transform(panel).shape == (len(panel), 2 * 8)
    with pytest.raises(ValueError, match=r"ablation of objective \['mts-jepa'\]"):
        clone(emb).set_params(use_coarse=False).fit(panel)

