import hashlib
import json
import shutil

import pytest
import torch

from sslts.models import TSPulse
from sslts.pretrained import (
    CheckpointError,
    available_checkpoints,
    load_checkpoint,
    save_checkpoint,
)


@pytest.fixture
def saved(tmp_path, tiny_model):
    save_checkpoint(tiny_model, tmp_path / "model", description="test", steps=3)
    return tmp_path / "model"


def test_round_trip_gives_identical_outputs(saved, tiny_model, tiny_config):
    ckpt = load_checkpoint(saved.with_suffix(".safetensors"))
    x = torch.randn(2, 1, tiny_config.context_length)
    torch.testing.assert_close(ckpt.model.encode(x), tiny_model.encode(x), rtol=0, atol=0)
    assert ckpt.card["steps"] == 3
    assert ckpt.card["config"] == tiny_config.to_dict()
    assert ckpt.card["n_parameters"] == sum(p.numel() for p in tiny_model.parameters())
    assert not ckpt.model.training
    # the card path and the bare stem work too
    assert load_checkpoint(saved.with_suffix(".json")).card == ckpt.card
    assert load_checkpoint(saved).card == ckpt.card


def test_shipped_tiny_checkpoint_still_loads(tiny_config):
    # Stored artefact: proves old checkpoints keep loading as the code evolves.
    assert "tspulse-tiny-random" in available_checkpoints()
    ckpt = load_checkpoint("tspulse-tiny-random")
    assert isinstance(ckpt.model, TSPulse)
    assert ckpt.model.config == tiny_config  # the architecture tests build by hand


def test_corrupt_weights_are_detected(saved):
    weights = saved.with_suffix(".safetensors")
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt or was replaced"):
        load_checkpoint(weights)


def test_invalid_safetensors_with_matching_digest(saved):
    weights = saved.with_suffix(".safetensors")
    weights.write_bytes(b"not a safetensors file")
    card = json.loads(saved.with_suffix(".json").read_text())
    card["sha256"] = hashlib.sha256(b"not a safetensors file").hexdigest()
    saved.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match="cannot read weights"):
        load_checkpoint(weights)


def test_architecture_mismatch(saved):
    card = json.loads(saved.with_suffix(".json").read_text())
    card["config"]["d_model"] = 16
    saved.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match="do not fit the configured"):
        load_checkpoint(saved)


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda c: c.update(format="other"), "not an sslts model card"),
        (lambda c: c.update(format_version=99), "upgrade sslts"),
        (lambda c: c.update(model="gpt"), "unknown model family"),
        (lambda c: c.pop("sha256"), "lacks the 'sha256'"),
        (lambda c: c["config"].update(bogus=1), "invalid configuration"),
    ],
)
def test_bad_cards(saved, edit, match):
    card = json.loads(saved.with_suffix(".json").read_text())
    edit(card)
    saved.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(saved)


def test_card_not_json(saved):
    saved.with_suffix(".json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(saved)


def test_missing_files(tmp_path, saved):
    with pytest.raises(CheckpointError, match="unknown checkpoint"):
        load_checkpoint("no-such-model")
    shutil.copy(saved.with_suffix(".safetensors"), tmp_path / "lonely.safetensors")
    with pytest.raises(CheckpointError, match="is missing"):
        load_checkpoint(tmp_path / "lonely.safetensors")


def test_pickled_checkpoints_are_refused(tmp_path, tiny_model):
    path = tmp_path / "model.pt"
    torch.save(tiny_model.state_dict(), path)
    with pytest.raises(CheckpointError, match="never code"):
        load_checkpoint(path)
