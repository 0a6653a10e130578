"""LeJEPA-TS: the SIGReg statistic, the two-view module and training on a toy problem."""

import numpy as np
import pytest
import torch
from _tiny import TINY_PATCH_ENCODER

from sslts._torch import seeded
from sslts.models import JEPAConfig, PatchEncoder
from sslts.objectives import (
    SIGREG_NORMAL_MEAN,
    LeJEPA,
    LeJEPALosses,
    LeJEPAObjective,
    LeJEPAOutput,
    sigreg,
)
from sslts.training import PretrainNet, pretrain_callbacks

CONFIG = JEPAConfig(**TINY_PATCH_ENCODER)


def toy_panel(n=64, channels=1, length=32, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    freq = rng.uniform(0.05, 0.6, size=(n, channels, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(n, channels, 1))
    noise = 0.1 * rng.normal(size=(n, channels, length))
    return (np.sin(freq * t + phase) + noise).astype(np.float32)


def test_sigreg_is_small_for_standard_normal_and_large_for_collapse():
    g = torch.Generator().manual_seed(0)
    normal = [float(sigreg(torch.randn(512, 16, generator=g), generator=g)) for _ in range(5)]
    assert abs(np.mean(normal) - SIGREG_NORMAL_MEAN) < 0.3
    assert max(normal) < 2.0
    constant = float(sigreg(torch.full((512, 16), 0.3), generator=g))
    assert constant > 100 * SIGREG_NORMAL_MEAN
    # rank one (all samples on a line) and wrong scale are also far from N(0, I)
    line = torch.randn(512, 1, generator=g) * torch.ones(1, 16)
    assert float(sigreg(line, generator=g)) > 10 * SIGREG_NORMAL_MEAN
    assert float(sigreg(5 * torch.randn(512, 16, generator=g), generator=g)) > 50


def test_sigreg_of_collapse_grows_with_batch_but_normal_does_not():
    def same_directions():
        return torch.Generator().manual_seed(1)

    small = float(sigreg(torch.zeros(64, 8) + 2.0, generator=same_directions()))
    large = float(sigreg(torch.zeros(256, 8) + 2.0, generator=same_directions()))
    assert large == pytest.approx(4 * small, rel=1e-4)
    g = same_directions()
    normal_small = float(sigreg(torch.randn(64, 8, generator=g), generator=g))
    normal_large = float(sigreg(torch.randn(1024, 8, generator=g), generator=g))
    assert normal_small < 3 and normal_large < 3


def test_sigreg_is_differentiable_and_seeded():
    z = torch.randn(128, 8, requires_grad=True)
    value = sigreg(z, n_projections=32, generator=torch.Generator().manual_seed(0))
    value.backward()
    assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0
    again = sigreg(z.detach(), n_projections=32, generator=torch.Generator().manual_seed(0))
    assert float(again) == pytest.approx(float(value.detach()))
    with pytest.raises(ValueError, match="n_knots"):
        sigreg(z, n_knots=1)


def test_module_shapes_with_and_without_projector():
    x = torch.from_numpy(toy_panel(n=6, channels=3))
    with seeded(0):
        out = LeJEPA(PatchEncoder(CONFIG))(x)
        assert isinstance(out, LeJEPAOutput)
        assert out.z1.shape == out.z2.shape == (18, 16)
        assert not torch.allclose(out.z1, out.z2)  # two different views
        projected = LeJEPA(PatchEncoder(CONFIG), projection_dim=5, projection_hidden=12)(x)
    assert projected.z1.shape == (18, 5)


def test_objective_combines_invariance_and_sigreg():
    z = torch.randn(64, 16)
    with seeded(0):
        losses = LeJEPAObjective(lambda_sigreg=0.25)(LeJEPAOutput(z, z + 0.1))
    assert float(losses.invariance) == pytest.approx(0.01, rel=1e-4)
    assert float(losses.total) == pytest.approx(0.75 * 0.01 + 0.25 * float(losses.sigreg), rel=1e-5)
    with pytest.raises(ValueError, match="lambda_sigreg"):
        LeJEPAObjective(lambda_sigreg=1.5)


def _train(seed, epochs=8):
    X = toy_panel()
    with seeded(seed):
        net = PretrainNet(
            LeJEPA(PatchEncoder(CONFIG)),
            criterion=LeJEPAObjective,
            criterion__n_projections=64,
            max_epochs=epochs,
            lr=3e-3,
            batch_size=32,
            iterator_train__shuffle=True,
            callbacks=pretrain_callbacks(LeJEPALosses._fields[1:], max_epochs=epochs),
            verbose=0,
        )
        net.fit({"x": X})
    return net, X


def test_training_lowers_the_loss_without_collapse():
    net, X = _train(seed=0)
    losses = net.history[:, "train_loss"]
    assert losses[-1] < 0.8 * losses[0]
    assert net.history[-1, "loss_sigreg"] < net.history[0, "loss_sigreg"]
    encoder = net.module_.encoder.eval()
    with torch.no_grad():
        z = encoder.embed(torch.from_numpy(X))[:, 0].numpy()
    singular = np.linalg.svd(z - z.mean(0), compute_uv=False)
    # a collapsed encoder has effective rank <= 1; here several directions carry variance
    assert (singular / singular[0] > 0.05).sum() >= 3
    # the embeddings separate slow and fast sinusoids
    assert z.std(0).max() > 1e-2


def test_training_is_deterministic():
    a, _ = _train(seed=3, epochs=2)
    b, _ = _train(seed=3, epochs=2)
    np.testing.assert_allclose(a.history[:, "train_loss"], b.history[:, "train_loss"], rtol=1e-5)
