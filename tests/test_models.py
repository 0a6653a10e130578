import pytest
import torch

from sslts.models import TSPulse, TSPulseConfig, mixed_mask
from sslts.models.tspulse import fft_features, inverse_fft_features


def test_default_config_is_about_one_million_parameters():
    model = TSPulse(TSPulseConfig())
    n_params = sum(p.numel() for p in model.parameters())
    assert 0.9e6 <= n_params <= 1.1e6
    cfg = model.config
    assert (cfg.context_length, cfg.patch_length, cfg.d_model, cfg.n_registers) == (512, 8, 24, 10)
    assert cfg.n_decoder_layers == 2
    assert cfg.n_tokens == 2 * 64 + 10


def test_forward_shapes(tiny_model, tiny_config):
    x = torch.randn(3, 2, tiny_config.context_length + tiny_config.forecast_length)
    out = tiny_model(x)
    T = tiny_config.context_length
    assert out.time.shape == out.fft.shape == out.fft_time.shape == (3, 2, T)
    assert out.prob_logits.shape == (3, 2, T // 2)
    assert out.forecast.shape == (3, 2, tiny_config.forecast_length)
    assert out.tokens.shape == (3, 2, tiny_config.n_tokens, tiny_config.d_model)
    assert out.loc.shape == out.scale.shape == (3, 2, 1)
    assert not out.hidden.any()  # eval mode, fully observed


def test_embedding_kinds(tiny_model, tiny_config):
    x = torch.randn(4, 3, tiny_config.context_length)
    sizes = tiny_model.embedding_sizes()
    for kind, size in sizes.items():
        assert tiny_model.embed(x, kind=kind).shape == (4, 3, size)
    both = tiny_model.embed(x, kind="both")
    torch.testing.assert_close(both[..., sizes["detail"] :], tiny_model.embed(x, kind="semantic"))
    with pytest.raises(ValueError, match="kind must be one of"):
        tiny_model.embed(x, kind="mean")


def test_fft_features_invert_exactly_without_nyquist():
    t = torch.arange(64, dtype=torch.float64)
    x = torch.stack([torch.sin(0.3 * t) + 0.5 * torch.cos(1.1 * t + 0.2), torch.cos(0.05 * t)])
    feats = fft_features(x)
    assert feats.features.abs().max() <= 1.0 + 1e-12
    back = inverse_fft_features(feats.features, feats.real_scale, feats.imag_scale)
    # The Nyquist bin is dropped: compare after removing it from x as well.
    spec = torch.fft.rfft(x)
    spec[..., -1] = 0
    torch.testing.assert_close(back, torch.fft.irfft(spec, n=64))


def test_hidden_values_never_leak(tiny_model, tiny_config):
    T = tiny_config.context_length
    x = torch.randn(2, 1, T)
    observed = torch.ones_like(x, dtype=torch.bool)
    observed[..., 10:30] = False
    y = x.clone()
    y[..., 10:30] = 1e3  # garbage where unobserved
    a, b = tiny_model.encode(x, observed), tiny_model.encode(y, observed)
    torch.testing.assert_close(a, b)


def test_channels_are_encoded_independently(tiny_model, tiny_config):
    x = torch.randn(2, 2, tiny_config.context_length)
    y = x.clone()
    y[:, 1] = torch.randn_like(y[:, 1])
    a, b = tiny_model.encode(x), tiny_model.encode(y)
    torch.testing.assert_close(a[:, 0], b[:, 0])
    assert not torch.allclose(a[:, 1], b[:, 1])


def test_training_mask_is_drawn_and_shared_across_channels(tiny_config):
    model = TSPulse(tiny_config).train()
    torch.manual_seed(1)
    out = model(torch.randn(8, 3, tiny_config.context_length))
    assert out.hidden.any()
    assert torch.equal(out.hidden[:, 0], out.hidden[:, 2])
    ratio = out.hidden.float().mean().item()
    assert 0.2 < ratio < 0.5


def test_mixed_mask_ratios():
    g = torch.Generator().manual_seed(0)
    m = mixed_mask(200, 64, 8, block_ratio=0.25, point_ratio=0.0, generator=g)
    patches = m.view(200, 8, 8)
    assert (patches.all(-1) | ~patches.any(-1)).all()  # whole patches only
    assert (patches.all(-1).sum(1) == 2).all()
    m = mixed_mask(200, 64, 8, block_ratio=0.0, point_ratio=0.3, generator=g)
    assert abs(m.float().mean().item() - 0.3) < 0.02
    with pytest.raises(ValueError, match="multiple"):
        mixed_mask(1, 60, 8, 0.1, 0.1)
    with pytest.raises(ValueError, match="block_ratio"):
        mixed_mask(1, 64, 8, 1.0, 0.1)


def test_config_validation_and_round_trip(tiny_config):
    assert TSPulseConfig.from_dict(tiny_config.to_dict()) == tiny_config
    with pytest.raises(ValueError, match="unknown TSPulse configuration keys"):
        TSPulseConfig.from_dict({**tiny_config.to_dict(), "n_heads": 4})
    with pytest.raises(ValueError, match="multiple of"):
        TSPulseConfig(context_length=100, patch_length=8)
    with pytest.raises(ValueError, match="d_model"):
        TSPulseConfig(d_model=0)


def test_input_checks(tiny_model):
    with pytest.raises(ValueError, match="batch, channels, time"):
        tiny_model(torch.randn(4, 64))
    with pytest.raises(ValueError, match="< context_length"):
        tiny_model(torch.randn(1, 1, 32))


def test_constant_series_stay_finite(tiny_model, tiny_config):
    out = tiny_model(torch.full((2, 1, tiny_config.context_length), 5.0))
    for tensor in (out.time, out.fft_time, out.prob_logits, out.forecast, out.tokens):
        assert torch.isfinite(tensor).all()


def _layer_by_layer(model: TSPulse, x: torch.Tensor) -> torch.Tensor:
    """The mixer stacks as plain layer calls on ``(..., tokens, features)``."""
    hidden = model._hidden(x, None)
    scaled, _, _ = model.revin(x, ~hidden)
    tokens, _ = model._tokens(scaled, hidden)
    for layer in [*model.backbone, *model.decoder]:
        tokens = layer(tokens)
    return tokens


def test_token_major_path_matches_the_plain_layers_in_training_and_inference():
    # The mixer stacks run a token-major, chunked path; with dropout and masking
    # off it must compute what the layers compute one by one, gradients included.
    cfg = TSPulseConfig(
        context_length=128, n_layers=2, n_registers=3, dropout=0.0,
        mask_block_ratio=0.0, mask_point_ratio=0.0,
    )
    torch.manual_seed(0)
    model = TSPulse(cfg).train()
    x = torch.randn(300, 2, 128)  # enough series for several chunks
    reference = _layer_by_layer(model, x)
    fast = model.encode(x)
    torch.testing.assert_close(fast, reference, rtol=1e-4, atol=1e-5)
    weight = torch.randn_like(reference)
    grad_ref = torch.autograd.grad((reference * weight).sum(), list(model.parameters()), allow_unused=True)
    grad_fast = torch.autograd.grad((fast * weight).sum(), list(model.parameters()), allow_unused=True)
    for ref, got in zip(grad_ref, grad_fast):
        if ref is not None:
            torch.testing.assert_close(got, ref, rtol=1e-3, atol=1e-5)
    model.eval()
    with torch.inference_mode():
        evaluated = model.encode(x)
        semantic = model.embed(x, kind="semantic")
    torch.testing.assert_close(evaluated, reference.detach(), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(semantic, reference.detach()[..., 2 * cfg.n_patches :, :].flatten(-2), rtol=1e-4, atol=1e-5)


def test_fast_dropout_keeps_the_right_fraction_and_scales_like_torch():
    from sslts.models.layers import FastDropout

    drop = FastDropout(0.1).train()
    x = torch.ones(2_000_000, requires_grad=True)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        y = drop(x)
        torch.manual_seed(0)
        again = drop(x)
    torch.testing.assert_close(y, again)  # seeded like torch's own dropout
    kept = y > 0
    assert abs(kept.float().mean().item() - 0.9) < 1e-3
    torch.testing.assert_close(y[kept], torch.full_like(y[kept], 1 / 0.9))
    y.sum().backward()  # gradient: the same mask and scale
    torch.testing.assert_close(x.grad, y.detach())
    drop.eval()
    assert drop(x) is x


def test_fast_dropout_falls_back_to_torch_where_it_does_not_apply():
    from torch.nn import functional as F

    from sslts.models.layers import FastDropout

    x = torch.randn(100, 10)
    for module in (FastDropout(0.3, inplace=True), FastDropout(1.0)):
        with torch.random.fork_rng():
            torch.manual_seed(1)
            expected = F.dropout(x.clone(), module.p, True, module.inplace)
            torch.manual_seed(1)
            torch.testing.assert_close(module.train()(x.clone()), expected)
    assert FastDropout(0.0).train()(x) is x


def test_linear_classification_head_averages_the_features_of_its_phases():
    from sslts.models import TSPulseForLinearClassification

    cfg = TSPulseConfig(context_length=64, d_model=8, n_layers=1, n_registers=2)
    width = (cfg.n_registers + 4) * cfg.d_model + 2
    torch.manual_seed(0)
    head = TSPulseForLinearClassification(TSPulse(cfg), 2 * 2 * width, n_classes=3, n_phases=3).eval()
    x = torch.randn(4, 3 * 2, 2, 64)  # 4 series, 3 phases of 2 views, 2 channels
    with torch.no_grad():
        averaged = head.features(x)
        head.n_phases = 1
        per_phase = [head.features(x[:, 2 * k : 2 * k + 2]) for k in range(3)]
    torch.testing.assert_close(averaged, torch.stack(per_phase).mean(0), rtol=1e-5, atol=1e-6)
    head.n_phases = 4
    with pytest.raises(ValueError, match=r"expected \(batch, 4 phases \* views, channels, 64\)"):
        head.features(x)


def test_bf16_autocast_keeps_the_residual_stream_in_float32_and_stays_close():
    # Under bfloat16 autocast the products run in bfloat16, but the residual
    # stream (and so every layer norm's input) must stay float32: summing into
    # a bfloat16 buffer loses precision layer after layer and is slow.
    cfg = TSPulseConfig(context_length=128, n_layers=3, n_registers=3)
    torch.manual_seed(0)
    model = TSPulse(cfg).eval()
    x = torch.randn(40, 1, 128)
    with torch.inference_mode():
        reference = model.encode(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            fast = model.encode(x)
    assert fast.dtype == torch.float32
    assert (fast - reference).norm() / reference.norm() < 0.02
    model.train()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        trained = model.encode(x)
    assert trained.dtype == torch.float32
    trained.float().pow(2).mean().backward()
    assert all(p.grad is None or p.grad.dtype == torch.float32 for p in model.parameters())
