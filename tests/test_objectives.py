import torch

from sslts.models import TSPulse
from sslts.objectives import TSPulseObjective


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
