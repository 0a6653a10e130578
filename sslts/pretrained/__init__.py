"""Checkpoints: safetensors weights plus a JSON model card, shipped as package data.

A checkpoint is two files side by side, ``<stem>.safetensors`` and
``<stem>.json``. The card records the model family, its configuration, the
SHA-256 of the weights file and free-form provenance (data recipe, steps,
losses, command, library version). Loading never executes code: weights are
read with :mod:`safetensors`, the card is JSON, the digest is checked and the
tensors are matched against the architecture the card describes.

Registered checkpoints live in ``sslts/pretrained/weights/`` and are found with
:mod:`importlib.resources`; any other checkpoint is loaded by path.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from sslts import __version__
from sslts.models import MTSJEPA, JEPAConfig, PatchEncoder, TSPulse, TSPulseConfig

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "DEFAULT_CHECKPOINT",
    "available_checkpoints",
    "initial_model",
    "load_checkpoint",
    "save_checkpoint",
]

#: Checkpoint used when an estimator's ``pretrained="default"``.
DEFAULT_CHECKPOINT = "tspulse-synth"

FORMAT = "sslts-checkpoint"
FORMAT_VERSION = 1

#: Model families a card may name: family -> (config class, module class).
MODEL_FAMILIES: dict[str, tuple[type, type[torch.nn.Module]]] = {
    "tspulse": (TSPulseConfig, TSPulse),
    "jepa": (JEPAConfig, MTSJEPA),
    "jepa-encoder": (JEPAConfig, PatchEncoder),
}


class CheckpointError(ValueError):
    """A checkpoint is missing, corrupt, untrusted or does not fit its model."""


@dataclass
class Checkpoint:
    """A loaded checkpoint: the model (in eval mode) and its card."""

    model: torch.nn.Module
    card: dict[str, Any] = field(default_factory=dict)

    @property
    def family(self) -> str:
        return self.card["model"]


def _weights_dir() -> Path:
    return Path(str(resources.files("sslts.pretrained") / "weights"))


def available_checkpoints() -> list[str]:
    """Names of the checkpoints shipped with the package.

    Examples
    --------
    >>> "tspulse-tiny-random" in available_checkpoints()
    True
    """
    folder = _weights_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.json"))


def _resolve(name_or_path: str | os.PathLike) -> tuple[Path, Path]:
    """Paths of the weights and the card for a registered name or a path."""
    text = os.fspath(name_or_path)
    if text in available_checkpoints():
        stem = _weights_dir() / text
    else:
        path = Path(text)
        if path.suffix in (".safetensors", ".json"):
            stem = path.with_suffix("")
        elif path.suffix in (".pt", ".pth", ".pkl", ".ckpt", ".bin"):
            raise CheckpointError(
                f"{text!r} looks like a pickled torch checkpoint; sslts only loads "
                "safetensors weights with a JSON card (a checkpoint is data, never code)"
            )
        else:
            stem = path
        if not stem.with_suffix(".json").exists() and not stem.with_suffix(
            ".safetensors"
        ).exists():
            raise CheckpointError(
                f"unknown checkpoint {text!r}: not a registered name "
                f"({', '.join(available_checkpoints()) or 'none shipped'}) "
                "and no such file"
            )
    weights, card = stem.with_suffix(".safetensors"), stem.with_suffix(".json")
    for p in (weights, card):
        if not p.exists():
            raise CheckpointError(f"checkpoint file {p} is missing")
    return weights, card


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_card(path: Path) -> dict[str, Any]:
    try:
        card = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"model card {path} is not valid JSON: {exc}") from exc
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an sslts model card (format != {FORMAT!r})")
    if card.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has format version {card.get('format_version')}; this sslts reads "
            f"up to {FORMAT_VERSION}: upgrade sslts"
        )
    for key in ("model", "config", "sha256"):
        if key not in card:
            raise CheckpointError(f"model card {path} lacks the {key!r} entry")
    if card["model"] not in MODEL_FAMILIES:
        raise CheckpointError(
            f"model card {path} names unknown model family {card['model']!r}; "
            f"known: {sorted(MODEL_FAMILIES)}"
        )
    return card


def load_checkpoint(name_or_path: str | os.PathLike) -> Checkpoint:
    """Load a registered or on-disk checkpoint, validating it fully.

    Parameters
    ----------
    name_or_path : str or path-like
        A name from :func:`available_checkpoints`, or the path of a
        checkpoint's ``.safetensors`` or ``.json`` file (or their common stem).

    Returns
    -------
    Checkpoint

    Raises
    ------
    CheckpointError
        If a file is missing, the card is not a valid sslts card, the weights
        digest differs from the card's, the weights file is not valid
        safetensors, or the tensors do not match the configured architecture.

    Examples
    --------
    >>> ckpt = load_checkpoint("tspulse-tiny-random")
    >>> ckpt.family, ckpt.model.training
    ('tspulse', False)
    """
    weights_path, card_path = _resolve(name_or_path)
    card = _read_card(card_path)
    actual = _sha256(weights_path)
    if actual != card["sha256"]:
        raise CheckpointError(
            f"weights {weights_path} do not match their card (sha256 {actual[:12]}… "
            f"!= {str(card['sha256'])[:12]}…): the file is corrupt or was replaced"
        )
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read weights {weights_path}: {exc}") from exc
    config_cls, model_cls = MODEL_FAMILIES[card["model"]]
    try:
        config = config_cls.from_dict(card["config"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"invalid configuration in {card_path}: {exc}") from exc
    model = model_cls(config)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in state.items()}
    if expected != found:
        missing = sorted(set(expected) - set(found))
        extra = sorted(set(found) - set(expected))
        wrong = sorted(k for k in set(expected) & set(found) if expected[k] != found[k])
        raise CheckpointError(
            f"weights {weights_path} do not fit the configured {card['model']} model: "
            f"missing {missing[:5]}, unexpected {extra[:5]}, wrong shapes {wrong[:5]}"
        )
    model.load_state_dict(state)
    model.eval()
    return Checkpoint(model=model, card=card)


def initial_model(
    pretrained: str | os.PathLike | None, model_cls: type[torch.nn.Module] = TSPulse
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Resolve an estimator's ``pretrained`` parameter to a model and its card.

    Parameters
    ----------
    pretrained : str, path-like or None
        ``"default"`` (:data:`DEFAULT_CHECKPOINT`), a registered name, a
        checkpoint path, or None for a randomly initialised model of the
        default configuration of ``model_cls`` (seed torch first).
    model_cls : type
        The module class the caller needs; a checkpoint of another family is
        refused.

    Returns
    -------
    model : torch.nn.Module
        In evaluation mode.
    card : dict
        The checkpoint's card (empty for random initialisation).

    Raises
    ------
    ValueError
        If the checkpoint holds another model family.
    """
    if pretrained is None:
        config_cls = next(c for c, m in MODEL_FAMILIES.values() if m is model_cls)
        return model_cls(config_cls()).eval(), {}
    name = DEFAULT_CHECKPOINT if pretrained == "default" else pretrained
    checkpoint = load_checkpoint(name)
    if not isinstance(checkpoint.model, model_cls):
        raise ValueError(
            f"checkpoint {name!r} holds a {checkpoint.family} model, not {model_cls.__name__}"
        )
    return checkpoint.model, checkpoint.card


def save_checkpoint(
    model: torch.nn.Module,
    path: str | os.PathLike,
    family: str = "tspulse",
    **card: Any,
) -> Path:
    """Write ``model`` as ``<stem>.safetensors`` + ``<stem>.json``.

    Parameters
    ----------
    model : torch.nn.Module
        A model of a known family with a ``config`` attribute (a dataclass
        with ``to_dict``).
    path : path-like
        Stem (a ``.safetensors`` or ``.json`` suffix is replaced).
    family : str
        Model family recorded in the card.
    **card
        Extra JSON-serialisable card entries (data recipe, steps, losses...).

    Returns
    -------
    Path
        The weights file.
    """
    if family not in MODEL_FAMILIES:
        raise ValueError(f"unknown model family {family!r}")
    stem = Path(path)
    if stem.suffix in (".safetensors", ".json"):
        stem = stem.with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    weights = stem.with_suffix(".safetensors")
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    tmp = weights.with_suffix(".safetensors.tmp")
    save_file(state, str(tmp))
    os.replace(tmp, weights)
    content = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": family,
        "config": model.config.to_dict(),
        "n_parameters": sum(int(v.numel()) for v in state.values()),
        "sha256": _sha256(weights),
        "library_version": __version__,
        **card,
    }
    stem.with_suffix(".json").write_text(json.dumps(content, indent=2, sort_keys=True) + "\n")
    return weights
