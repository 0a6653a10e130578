import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from _tiny import TINY_TSPULSE
from safetensors.torch import load_file

from sslts.cli import main
from sslts.models import TSPulseConfig
from sslts.pretrained import load_checkpoint
from sslts.training import PretrainError, pretrain

# conftest's tiny_config as `sslts pretrain` architecture options
TINY_ARGS = [
    arg
    for name, value in TINY_TSPULSE.items()
    for arg in (f"--{name.replace('_', '-')}", str(value))
]


def _state(run_folder):
    """The progress recorded in the checkpoint ``CURRENT`` names."""
    current = (run_folder / "CURRENT").read_text().strip()
    return json.loads((run_folder / current / "state.json").read_text())


def _run(tmp_path, name, config, **kwargs):
    kwargs = {"data": "kernelsynth", "steps": 4, "batch_size": 8, "checkpoint_every": 2,
              "verbose": False, **kwargs}
    return pretrain(tmp_path / name, config=config, **kwargs)


def test_pretrain_writes_checkpoint_card_and_plot(tmp_path, tiny_config):
    result = _run(tmp_path, "m", tiny_config, command="sslts pretrain ...")
    assert result.finished and result.steps == 4
    assert (tmp_path / "m.png").stat().st_size > 0
    card = load_checkpoint(tmp_path / "m").card
    training = card["training"]
    assert training["steps"] == 4 and training["samples_seen"] == 32
    assert training["data"] == {"source": "kernelsynth", "length": 72, "seed": 0}
    assert set(training["final_losses"]) >= {"train_loss", "loss_time", "loss_prob"}
    assert training["wall_time_s"] > 0 and training["finished"] is True
    assert card["command"] == "sslts pretrain ..."
    assert card["config"] == tiny_config.to_dict()
    assert card["library_version"]


@pytest.mark.slow  # three pretraining runs (about 2.5 s)
def test_interrupted_run_resumes_to_the_same_weights(tmp_path, tiny_config):
    straight = _run(tmp_path, "straight", tiny_config)
    first = _run(tmp_path, "resumed", tiny_config, max_minutes=0.0)  # stops after 1 block
    assert not first.finished and first.steps == 2
    second = _run(tmp_path, "resumed", tiny_config)
    assert second.finished and second.steps == 4
    a, b = load_file(straight.checkpoint), load_file(second.checkpoint)
    for key in a:
        np.testing.assert_allclose(a[key].numpy(), b[key].numpy(), rtol=1e-5, atol=1e-6)
    assert [h["step"] for h in _state(tmp_path / "resumed.run")["history"]] == [2, 4]


def test_continuing_from_a_checkpoint_starts_at_its_weights_and_counts_its_samples(
    tmp_path, tiny_config
):
    first = _run(tmp_path, "first", tiny_config)
    # a learning rate of ~0 keeps the weights where they started: the first run's
    follow = _run(tmp_path, "follow", None, init=first.checkpoint.with_suffix(""),
                  seed=1, lr=1e-12)
    a, b = load_file(first.checkpoint), load_file(follow.checkpoint)
    for key in a:
        np.testing.assert_allclose(b[key].numpy(), a[key].numpy(), atol=1e-6)
    training = load_checkpoint(follow.checkpoint.with_suffix("")).card["training"]
    assert training["samples_seen"] == 64 and training["samples_seen_this_run"] == 32
    assert training["init"]["samples_seen"] == 32
    assert training["init"]["sha256"] == load_checkpoint(tmp_path / "first").card["sha256"]
    with pytest.raises(ValueError, match="config differs from the architecture of init"):
        _run(tmp_path, "other", TSPulseConfig(), init=tmp_path / "first")


def test_amp_run_trains_finite_and_is_recorded(tmp_path, tiny_config):
    result = _run(tmp_path, "amp", tiny_config, steps=2, amp=True)
    training = load_checkpoint(result.checkpoint.with_suffix("")).card["training"]
    assert training["amp"] is True
    assert np.isfinite(training["final_losses"]["train_loss"])
    with pytest.raises(PretrainError, match="other settings"):  # resumes only with amp
        _run(tmp_path, "amp", tiny_config, steps=2)


def test_cli_refuses_architecture_options_with_init(tmp_path, capsys):
    code = main(["pretrain", "--output", str(tmp_path / "x"), "--steps", "1",
                 "--init", "tspulse-tiny-random", "--d-model", "16"])
    assert code == 2
    assert "cannot be combined with --init" in capsys.readouterr().err


def test_resume_refuses_other_settings(tmp_path, tiny_config):
    _run(tmp_path, "m", tiny_config, max_minutes=0.0)
    with pytest.raises(PretrainError, match="other settings"):
        _run(tmp_path, "m", tiny_config, lr=0.5)


def test_pretrain_on_a_user_array(tmp_path, tiny_config):
    X = np.random.default_rng(0).normal(size=(5, 100)).cumsum(axis=1)
    np.save(tmp_path / "mine.npy", X)
    result = _run(tmp_path, "m", tiny_config, data=str(tmp_path / "mine.npy"), steps=2)
    assert result.card["training"]["data"]["shape"] == [5, 100]
    with pytest.raises(ValueError, match="shorter than"):
        _run(tmp_path, "short", tiny_config, data=X[:, :50])
    with pytest.raises(ValueError, match="cauker"):
        _run(tmp_path, "bad", tiny_config, data="imagenet")


def test_bad_arguments(tmp_path, tiny_config):
    with pytest.raises(ValueError, match="exactly one"):
        pretrain(tmp_path / "x", config=tiny_config, steps=2, n_samples=10)
    with pytest.raises(ValueError, match="positive"):
        pretrain(tmp_path / "x", config=tiny_config, steps=2, checkpoint_every=0)


def test_cli_pretrain(tmp_path, capsys, tiny_config):
    out = tmp_path / "cli"
    code = main(["pretrain", "--output", str(out), "--steps", "2", "--batch-size", "4",
                 "--data", "cauker", "--quiet", *TINY_ARGS])
    assert code == 0
    assert "finished at step 2" in capsys.readouterr().out
    card = load_checkpoint(out).card
    assert card["command"].startswith("sslts pretrain --output")
    assert card["config"] == tiny_config.to_dict()


@pytest.mark.slow
def test_killed_cli_run_resumes(tmp_path):
    """Kill -9 a real pretraining process mid-run, start it again, and it finishes."""
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "sslts.cli", "pretrain", "--output", str(out), "--steps", "200",
           "--batch-size", "8", "--checkpoint-every", "10", "--data", "kernelsynth", "--quiet",
           *TINY_ARGS]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run_folder = tmp_path / "killed.run"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if _state(run_folder)["step"] >= 20:
                break
        except FileNotFoundError:  # not started, or the checkpoint was just replaced
            pass
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    reached = _state(run_folder)["step"]
    assert 20 <= reached < 200, "the run should have been killed mid-way"
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    card = load_checkpoint(out).card
    assert card["training"]["steps"] == 200 and card["training"]["finished"]
    steps = [h["step"] for h in _state(run_folder)["history"]]
    assert steps == list(range(10, 201, 10))  # no block lost or repeated
