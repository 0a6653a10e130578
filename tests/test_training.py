import numpy as np
import pytest
import torch
from skorch.callbacks import ProgressBar

from sslts.models import TSPulse
from sslts.objectives import TSPulseLosses, TSPulseObjective
from sslts.training import PretrainNet, pretrain_callbacks

PARTS = TSPulseLosses._fields[1:]


def _data(config, n=64):
    rng = np.random.default_rng(0)
    t = np.arange(config.context_length + config.forecast_length)
    x = np.sin(rng.uniform(0.05, 0.4, (n, 1, 1)) * t) + 0.05 * rng.normal(size=(n, 1, t.size))
    return {"x": x.astype(np.float32)}


def _net(config, **kwargs):
    kwargs.setdefault("max_epochs", 3)
    return PretrainNet(
        TSPulse,
        module__config=config,
        criterion=TSPulseObjective,
        criterion__config=config,
        batch_size=16,
        lr=3e-3,
        callbacks=pretrain_callbacks(PARTS, max_epochs=kwargs["max_epochs"]),
        verbose=0,
        **kwargs,
    )


def test_pretrain_net_logs_every_loss_part(tiny_config):
    torch.manual_seed(0)
    net = _net(tiny_config).fit(_data(tiny_config))
    assert len(net.history) == 3
    for part in PARTS:
        assert np.isfinite(net.history[-1, f"loss_{part}"])
    total = sum(net.history[-1, f"loss_{p}"] for p in PARTS)
    np.testing.assert_allclose(total, net.history[-1, "train_loss"], rtol=1e-4)
    assert net.history[-1, "train_loss"] < net.history[0, "train_loss"]


def test_lr_schedule_decays(tiny_config):
    net = _net(tiny_config, max_epochs=4).fit(_data(tiny_config, n=16))
    assert net.optimizer_.param_groups[0]["lr"] < 3e-3


def test_early_stopping_stops(tiny_config):
    net = PretrainNet(
        TSPulse,
        module__config=tiny_config,
        criterion=TSPulseObjective,
        criterion__config=tiny_config,
        batch_size=16,
        lr=0.0,  # no progress at all: patience runs out
        max_epochs=20,
        callbacks=pretrain_callbacks(PARTS, max_epochs=20, patience=2),
        verbose=0,
    ).fit(_data(tiny_config, n=16))
    assert len(net.history) < 20


def test_quiet_unless_verbose(tiny_config, capsys):
    _net(tiny_config, max_epochs=1).fit(_data(tiny_config, n=16))
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    callbacks = dict(pretrain_callbacks(PARTS, max_epochs=1, verbose=True))
    assert isinstance(callbacks["progress"], ProgressBar)
    assert "progress" not in dict(pretrain_callbacks(PARTS, max_epochs=1))


def test_rejects_non_dict_batches(tiny_config):
    net = _net(tiny_config).initialize()
    with pytest.raises(TypeError, match="dict"):
        net.get_loss(None, None, X=torch.zeros(2, 1, 72))
