import hashlib
import json
import shutil
import threading

import numpy as np
import pytest
import torch

from sslts import pretrained
from sslts.models import JEPAConfig, TSPulse, TSPulseConfig
from sslts.models.layers import MixerLayer
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
    torch.testing.assert_close(
        ckpt.model.encode(x), tiny_model.encode(x), rtol=0, atol=0
    )
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


# ------------------------------------------------- cards validated before building
def _edit_card(saved, edit):
    card = json.loads(saved.with_suffix(".json").read_text())
    edit(card)
    saved.with_suffix(".json").write_text(json.dumps(card))


@pytest.mark.parametrize(
    "edit, match",
    [
        (
            lambda c: c["config"].update(d_model=8.0),
            "TSPulseConfig.d_model must be an integer",
        ),
        (
            lambda c: c["config"].update(n_layers="1"),
            "TSPulseConfig.n_layers must be an integer",
        ),
        (lambda c: c["config"].update(n_layers=True), "n_layers must be an integer"),
        (
            lambda c: c["config"].update(dropout=float("nan")),
            "dropout must be a finite",
        ),
        (lambda c: c["config"].update(dropout=1.0), r"dropout must be in \[0, 1\)"),
        (
            lambda c: c["config"].update(time_weight=-1.0),
            "time_weight must be a finite",
        ),
        (lambda c: c["config"].update(d_model=-8), "d_model must be >= 1"),
        (lambda c: c.update(config=[1, 2]), "config must be a JSON object"),
        (lambda c: c.update(format_version="1"), "format_version must be an integer"),
        (lambda c: c.update(format_version=1.0), "format_version must be an integer"),
        (lambda c: c.update(model=["tspulse"]), "unknown model family"),
        (lambda c: c.update(sha256=12), "sha256 must be 64 hex digits"),
    ],
)
def test_card_types_and_ranges_are_checked_naming_file_and_field(saved, edit, match):
    _edit_card(saved, edit)
    with pytest.raises(CheckpointError, match=match) as error:
        load_checkpoint(saved)
    assert str(saved.with_suffix(".json")) in str(error.value)


def _count_builds(monkeypatch):
    """Count the TSPulse models built for real (not on the meta device)."""
    built = []
    original = TSPulse.__init__

    def init(self, config):
        original(self, config)
        if self.mask_token.device.type != "meta":
            built.append(config)

    monkeypatch.setattr(TSPulse, "__init__", init)
    return built


def test_a_huge_config_beside_tiny_weights_is_refused_before_building(
    saved, monkeypatch
):
    built = _count_builds(monkeypatch)
    _edit_card(saved, lambda c: c["config"].update(d_model=4096, n_layers=7))
    with pytest.raises(CheckpointError, match="more than the 100,000,000 sslts builds"):
        load_checkpoint(saved)
    assert built == []


def test_a_very_deep_config_beside_tiny_weights_is_refused_quickly(saved, monkeypatch):
    """A million layers on the meta device would still take hours of Python."""
    built = _count_builds(monkeypatch)
    layers = []
    original = MixerLayer.__init__

    def init(self, *args, **kwargs):
        layers.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(MixerLayer, "__init__", init)
    _edit_card(saved, lambda c: c["config"].update(n_layers=1_000_000))
    with pytest.raises(CheckpointError, match="far larger than its weights"):
        load_checkpoint(saved)
    assert built == [] and len(layers) < 100  # of a million


def test_oversized_weights_are_refused_before_reading(saved, monkeypatch):
    monkeypatch.setattr(pretrained, "MAX_WEIGHTS_BYTES", 1000)
    with pytest.raises(CheckpointError, match="over the 1,000 bytes"):
        load_checkpoint(saved)
    monkeypatch.setattr(pretrained, "MAX_WEIGHTS_BYTES", 1 << 30)
    monkeypatch.setattr(pretrained, "MAX_PARAMETERS", 1000)
    with pytest.raises(CheckpointError, match=r"hold 5,144 values, over the 1,000"):
        load_checkpoint(saved)


def test_shapes_are_checked_from_the_header_before_the_digest(saved, monkeypatch):
    """A card for other weights is refused without reading (hashing) the tensors."""
    monkeypatch.setattr(pretrained, "_sha256", lambda path: pytest.fail("hashed"))
    _edit_card(saved, lambda c: c["config"].update(n_registers=3))
    with pytest.raises(CheckpointError, match="do not fit the configured"):
        load_checkpoint(saved)


def test_user_built_configs_are_checked_too():
    with pytest.raises(
        TypeError, match="TSPulseConfig.d_model must be an integer, got 8.0"
    ):
        TSPulseConfig(d_model=8.0)
    with pytest.raises(ValueError, match="JEPAConfig.dropout must be a finite"):
        JEPAConfig(dropout=float("nan"))
    with pytest.raises(
        TypeError, match="JEPAConfig.use_codebook must be true or false"
    ):
        JEPAConfig(use_codebook=1)
    config = TSPulseConfig(d_model=np.int64(8), dropout=0)  # canonical Python types
    assert type(config.d_model) is int and type(config.dropout) is float
    assert json.loads(json.dumps(config.to_dict())) == config.to_dict()


def test_concurrent_writers_of_one_file_never_share_a_temporary(tmp_path):
    """Two processes saving one checkpoint once collided on ``<file>.tmp``."""
    target = tmp_path / "shared.json"
    errors = []

    def writer(text):
        try:
            for _ in range(200):
                pretrained._write_atomic(target, text)
        except OSError as exc:  # the old shared name: FileNotFoundError on rename
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in (b"a" * 999, b"b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert target.read_bytes() in (b"a" * 999, b"b")
    assert [p.name for p in tmp_path.iterdir()] == ["shared.json"]
