"""Checkpoints: safetensors weights plus a JSON model card, shipped as package data.

A checkpoint is two files side by side, ``<stem>.safetensors`` and
``<stem>.json``. The card records the model family, its configuration, the
SHA-256 of the weights file and free-form provenance (data recipe, steps,
losses, command, library version). Loading never executes code, and nothing is
built before the card is validated: the card's types and ranges, its
configuration (through the configuration dataclass), the size of the weights
file, and the tensor shapes in the safetensors header against those the
configuration implies (derived on the ``meta`` device, without allocating);
then the digest is checked and the tensors are loaded.

Both files are written atomically (a temporary file, flushed to disk, renamed
over the old one), so a crash leaves each one either old or new, never torn.
Between the two renames the card may describe the previous weights; the
digest check then refuses the pair until it is written again.

Registered checkpoints live in ``sslts/pretrained/weights/`` and are found with
:mod:`importlib.resources`; any other checkpoint is loaded by path.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import uuid
from contextlib import suppress
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file
from safetensors.torch import save as serialize_tensors
from torch.overrides import TorchFunctionMode

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

#: Largest model a card may describe; larger ones are refused before anything is built.
MAX_PARAMETERS = 100_000_000
#: Largest weights file read (8 bytes per parameter at most, plus the header).
MAX_WEIGHTS_BYTES = 8 * MAX_PARAMETERS + (16 << 20)

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
    """A loaded checkpoint: the model (in eval mode) and its card.

    Parameters
    ----------
    model : torch.nn.Module
        The model built from the card's configuration, with the checkpoint's
        weights, in evaluation mode.
    card : dict
        The model card (``model`` family, ``config``, ``sha256`` of the
        weights, training record, ...), as stored beside the weights.
    """

    model: torch.nn.Module
    card: dict[str, Any] = field(default_factory=dict)

    @property
    def family(self) -> str:
        """The model family named by the card (``"tspulse"``, ``"jepa"``...)."""
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
        if (
            not stem.with_suffix(".json").exists()
            and not stem.with_suffix(".safetensors").exists()
        ):
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


def _fail_card(path: Path, problem: str) -> CheckpointError:
    return CheckpointError(f"model card {path}: {problem}")


def _read_card(path: Path) -> dict[str, Any]:
    """The card at ``path``, its entries checked for type and range (not the config)."""
    try:
        card = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"model card {path} is not valid JSON: {exc}") from exc
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is not an sslts model card (format != {FORMAT!r})"
        )
    version = card.get("format_version", FORMAT_VERSION)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _fail_card(
            path, f"format_version must be an integer >= 1, got {version!r}"
        )
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has format version {version}; this sslts reads "
            f"up to {FORMAT_VERSION}: upgrade sslts"
        )
    for key in ("model", "config", "sha256"):
        if key not in card:
            raise CheckpointError(f"model card {path} lacks the {key!r} entry")
    if not isinstance(card["model"], str) or card["model"] not in MODEL_FAMILIES:
        raise CheckpointError(
            f"model card {path} names unknown model family {card['model']!r}; "
            f"known: {sorted(MODEL_FAMILIES)}"
        )
    if not isinstance(card["config"], dict):
        raise _fail_card(path, f"config must be a JSON object, got {card['config']!r}")
    if not isinstance(card["sha256"], str) or not re.fullmatch(
        r"[0-9a-f]{64}", card["sha256"]
    ):
        raise _fail_card(path, f"sha256 must be 64 hex digits, got {card['sha256']!r}")
    return card


def _card_config(card: dict[str, Any], path: Path) -> Any:
    """The card's configuration dataclass; its own checks name the field at fault."""
    config_cls, _ = MODEL_FAMILIES[card["model"]]
    try:
        return config_cls.from_dict(card["config"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"invalid configuration in {path}: {exc}") from exc


def _header_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor shapes from the safetensors header, no tensor read; the file size capped."""
    size = path.stat().st_size
    if size > MAX_WEIGHTS_BYTES:
        raise CheckpointError(
            f"weights {path} are {size:,} bytes, over the {MAX_WEIGHTS_BYTES:,} bytes "
            "sslts loads (sslts.pretrained.MAX_WEIGHTS_BYTES)"
        )
    try:
        with safe_open(str(path), framework="pt") as handle:
            names = handle.keys()
            shapes = {k: tuple(handle.get_slice(k).get_shape()) for k in names}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read weights {path}: {exc}") from exc
    total = sum(math.prod(shape) for shape in shapes.values())
    if total > MAX_PARAMETERS:
        raise CheckpointError(
            f"weights {path} hold {total:,} values, over the {MAX_PARAMETERS:,} "
            "sslts loads (sslts.pretrained.MAX_PARAMETERS)"
        )
    return shapes


class _TooLarge(Exception):
    """Raised from inside a model's construction on the meta device to stop it."""


class _OperationBudget(TorchFunctionMode):
    """Stop a model's construction after ``limit`` torch operations.

    On the meta device nothing is allocated, but a card claiming a million
    layers would still take hours of Python. Torch function modes are
    per-thread: other threads building models are not affected.
    """

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.left = limit

    def __torch_function__(
        self,
        func: Any,
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        self.left -= 1
        if self.left < 0:
            raise _TooLarge
        return func(*args, **(kwargs or {}))


def _expected_shapes(
    card: dict[str, Any], config: Any, card_path: Path, n_tensors: int
) -> dict[str, tuple[int, ...]]:
    """Shapes of the state dict the card's configuration implies, built on ``meta``.

    Our models take about 5 torch operations per saved tensor to build; a
    configuration needing more than 20 per tensor of the weights file (plus
    some slack) cannot describe them and is stopped before it costs time.
    """
    _, model_cls = MODEL_FAMILIES[card["model"]]
    try:
        with _OperationBudget(20 * n_tensors + 1000), torch.device("meta"):
            model = model_cls(config)
    except _TooLarge:
        raise CheckpointError(
            f"the configuration in {card_path} implies a model far larger than its "
            f"weights ({n_tensors} tensors): the card does not describe these weights"
        ) from None
    except (RuntimeError, ValueError) as exc:  # e.g. sizes beyond what torch indexes
        raise CheckpointError(
            f"the configuration in {card_path} cannot be built: {exc}"
        ) from exc
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    total = sum(math.prod(shape) for shape in shapes.values())
    if total > MAX_PARAMETERS:
        raise CheckpointError(
            f"the configuration in {card_path} implies {total:,} parameters, more than "
            f"the {MAX_PARAMETERS:,} sslts builds (sslts.pretrained.MAX_PARAMETERS)"
        )
    return shapes


def _check_shapes(
    expected: dict[str, tuple[int, ...]],
    found: dict[str, tuple[int, ...]],
    weights_path: Path,
    family: str,
) -> None:
    if expected == found:
        return
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    wrong = sorted(k for k in set(expected) & set(found) if expected[k] != found[k])
    raise CheckpointError(
        f"weights {weights_path} do not fit the configured {family} model: "
        f"missing {missing[:5]}, unexpected {extra[:5]}, wrong shapes {wrong[:5]}"
    )


def load_checkpoint(name_or_path: str | os.PathLike) -> Checkpoint:
    """Load a registered or on-disk checkpoint, validating it fully.

    The card, its configuration, the size of the weights file and the tensor
    shapes in its header are checked before any model is built or any tensor
    read, so a damaged or hostile card costs neither time nor memory.

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
        If a file is missing, the card is not a valid sslts card (wrong types,
        out-of-range or non-finite values, a model over
        :data:`MAX_PARAMETERS` parameters), the weights file is too large or
        not valid safetensors, its tensors do not match the configured
        architecture, or its digest differs from the card's.

    Examples
    --------
    >>> ckpt = load_checkpoint("tspulse-tiny-random")
    >>> ckpt.family, ckpt.model.training
    ('tspulse', False)
    """
    weights_path, card_path = _resolve(name_or_path)
    card = _read_card(card_path)
    config = _card_config(card, card_path)
    found = _header_shapes(weights_path)
    expected = _expected_shapes(card, config, card_path, len(found))
    _check_shapes(expected, found, weights_path, card["model"])
    actual = _sha256(weights_path)
    if actual != card["sha256"]:
        raise CheckpointError(
            f"weights {weights_path} do not match their card (sha256 {actual[:12]}… "
            f"!= {card['sha256'][:12]}…): the file is corrupt or was replaced"
        )
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read weights {weights_path}: {exc}") from exc
    _, model_cls = MODEL_FAMILIES[card["model"]]
    model = model_cls(config)
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


def _fsync_folder(path: Path) -> None:
    """Make the entries of folder ``path`` (a new or renamed file) durable; POSIX only."""
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data`` so that a reader sees the old file or the whole new one.

    The bytes go to a temporary file of a unique name beside ``path`` (two
    writers never share one), are flushed to disk, and the file is renamed over
    ``path``; the folder is then synced so that the rename survives a power
    cut. On failure the temporary file is removed and the :class:`OSError`
    names ``path``.
    """
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        fd = os.open(
            tmp,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
            0o666,
        )
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _fsync_folder(path.parent)
    except OSError as exc:
        with suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror or str(exc), os.fspath(path)) from exc


def _json_bytes(content: dict[str, Any]) -> bytes:
    return (json.dumps(content, indent=2, sort_keys=True) + "\n").encode()


def save_checkpoint(
    model: torch.nn.Module,
    path: str | os.PathLike,
    family: str = "tspulse",
    **card: Any,
) -> Path:
    """Write ``model`` as ``<stem>.safetensors`` + ``<stem>.json``, each atomically.

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

    Raises
    ------
    OSError
        If a file cannot be written (disk full, read-only folder); the error
        names the file, and the previous version of it is left intact.
    """
    if family not in MODEL_FAMILIES:
        raise ValueError(f"unknown model family {family!r}")
    stem = Path(path)
    if stem.suffix in (".safetensors", ".json"):
        stem = stem.with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    weights = stem.with_suffix(".safetensors")
    state = {
        k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()
    }
    # Serialised in memory: a full disk then fails in our own write, with an
    # OSError naming the file, not deep inside the serialiser.
    blob = serialize_tensors(state)
    _write_atomic(weights, blob)
    content = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": family,
        "config": model.config.to_dict(),
        "n_parameters": sum(int(v.numel()) for v in state.values()),
        "sha256": hashlib.sha256(blob).hexdigest(),
        "library_version": __version__,
        **card,
    }
    _write_atomic(stem.with_suffix(".json"), _json_bytes(content))
    return weights
