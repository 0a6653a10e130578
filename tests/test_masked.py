"""The masked patch-reconstruction baseline: masks, the mask token, the loss and training."""

import numpy as np
import pytest
import torch
from _tiny import TINY_PATCH_ENCODER

from sslts._torch import seeded
from sslts.models import JEPAConfig, PatchEncoder, patch_mask
from sslts.objectives import (
    MaskedLosses,
    MaskedObjective,
    MaskedOutput,
    MaskedPatchModel,
)
from sslts.training import PretrainNet, pretrain_callbacks

CONFIG = JEPAConfig(**TINY_PATCH_ENCODER)


def toy_panel(n=32, channels=1, length=32, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    freq = rng.uniform(0.05, 0.6, size=(n, channels, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(n, channels, 1))
    amplitude = rng.uniform(0.5, 3.0, size=(n, channels, 1))
    return (amplitude * np.sin(freq * t + phase) + 0.05 * rng.normal(size=(n, channels, length))).astype(np.float32)


def test_patch_mask_hides_a_fixed_number_and_keeps_one_visible():
    g = torch.Generator().manual_seed(0)
    mask = patch_mask((50, 3, 10), 0.4, generator=g)
    assert mask.dtype == torch.bool and (mask.sum(-1) == 4).all()
    assert (patch_mask((20, 2), 0.99, generator=g).sum(-1) == 1).all()  # never all hidden
    assert (patch_mask((20, 5), 0.01, generator=g).sum(-1) == 1).all()  # never none hidden
    assert not patch_mask((20, 5), 0.0, generator=g).any()
    assert not patch_mask((4, 1), 0.5, generator=g).any()  # one patch stays visible
    assert mask.float().mean(dim=(0, 1)).min() > 0.2  # every position gets hidden
    with pytest.raises(ValueError, match="ratio must be in"):
        patch_mask((4, 4), 1.0)


def test_masked_model_needs_two_patches():
    with pytest.raises(ValueError, match="at least 2 patches"):
        MaskedPatchModel(PatchEncoder(JEPAConfig(context_length=8, patch_length=8, d_model=8, n_heads=2)))
    model = MaskedPatchModel(PatchEncoder(CONFIG))
    with pytest.raises(ValueError, match="at least 2 patches"):
        model(torch.zeros(2, 1, 8))  # one patch of a shorter window


def test_forward_shapes_and_revin_target():
    x = torch.from_numpy(toy_panel(n=5, channels=2)) * 10 + 3
    with seeded(0):
        out = MaskedPatchModel(PatchEncoder(CONFIG), mask_ratio=0.5)(x)
    assert isinstance(out, MaskedOutput)
    assert out.reconstruction.shape == out.target.shape == (5, 2, 4, 8)
    assert out.hidden.shape == (5, 2, 4, 1) and (out.hidden.sum(-2) == 2).all()
    # the target is in RevIN units, not in the data's (scale 10, offset 3)
    assert out.target.abs().mean() < 3


def test_hidden_patches_do_not_leak_into_the_reconstruction():
    x = torch.from_numpy(toy_panel(n=4))
    model = MaskedPatchModel(PatchEncoder(CONFIG)).eval()
    with seeded(1):
        out = model(x)
    changed = x.clone()
    hidden_points = out.hidden.expand(-1, -1, -1, 8).flatten(-2)
    changed[hidden_points] = 100.0  # same masks under the same seed
    with seeded(1):
        again = model(changed)
    torch.testing.assert_close(again.reconstruction, out.reconstruction)
    assert torch.equal(again.hidden, out.hidden)


def test_loss_counts_only_hidden_observed_points():
    g = torch.Generator().manual_seed(0)
    target = torch.randn(2, 1, 4, 8, generator=g)
    hidden = torch.tensor([True, False, True, False]).view(1, 1, 4, 1).expand(2, 1, 4, 1)
    observed = torch.ones(2, 1, 4, 8, dtype=torch.bool)
    recon = target.clone()
    recon[:, :, 1] += 5.0  # a visible patch: not part of the loss
    losses = MaskedObjective()(MaskedOutput(recon, target, hidden, observed))
    assert float(losses.total) == 0.0 and float(losses.visible) == pytest.approx(12.5)
    recon[:, :, 0] += 1.0  # a hidden patch: one of two hidden patches off by 1
    observed[:, :, 2] = False  # the other hidden patch is unobserved
    losses = MaskedObjective()(MaskedOutput(recon, target, hidden, observed))
    assert float(losses.total) == pytest.approx(1.0)


def _train(seed, epochs):
    X = toy_panel(n=64)
    with seeded(seed):
        net = PretrainNet(
            MaskedPatchModel(PatchEncoder(CONFIG)),
            criterion=MaskedObjective,
            max_epochs=epochs,
            lr=3e-3,
            batch_size=16,
            iterator_train__shuffle=True,
            callbacks=pretrain_callbacks(MaskedLosses._fields[1:], max_epochs=epochs),
            verbose=0,
        )
        net.fit({"x": X})
    return net, X


def test_training_lowers_the_loss_without_collapse():
    # A toy run with noisy per-epoch losses (random masks, 4 batches an epoch):
    # whether 12 epochs clear the bar depends on the seed.
    net, X = _train(2, epochs=12)
    losses = net.history[:, "train_loss"]
    assert losses[-1] < 0.6 * losses[0]
    with torch.no_grad():
        z = net.module_.encoder.eval().embed(torch.from_numpy(X))[:, 0].numpy()
    singular = np.linalg.svd(z - z.mean(0), compute_uv=False)
    assert (singular / singular[0] > 0.05).sum() >= 3


def test_training_is_deterministic():
    a, _ = _train(3, epochs=1)
    b, _ = _train(3, epochs=1)
    np.testing.assert_allclose(a.history[:, "train_loss"], b.history[:, "train_loss"], rtol=1e-6)
