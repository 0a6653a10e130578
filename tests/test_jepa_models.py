"""The shared JEPA encoder and the parts of the MTS-JEPA model (pure torch)."""

from __future__ import annotations

import pickle

import pytest
import torch

from sslts.models import (
    MTSJEPA,
    CoarsePredictor,
    FinePredictor,
    JEPAConfig,
    PatchDecoder,
    PatchEncoder,
    SoftCodebook,
    coarse_view,
)
from sslts.pretrained import CheckpointError, load_checkpoint, save_checkpoint

TINY = dict(
    context_length=40,
    patch_length=10,
    d_model=16,
    n_layers=1,
    n_heads=2,
    expansion=2,
    codebook_size=8,
    predictor_dim=16,
    predictor_layers=1,
    predictor_heads=2,
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny(**overrides) -> JEPAConfig:
    return JEPAConfig(**{**TINY, **overrides})


def model(seed: int = 0, **overrides) -> MTSJEPA:
    torch.manual_seed(seed)
    return MTSJEPA(tiny(**overrides))


def windows(batch: int = 3, channels: int = 2, seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return 3.0 + 2.0 * torch.randn(batch, channels, 40, generator=generator)


# ---------------------------------------------------------------- configuration
def test_config_defaults_follow_the_paper():
    cfg = JEPAConfig()
    assert (cfg.context_length, cfg.patch_length, cfg.n_patches) == (100, 20, 5)
    assert (cfg.d_model, cfg.codebook_size, cfg.temperature) == (256, 128, 0.1)
    assert (cfg.n_layers, cfg.n_heads, cfg.predictor_dim, cfg.predictor_layers) == (6, 8, 128, 2)
    assert cfg.ema_decay == 0.996
    assert (cfg.fine_weight, cfg.coarse_weight, cfg.latent_weight) == (1.0, 0.5, 0.1)
    assert (cfg.reconstruction_start, cfg.reconstruction_end) == (0.5, 0.1)
    assert (cfg.codebook_weight, cfg.commitment_weight, cfg.sample_entropy_weight) == (
        1.0,
        0.25,
        0.005,
    )
    # Deliberate departures, documented on JEPAConfig.
    assert (cfg.batch_entropy_weight, cfg.reconstruction_space) == (0.1, "scaled")


def test_config_round_trip_and_unknown_keys():
    cfg = tiny(use_coarse=False, temperature=0.2)
    assert JEPAConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown JEPA configuration keys: \\['bogus'\\]"):
        JEPAConfig.from_dict({**cfg.to_dict(), "bogus": 1})


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"context_length": 45}, "multiple of patch_length"),
        ({"d_model": 15}, "multiple of n_heads"),
        ({"predictor_dim": 15}, "multiple of predictor_heads"),
        ({"n_layers": 0}, "n_layers must be an integer >= 1"),
        ({"patch_length": 2.5}, "patch_length must be an integer"),
        ({"codebook_size": 1}, "codebook_size must be >= 2"),
        ({"temperature": 0.0}, "temperature must be > 0"),
        ({"dropout": 1.0}, "dropout must be in"),
        ({"ema_decay": 1.5}, "ema_decay must be in"),
        ({"batch_entropy_weight": -0.1}, "batch_entropy_weight must be a finite number >= 0"),
        ({"reconstruction_space": "raw"}, "reconstruction_space must be"),
    ],
)
def test_bad_config_errors(overrides, match):
    # a value of the wrong type (2.5 for an integer) raises TypeError, a bad value ValueError
    with pytest.raises((ValueError, TypeError), match=match):
        tiny(**overrides)


# ---------------------------------------------------------------- encoder
def test_encoder_shapes_and_revin_statistics():
    torch.manual_seed(0)
    encoder = PatchEncoder(tiny()).eval()
    x = windows()
    out = encoder(x)
    assert out.tokens.shape == (3, 2, 4, 16)
    assert out.loc.shape == out.scale.shape == (3, 2, 1)
    torch.testing.assert_close(out.scaled * out.scale + out.loc, x, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(encoder.encode(x), out.tokens)
    torch.testing.assert_close(encoder.embed(x), out.tokens.mean(-2))
    # Shorter windows use the first positions; channels are independent.
    assert encoder.encode(x[..., :20]).shape == (3, 2, 2, 16)
    torch.testing.assert_close(encoder.encode(x[:, :1]), out.tokens[:, :1])


def test_encoder_ignores_unobserved_values():
    torch.manual_seed(0)
    encoder = PatchEncoder(tiny()).eval()
    x = windows()
    observed = torch.ones_like(x, dtype=torch.bool)
    observed[:, :, 5:15] = False
    changed = x.clone()
    changed[:, :, 5:15] = 1e6
    torch.testing.assert_close(encoder.encode(x, observed), encoder.encode(changed, observed))


@pytest.mark.parametrize(
    "shape, match",
    [((2, 40), "expected \\(batch, channels, time\\)"), ((2, 1, 35), "multiple of"),
     ((2, 1, 50), "up to context_length")],
)
def test_encoder_bad_input(shape, match):
    encoder = PatchEncoder(tiny())
    with pytest.raises(ValueError, match=match):
        encoder.encode(torch.zeros(shape))


def test_coarse_view_averages_every_n_patches_points():
    scaled = torch.arange(40.0).reshape(1, 1, 40)
    view = coarse_view(scaled, 4)
    assert view.shape == (1, 1, 1, 10)
    torch.testing.assert_close(view[0, 0, 0], torch.arange(10.0) * 4 + 1.5)
    with pytest.raises(ValueError, match="not a multiple"):
        coarse_view(scaled[..., :39], 4)


# ---------------------------------------------------------------- parts
def test_soft_codebook_assignments():
    torch.manual_seed(0)
    codebook = SoftCodebook(8, 16, temperature=0.1)
    h = torch.randn(5, 3, 16)
    p, z = codebook(h)
    assert p.shape == (5, 3, 8) and z.shape == (5, 3, 16)
    torch.testing.assert_close(p.sum(-1), torch.ones(5, 3))
    torch.testing.assert_close(z, p @ codebook.prototypes)
    # Cosine similarity: the scale of a latent does not matter.
    torch.testing.assert_close(codebook(10 * h).probabilities, p)
    # A latent equal to a prototype picks it; a lower temperature is sharper.
    assert codebook(codebook.prototypes).probabilities.argmax(-1).tolist() == list(range(8))
    codebook.temperature = 1.0
    assert codebook(h).probabilities.amax(-1).mean() < p.amax(-1).mean()


def test_predictor_and_decoder_shapes():
    cfg = tiny()
    codes = torch.softmax(torch.randn(3, 2, 4, 8), -1)
    logits, latents = FinePredictor(cfg)(codes)
    assert logits.shape == (3, 2, 4, 8) and latents.shape == (3, 2, 4, 16)
    assert CoarsePredictor(cfg)(codes).shape == (3, 2, 8)
    assert PatchDecoder(cfg)(torch.randn(3, 2, 4, 16)).shape == (3, 2, 40)
    plain = tiny(use_codebook=False)
    logits, latents = FinePredictor(plain)(torch.randn(3, 2, 4, 16))
    assert logits is None and latents.shape == (3, 2, 4, 16)
    assert CoarsePredictor(plain)(torch.randn(3, 2, 4, 16)).shape == (3, 2, 16)


# ---------------------------------------------------------------- full model
def test_mtsjepa_forward_shapes():
    m = model().train()
    x, x_next = windows(), windows(seed=2)
    out = m(x, x_next)
    shapes = {
        "tokens": (3, 2, 4, 16),
        "probabilities": (3, 2, 4, 8),
        "quantised": (3, 2, 4, 16),
        "reconstruction": (3, 2, 40),
        "loc": (3, 2, 1),
        "fine_logits": (3, 2, 4, 8),
        "fine_latent": (3, 2, 4, 16),
        "coarse_logits": (3, 2, 8),
        "target_probabilities": (3, 2, 4, 8),
        "target_latent": (3, 2, 4, 16),
        "target_coarse_probabilities": (3, 2, 8),
    }
    for name, shape in shapes.items():
        assert getattr(out, name).shape == shape, name
    assert out.coarse_latent is None and out.target_coarse_latent is None
    # The target latent is the target's soft code, not its raw latent.
    torch.testing.assert_close(
        out.target_latent, out.target_probabilities @ m.target_codebook.prototypes
    )
    without_target = m(x)
    assert without_target.target_latent is None and without_target.target_probabilities is None
    with pytest.raises(ValueError, match="x_next must be"):
        m(x, x_next[..., :30])


def test_code_features_max_pool_over_channels():
    m = model().eval()
    x = windows(channels=3)
    probabilities = m.code_probabilities(x)
    features = m.code_features(x)
    assert features.shape == (3, 4, 8)
    torch.testing.assert_close(features, probabilities.max(dim=1).values)
    assert m.embed(x).shape == (3, 3, 16) and m.encode(x).shape == (3, 3, 4, 16)


def test_target_branch_gets_no_gradients_and_stays_in_eval_mode():
    m = model().train()
    assert not m.target_encoder.training and not m.target_codebook.training
    assert all(not p.requires_grad for p in m.target_encoder.parameters())
    out = m(windows(), windows(seed=2))
    loss = sum(v.sum() for v in out if v is not None and v.requires_grad)
    loss.backward()
    assert all(p.grad is None for p in m.target_encoder.parameters())
    assert m.target_codebook.prototypes.grad is None
    assert m.encoder.patch_embedding[0].weight.grad is not None
    assert m.codebook.prototypes.grad is not None
    # The target starts as an exact copy of the online branch.
    for a, b in zip(m.encoder.parameters(), m.target_encoder.parameters()):
        torch.testing.assert_close(a, b)


def test_same_seed_same_model_and_output():
    x, x_next = windows(), windows(seed=2)
    a, b = model(seed=3).eval(), model(seed=3).eval()
    torch.testing.assert_close(a(x, x_next).fine_logits, b(x, x_next).fine_logits)
    c = model(seed=4).eval()
    assert not torch.allclose(a(x, x_next).fine_logits, c(x, x_next).fine_logits)


def test_ablation_without_codebook():
    m = model(use_codebook=False)
    assert m.codebook is None and m.target_codebook is None
    assert not any("codebook" in name for name, _ in m.named_parameters())
    assert m.fine_predictor.input.in_features == 16 and m.fine_predictor.code_head is None
    out = m(windows(), windows(seed=2))
    assert out.probabilities is None and out.fine_logits is None and out.coarse_logits is None
    torch.testing.assert_close(out.quantised, out.tokens)
    assert out.coarse_latent.shape == out.target_coarse_latent.shape == (3, 2, 16)
    assert out.target_latent.shape == (3, 2, 4, 16)
    with pytest.raises(ValueError, match="no codebook"):
        m.code_features(windows())


def test_ablation_without_coarse_branch():
    m = model(use_coarse=False)
    assert m.coarse_predictor is None
    assert not any(name.startswith("coarse") for name, _ in m.named_parameters())
    out = m(windows(), windows(seed=2))
    assert out.coarse_logits is None and out.target_coarse_probabilities is None
    both_off = model(use_coarse=False, use_codebook=False)(windows(), windows(seed=2))
    assert both_off.coarse_latent is None and both_off.target_coarse_latent is None
    n_full = sum(p.numel() for p in model().parameters())
    assert sum(p.numel() for p in m.parameters()) < n_full


def test_checkpoint_round_trip(tmp_path):
    m = model(seed=5, use_coarse=False).eval()
    path = save_checkpoint(m, tmp_path / "jepa-tiny", family="jepa", steps=0)
    loaded = load_checkpoint(path)
    assert loaded.family == "jepa" and isinstance(loaded.model, MTSJEPA)
    assert loaded.model.config == m.config
    x = windows()
    torch.testing.assert_close(loaded.model.code_features(x), m.code_features(x))
    # A card whose configuration does not fit the weights is refused.
    card = path.with_suffix(".json")
    text = card.read_text().replace('"use_coarse": false', '"use_coarse": true')
    card.write_text(text)
    with pytest.raises(CheckpointError, match="do not fit"):
        load_checkpoint(path)


def test_all_parts_are_used_by_the_full_model():
    m = model().train()
    out = m(windows(), windows(seed=2))
    loss = sum(v.float().mean() for v in out if v is not None and v.requires_grad)
    loss.backward()
    unused = [
        name
        for name, p in m.named_parameters()
        if p.requires_grad and (p.grad is None or not p.grad.abs().sum() > 0)
    ]
    assert unused == []


def test_pickle_round_trip_keeps_the_target_branch():
    m = model(seed=6).train()
    restored = pickle.loads(pickle.dumps(m))
    assert not restored.target_encoder.training and restored.encoder.training
    restored.eval()
    x = windows()
    torch.testing.assert_close(restored.code_features(x), m.eval().code_features(x))


def test_encoder_only_checkpoint_round_trip(tmp_path):
    encoder = model(seed=6).encoder.eval()
    path = save_checkpoint(encoder, tmp_path / "enc", family="jepa-encoder")
    loaded = load_checkpoint(path)
    assert loaded.family == "jepa-encoder" and isinstance(loaded.model, PatchEncoder)
    x = windows()
    torch.testing.assert_close(loaded.model.embed(x), encoder.embed(x))
