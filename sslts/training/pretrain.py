"""Resumable, crash-consistent, locked pretraining of a TSPulse encoder.

Training runs in blocks of ``checkpoint_every`` steps. After each block the
run folder ``<output>.run/`` receives a checkpoint of the model, the
optimiser and the progress; a run that is killed (or fails: full disk, power
cut) and is started again with the same arguments continues from the last
complete checkpoint, on the same data stream (sample ``i`` is fixed by the
seed and ``i``) and with the same masks (the run's generator is reseeded per
block), so it ends with the weights of an uninterrupted run, bit for bit. The final
checkpoint is ``<output>.safetensors`` + ``<output>.json`` with a model card;
``<output>.png`` shows the loss curves.

The run folder::

    CURRENT                      names the checkpoint to resume from
    step-000000200-<random>/     one checkpoint: model.safetensors,
                                 optimizer.pt, state.json (with their digests)
    lock, lock.json              the output's lock and who holds it

A checkpoint goes to a new folder; each file is written to a temporary name,
flushed to disk and renamed, the folders are synced, and only then is
``CURRENT`` replaced (atomically) by the new folder's name; older checkpoint
folders are removed after that. Whenever the process stops, ``CURRENT``
names a complete checkpoint (or there is none yet). The published checkpoint
and the plot are written file by file with the same temporary-and-rename
step, and rewritten from the run folder when the run is started again.

One process at a time trains into an output: it holds an operating-system
lock on ``lock`` (released by the OS if the process dies) and records its
pid, host and command in ``lock.json`` for the message another one gets.

Every failure a user can act on raises :class:`PretrainError`, whose message
says what happened, which file, and what to do.

Started by ``torchrun`` (``WORLD_SIZE > 1``), training is data-parallel
(:mod:`sslts.training.distributed`): every rank trains on its own share of
each batch and of the data stream, gradients are averaged by PyTorch's
DistributedDataParallel, and rank 0 alone takes the lock and writes files.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import pickle
import platform
import re
import shlex
import shutil
import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock, Timeout
from safetensors import SafetensorError
from safetensors.torch import load as deserialize_tensors
from safetensors.torch import save as serialize_tensors
from tqdm.auto import tqdm

from sslts._torch import resolve_device, seeded
from sslts.data.sources import make_source
from sslts.models import TSPulse, TSPulseConfig
from sslts.models._random import RandomSource
from sslts.objectives.tspulse import TSPulseLosses, TSPulseObjective
from sslts.pretrained import (
    _fsync_folder,
    _json_bytes,
    _write_atomic,
    load_checkpoint,
    save_checkpoint,
)
from sslts.training.callbacks import StepProgress, WarmupCosineLR
from sslts.training.distributed import Ranks, process_group
from sslts.training.net import PretrainNet, pretrain_callbacks

__all__ = ["PretrainError", "PretrainResult", "pretrain"]

PARTS = TSPulseLosses._fields[1:]


class PretrainError(RuntimeError):
    """Pretraining cannot start or go on; the message says what, where and what to do.

    Raised for a full disk, an output that cannot be written, an output another
    process is training into, a damaged or foreign run folder, settings that
    differ from the run being resumed, and checkpoint files of another run in
    the way. It is not a :class:`ValueError`: the arguments may be fine, it
    is the state of the output that stops the run.
    """


@dataclass
class PretrainResult:
    """Where the checkpoint went and how far training got.

    Parameters
    ----------
    checkpoint : Path
        The published weights, ``<output>.safetensors`` (its card is
        ``<output>.json``).
    steps : int
        Optimiser steps trained so far (this run and the ones it resumed).
    finished : bool
        Whether the run reached its ``total_steps``; False after a stop at
        ``max_minutes`` (run again to resume).
    card : dict
        The model card written beside the weights.
    rank : int, default=0
        This process's rank in a data-parallel run (0 otherwise): every rank
        returns the same result, rank 0 wrote the files.
    """

    checkpoint: Path
    steps: int
    finished: bool
    card: dict[str, Any]
    rank: int = 0


# ---------------------------------------------------------------- write errors
_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_DENIED = {errno.EROFS, errno.EACCES, errno.EPERM}


def _write_failure(exc: OSError, where: Path) -> PretrainError:
    """The error a user can act on for a failed write."""
    path = exc.filename or where
    if exc.errno in _FULL:
        return PretrainError(
            f"disk full while writing {path}: free space on that disk (or choose an "
            "output on another one), then run the same command again; it resumes "
            "from the last complete checkpoint"
        )
    if exc.errno in _DENIED:
        return PretrainError(
            f"cannot write {path} ({exc.strerror}): make its folder writable or choose "
            "another output, then run the command again"
        )
    return PretrainError(
        f"cannot write {path} ({exc.strerror or exc}); once that is fixed, run the "
        "same command again to resume from the last complete checkpoint"
    )


@contextmanager
def _writing(where: Path) -> Iterator[None]:
    """Turn an :class:`OSError` from writing under ``where`` into a :class:`PretrainError`."""
    try:
        yield
    except OSError as exc:
        raise _write_failure(exc, where) from exc


def _check_writable(folder: Path) -> None:
    """Create ``folder`` if needed and write and remove a probe file in it."""
    probe = folder / f".sslts-probe-{uuid.uuid4().hex[:12]}"
    with _writing(folder):
        folder.mkdir(parents=True, exist_ok=True)
        try:
            _write_atomic(probe, b"")
        finally:
            probe.unlink(missing_ok=True)


# ---------------------------------------------------------------- the lock
class _OutputLock:
    """The exclusive, operating-system lock of one output (see the module docstring)."""

    def __init__(self, run_path: Path, output: Path, command: str | None) -> None:
        self.output = output
        self.file = run_path / "lock"
        self.info = run_path / "lock.json"
        self.command = command or shlex.join(sys.argv)
        self._lock = FileLock(self.file, timeout=0)

    def __enter__(self) -> None:
        with _writing(self.file):
            try:
                self._lock.acquire()
            except Timeout:
                raise PretrainError(
                    f"{self.output} is being trained by another process "
                    f"({self._holder()}); wait for it to finish or stop it, then run "
                    "this command again to resume, or choose another output "
                    f"(lock: {self.file})"
                ) from None
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": self.command,
            "since": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        try:
            with _writing(self.info):
                _write_atomic(self.info, _json_bytes(holder))
        except BaseException:
            self._lock.release()
            raise

    def __exit__(self, *exc_info: object) -> None:
        with suppress(OSError):
            self.info.unlink()
        self._lock.release()

    def _holder(self) -> str:
        try:
            info = json.loads(self.info.read_text())
            return (
                f"pid {info['pid']} on {info['host']} since {info['since']}: "
                f"{info['command']}"
            )
        except (OSError, ValueError, KeyError, TypeError):
            return f"holder unknown: {self.info} is missing or unreadable"


# ---------------------------------------------------------------- run folder
MODEL, OPTIMIZER, STATE, POINTER = (
    "model.safetensors",
    "optimizer.pt",
    "state.json",
    "CURRENT",
)
#: Files of the run folder layout before versioned checkpoints (read, then replaced).
_LEGACY = (MODEL, OPTIMIZER, STATE)
_VERSION = re.compile(r"step-\d{9}-[0-9a-f]{8}")
_TEMPORARY = re.compile(r"\..+\.[0-9a-f]{12}\.tmp")


class _RunFolder:
    """The resumable state of one run: versioned checkpoints behind a pointer file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        #: Folder of the checkpoint loaded or saved last.
        self.current: Path | None = None
        self.digests: dict[str, str] = {}

    def start_afresh(self) -> str:
        """How to discard this run folder and start again at the same output."""
        return (
            f"to start again here, delete {self.path} and rerun with overwrite=True "
            "(--overwrite)"
        )

    def damaged(self, file: Path, problem: str) -> PretrainError:
        return PretrainError(
            f"run folder {self.path} is damaged or belongs to another run: {file}: "
            f"{problem}. Choose another output, or {self.start_afresh()}"
        )

    def has_checkpoint(self) -> bool:
        return (self.path / POINTER).exists() or (self.path / STATE).exists()

    def _checkpoint_folder(self) -> Path | None:
        pointer = self.path / POINTER
        if not pointer.exists():
            return self.path if (self.path / STATE).exists() else None
        try:
            name = pointer.read_text().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise self.damaged(pointer, f"unreadable ({exc})") from exc
        folder = self.path / name
        if not _VERSION.fullmatch(name) or not folder.is_dir():
            raise self.damaged(
                pointer, f"names {name!r}, which is not a checkpoint folder here"
            )
        return folder

    def load(self) -> dict[str, Any] | None:
        """The progress of the last complete checkpoint, or None if there is none."""
        folder = self._checkpoint_folder()
        if folder is None:
            return None
        file = folder / STATE
        try:
            state = json.loads(file.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise self.damaged(file, f"not a readable JSON state ({exc})") from exc
        problem = _state_problem(state)
        if problem:
            raise self.damaged(file, problem)
        self.current, self.digests = folder, state.pop("files", {})
        if folder != self.path:  # not the legacy layout: clear an interrupted save
            self._remove_others(keep=folder.name)
        return state

    def save(
        self,
        state: dict[str, Any],
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
    ) -> None:
        """Write a new checkpoint folder, switch ``CURRENT`` to it, remove older ones."""
        weights = serialize_tensors(
            {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        )
        buffer = io.BytesIO()
        torch.save(optimizer.state_dict(), buffer)
        moments = buffer.getvalue()
        digests = {MODEL: _digest(weights), OPTIMIZER: _digest(moments)}
        name = f"step-{state['step']:09d}-{uuid.uuid4().hex[:8]}"
        folder = self.path / name
        folder.mkdir()
        _fsync_folder(self.path)
        _write_atomic(folder / MODEL, weights)
        _write_atomic(folder / OPTIMIZER, moments)
        _write_atomic(folder / STATE, _json_bytes({**state, "files": digests}))
        # The switch: before it a reader resumes from the previous checkpoint.
        _write_atomic(self.path / POINTER, name.encode())
        self.current, self.digests = folder, digests
        self._remove_others(keep=name)

    def _remove_others(self, keep: str) -> None:
        """Remove older checkpoints, leftovers of interrupted saves and the legacy files.

        Best effort: what cannot be removed now is removed after the next save.
        """
        for entry in self.path.iterdir():
            if entry.name == keep:
                continue
            if _VERSION.fullmatch(entry.name) and entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            elif entry.name in _LEGACY or _TEMPORARY.fullmatch(entry.name):
                with suppress(OSError):
                    entry.unlink()

    def _read(self, name: str) -> tuple[Path, bytes]:
        file = self.current / name
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise self.damaged(file, f"unreadable ({exc.strerror or exc})") from exc
        if name in self.digests and _digest(data) != self.digests[name]:
            raise self.damaged(file, "its digest differs from the one in state.json")
        return file, data

    def restore(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        device: torch.device,
    ) -> None:
        """Load the model and optimiser of the checkpoint :meth:`load` found."""
        file, data = self._read(MODEL)
        try:
            model.load_state_dict(
                {k: v.to(device) for k, v in deserialize_tensors(data).items()}
            )
        except (SafetensorError, RuntimeError, ValueError) as exc:
            raise self.damaged(
                file, f"not this run's model ({_first_line(exc)})"
            ) from exc
        file, data = self._read(OPTIMIZER)
        try:
            # weights_only: an optimiser state is tensors and numbers, never code.
            moments = torch.load(
                io.BytesIO(data), map_location=device, weights_only=True
            )
            optimizer.load_state_dict(moments)
        except (
            pickle.UnpicklingError,
            EOFError,
            RuntimeError,
            ValueError,
            KeyError,
        ) as exc:
            raise self.damaged(
                file, f"not this run's optimiser state ({_first_line(exc)})"
            ) from exc


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _state_problem(state: Any) -> str | None:
    """What is wrong with a state file's content, or None."""
    if not isinstance(state, dict) or not isinstance(state.get("plan"), dict):
        return "not a pretraining state (no plan)"
    total, step = state["plan"].get("total_steps"), state.get("step")
    for name, value in (("total_steps", total), ("step", step)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return f"{name} must be a non-negative integer, got {value!r}"
    if step > total:
        return f"step {step} exceeds the run's total_steps {total}"
    if not isinstance(state.get("history"), list):
        return "history must be a list"
    wall = state.get("wall_time_s")
    if isinstance(wall, bool) or not isinstance(wall, (int, float)):
        return f"wall_time_s must be a number, got {wall!r}"
    if not isinstance(state.get("finished"), bool):
        return f"finished must be true or false, got {state.get('finished')!r}"
    files = state.get("files", {})
    if not isinstance(files, dict) or not all(
        isinstance(v, str) for v in files.values()
    ):
        return f"files must map file names to digests, got {files!r}"
    return None


# ---------------------------------------------------------------- settings
def _flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _changed_settings(stored: dict[str, Any], plan: dict[str, Any]) -> list[str]:
    """One line per setting that differs between a stored run and this call.

    A larger ``total_steps`` is not a difference: it extends the run.
    """
    old, new = _flatten(stored), _flatten(plan)

    def shown(values: dict[str, Any], key: str) -> str:
        return repr(values[key]) if key in values else "unset"

    lines = [
        f"{key}: {shown(old, key)} in the run, {shown(new, key)} now"
        for key in sorted(set(old) | set(new))
        if key != "total_steps" and old.get(key) != new.get(key)
    ]
    if plan["total_steps"] < stored["total_steps"]:
        lines.append(
            f"total_steps: {stored['total_steps']} in the run, {plan['total_steps']} now "
            "(a run can be extended, not shortened)"
        )
    return lines


def _resume(state: dict[str, Any], plan: dict[str, Any], run: _RunFolder) -> None:
    """Check that ``plan`` continues the stored run; a longer one extends it."""
    changes = _changed_settings(state["plan"], plan)
    if changes:
        raise PretrainError(
            f"{run.path} holds a run with other settings:\n  "
            + "\n  ".join(changes)
            + "\nUse the run's settings to resume it (steps or n_samples may grow); "
            f"for a new run choose another output, or {run.start_afresh()}"
        )
    if plan["total_steps"] > state["plan"]["total_steps"]:
        state.setdefault("extensions", []).append(
            {
                "at_step": state["step"],
                "total_steps_before": state["plan"]["total_steps"],
                "total_steps": plan["total_steps"],
            }
        )
        state["plan"]["total_steps"] = plan["total_steps"]
        state["finished"] = False


def _check_no_foreign_checkpoint(
    output: Path, run: _RunFolder, overwrite: bool
) -> None:
    """Refuse to replace checkpoint files that no run folder of this output accounts for."""
    if overwrite or run.has_checkpoint():
        return
    existing = [
        p
        for p in (output.with_suffix(".safetensors"), output.with_suffix(".json"))
        if p.exists()
    ]
    if existing:
        raise PretrainError(
            f"{existing[0]} already exists and no run folder ({run.path}) accounts for "
            "it: it is another run's checkpoint. Choose another output, continue from "
            "it with init=... (--init), or pass overwrite=True (--overwrite) to "
            "replace it"
        )


# ---------------------------------------------------------------- outputs
def _plot_losses(history: list[dict[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [h["step"] for h in history]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(
        steps, [h["train_loss"] for h in history], label="total", color="black", lw=2
    )
    for part in PARTS:
        ax.plot(steps, [h[f"loss_{part}"] for h in history], label=part, lw=1)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (block mean)")
    ax.set_yscale("log")
    ax.set_title("TSPulse pretraining")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    image = io.BytesIO()
    fig.savefig(image, format="png", dpi=120)
    plt.close(fig)
    _write_atomic(path, image.getvalue())


def _publish(
    net: PretrainNet,
    output: Path,
    state: dict[str, Any],
    device: torch.device,
    command: str | None,
    plot: bool = True,
) -> dict[str, Any]:
    """Write the checkpoint and its card (and the loss plot) for the current state."""
    plan = state["plan"]
    this_run = state["step"] * plan["batch_size"]
    before = plan["init"]["samples_seen"] if plan.get("init") else 0
    card = {
        "description": f"TSPulse pretrained by sslts.pretrain on {plan['data']['source']} data",
        "training": {
            **{k: v for k, v in plan.items() if k != "config"},
            **({"extensions": state["extensions"]} if state.get("extensions") else {}),
            "steps": state["step"],
            "samples_seen": before + this_run,
            "samples_seen_this_run": this_run,
            "final_losses": state["history"][-1] if state["history"] else None,
            "wall_time_s": round(state["wall_time_s"], 1),
            "finished": state["finished"],
            "device": device.type,
            "torch_version": torch.__version__,
            "python": platform.python_version(),
        },
        "command": command,
    }
    was_training = net.module_.training
    save_checkpoint(net.module_.eval(), output, **card)
    net.module_.train(was_training)
    if plot and state["history"]:
        _plot_losses(state["history"], output.with_suffix(".png"))
    return card


# ---------------------------------------------------------------- training
def _make_net(
    config: TSPulseConfig, plan: dict[str, Any], device: torch.device, ranks: Ranks
) -> tuple[PretrainNet, WarmupCosineLR]:
    """The net of a run; in a data-parallel run each rank trains on its share of a batch."""
    schedule = WarmupCosineLR(
        plan["total_steps"], int(plan["warmup_fraction"] * plan["total_steps"])
    )
    net = PretrainNet(
        TSPulse(config),
        criterion=TSPulseObjective,
        criterion__config=config,
        optimizer__weight_decay=plan["weight_decay"],
        lr=plan["lr"],
        batch_size=plan["batch_size"] // ranks.world_size,
        max_epochs=1,
        device=str(device),
        callbacks=pretrain_callbacks(PARTS, max_epochs=1, schedule=schedule),
        verbose=0,
        amp=plan.get("amp", False),
        distributed=ranks.distributed,
    ).initialize()
    return net, schedule


def _block_seed(seed: int, step: int, rank: int) -> int:
    """Seed of the masks of the block starting at ``step``, on ``rank``.

    Rank 0 (and an undistributed run) uses the seed and the step only; the
    other ranks of a data-parallel run draw their own masks.
    """
    return seed * 1_000_003 + step + rank * 2**40


def _train(
    net: PretrainNet,
    schedule: WarmupCosineLR,
    run: _RunFolder,
    state: dict[str, Any],
    source: Any,
    *,
    ranks: Ranks,
    generators: RandomSource,
    n_jobs: int,
    max_minutes: float | None,
    verbose: bool,
    publish: Any,
) -> None:
    """Train block after block; after each, save the run folder and ``publish()``.

    ``generators`` (the run's, see :func:`sslts._torch.seeded`) are reseeded
    at the start of every block. In a data-parallel run, a block's series are
    split into one contiguous share per rank (each rank generates only its
    own), the logged losses are the means over ranks, rank 0 alone writes
    files, and after each block every rank checks that the parameters agree
    and follows rank 0's decision to stop (time limit, or a failed save).
    """
    plan = state["plan"]
    total, batch_size = plan["total_steps"], plan["batch_size"]
    share = batch_size // ranks.world_size
    started = time.perf_counter()
    wall_before = state["wall_time_s"]
    bar = tqdm(
        total=total,
        initial=state["step"],
        unit="step",
        disable=not (verbose and ranks.main),
    )
    net.callbacks_.append(("progress", StepProgress(bar).initialize()))

    def block_at(step: int) -> Any:
        """Generate this rank's data of the block starting at ``step`` (in a worker thread)."""
        n = min(plan["checkpoint_every"], total - step) * share
        first = step * batch_size + ranks.rank * n
        return generator.submit(source.generate, n, n_jobs=n_jobs, start=first)

    # The next block is generated while the current one trains, so the model
    # (on a GPU especially) does not wait for data.
    generator = ThreadPoolExecutor(max_workers=1)
    upcoming = block_at(state["step"]) if state["step"] < total else None
    try:
        while state["step"] < total:
            n_steps = min(plan["checkpoint_every"], total - state["step"])
            block = upcoming.result()
            following = state["step"] + n_steps
            upcoming = block_at(following) if following < total else None
            schedule.start_step = state["step"]
            schedule.initialize()
            # The masks of a block depend on the seed, the block and the rank only.
            generators.reseed(_block_seed(plan["seed"], state["step"], ranks.rank))
            net.partial_fit({"x": block.reshape(len(block), 1, -1)})
            row = net.history[-1]
            names = ["train_loss", *(f"loss_{p}" for p in PARTS)]
            losses = ranks.mean([float(row[name]) for name in names])
            ranks.check_identical(net.module_)
            state["step"] += n_steps
            state["history"].append({"step": state["step"], **dict(zip(names, losses))})
            state["wall_time_s"] = wall_before + time.perf_counter() - started
            state["finished"] = state["step"] >= total

            def save() -> bool:
                """Save and publish the block; whether the time limit is reached."""
                with _writing(run.path):
                    run.save(state, net.module_, net.optimizer_)
                    publish()
                return (
                    max_minutes is not None
                    and time.perf_counter() - started > 60 * max_minutes
                )

            if _on_main(ranks, save):
                break
    finally:
        bar.close()
        # Wait for a block still being generated (a stop before the last block):
        # a worker thread left inside numpy while the process exits can abort it
        # ("terminate called without an active exception" under torchrun).
        generator.shutdown(wait=True, cancel_futures=True)


def pretrain(
    output: str | os.PathLike,
    *,
    data: Any = "cauker",
    config: TSPulseConfig | None = None,
    steps: int | None = None,
    n_samples: int | None = None,
    batch_size: int = 64,
    lr: float = 1e-3,
    weight_decay: float = 0.01,
    warmup_fraction: float = 0.05,
    checkpoint_every: int = 200,
    seed: int = 0,
    device: str = "auto",
    n_jobs: int = 1,
    max_minutes: float | None = None,
    init: str | os.PathLike | None = None,
    amp: bool = False,
    overwrite: bool = False,
    command: str | None = None,
    verbose: bool = True,
) -> PretrainResult:
    """Pretrain TSPulse with its dual-space masked-reconstruction objective.

    Parameters
    ----------
    output : path-like
        Checkpoint stem: writes ``<output>.safetensors``, ``.json``, ``.png``
        and keeps resumable state in ``<output>.run/`` (its folder is created
        if missing).
    data : {"cauker", "kernelsynth", "mixed"}, path of a ``.npy`` file, or ndarray
        Where the series come from (see :func:`sslts.data.sources.make_source`).
    config : TSPulseConfig, optional
        Architecture; the default is the r1-like ~1M-parameter model.
    steps, n_samples : int
        Length of training, in optimiser steps or in series (one of them).
        Calling again with a larger value extends a run, finished or not: it
        continues with the cosine schedule of the new length (the card records
        the extension under ``training.extensions``).
    batch_size, lr, weight_decay, warmup_fraction
        AdamW with linear warm-up and cosine decay over the whole run.
    checkpoint_every : int
        Steps per block; the run folder is updated after each block.
    seed : int
        Seeds the data stream, the initialisation and the masks.
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"``...
    n_jobs : int
        Workers generating synthetic data.
    max_minutes : float, optional
        Stop (resumably) after the first block that ends past this wall time.
    init : str or path-like, optional
        A TSPulse checkpoint (registered name or path) to continue from: its
        weights start the run (with a fresh optimiser and schedule) and its
        configuration is the architecture (``config`` must then be None or
        equal). The card counts its samples in ``samples_seen``. This is how
        training goes on from a shipped checkpoint when no run folder is left;
        give a new ``seed`` so that the data stream differs from its own.
    amp : bool
        bfloat16 autocast of the forward pass and loss: faster on GPUs and on
        CPUs with native bfloat16 (AVX512_BF16 or AMX), slower on other CPUs.
        Recorded in the plan: a run resumes with the same setting.
    overwrite : bool
        Replace ``<output>.safetensors``/``.json`` when they exist but no run
        folder of this output accounts for them (another run's checkpoint);
        without it such files are refused.
    command : str, optional
        The command line that reproduces the run, recorded in the card and in
        the lock's holder information.
    verbose : bool
        Progress bar.

    Returns
    -------
    PretrainResult

    Notes
    -----
    Launched by ``torchrun --nproc_per_node=N`` (or any launcher that sets
    ``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``), the run is data-parallel over
    the N processes: ``batch_size`` is the global batch (each rank trains on
    ``batch_size / N`` series per step, so it must be a multiple of N), each
    rank generates its own contiguous share of every block of the data
    stream, gradients are averaged by
    :class:`torch.nn.parallel.DistributedDataParallel` (``gloo`` on CPUs,
    ``nccl`` on GPUs), and rank 0 alone holds the lock and writes the run
    folder and checkpoint. The process count is recorded in the plan
    (``world_size``) and must be the same when the run is resumed. Every rank
    returns the same result.

    Raises
    ------
    ValueError
        If the arguments are inconsistent (both or neither of ``steps`` and
        ``n_samples``, a non-positive length, unknown ``data``...).
    PretrainError
        If another process trains into ``output``; the output folder cannot be
        written (checked before training); the disk fills up (run the same
        call again once there is space: it resumes); the run folder is damaged
        or belongs to another run; the settings differ from the stored run's
        (each difference is named); or another run's checkpoint files are in
        the way and ``overwrite`` is False.
    sslts.pretrained.CheckpointError
        If ``init`` is not a valid checkpoint.
    """
    if (steps is None) == (n_samples is None):
        raise ValueError("give exactly one of steps and n_samples")
    total_steps = steps if steps is not None else -(-n_samples // batch_size)
    if total_steps < 1 or batch_size < 1 or checkpoint_every < 1:
        raise ValueError("steps, batch_size and checkpoint_every must be positive")
    start = None
    if init is not None:
        start = load_checkpoint(init)
        if not isinstance(start.model, TSPulse):
            raise ValueError(
                f"init={str(init)!r} holds a {start.family} model, not TSPulse"
            )
        if config is not None and config != start.model.config:
            raise ValueError(
                f"config differs from the architecture of init={str(init)!r}; leave it "
                "out to continue with the checkpoint's"
            )
        config = start.model.config
    config = config or TSPulseConfig()
    output = Path(output)
    source, recipe = make_source(
        data, config.context_length + config.forecast_length, seed
    )
    plan = {
        "config": config.to_dict(),
        "data": recipe,
        "total_steps": total_steps,
        "batch_size": batch_size,
        "lr": lr,
        "weight_decay": weight_decay,
        "warmup_fraction": warmup_fraction,
        "checkpoint_every": checkpoint_every,
        "seed": seed,
    }
    if amp:
        plan["amp"] = True
    if start is not None:
        plan["init"] = {
            "checkpoint": str(init),
            "sha256": start.card["sha256"],
            "samples_seen": int(start.card.get("training", {}).get("samples_seen", 0)),
        }
    device_ = resolve_device(device)
    with process_group(device_) as ranks:
        if ranks.distributed:
            if batch_size % ranks.world_size:
                raise ValueError(
                    f"batch_size={batch_size} must be a multiple of the number of "
                    f"processes ({ranks.world_size}): each trains on an equal share "
                    "of every batch"
                )
            plan["world_size"] = ranks.world_size
        with ExitStack() as lock:
            run, state = _open_run(output, plan, overwrite, command, ranks, lock)
            return _locked_run(
                run,
                state,
                plan,
                config,
                source,
                start,
                output,
                ranks=ranks,
                device=ranks.device(device_),
                n_jobs=n_jobs,
                max_minutes=max_minutes,
                command=command,
                verbose=verbose,
            )


def _prepare_output(output: Path, overwrite: bool) -> _RunFolder:
    """Everything checked about ``output`` before a lock is taken or a step trained."""
    run = _RunFolder(output.with_name(output.name + ".run"))
    if run.path.exists() and not run.path.is_dir():
        raise run.damaged(run.path, "a file, not a folder")
    _check_no_foreign_checkpoint(output, run, overwrite)
    _check_writable(output.parent)
    with _writing(run.path):
        run.path.mkdir(exist_ok=True)
    return run


def _open_run(
    output: Path,
    plan: dict[str, Any],
    overwrite: bool,
    command: str | None,
    ranks: Ranks,
    lock: ExitStack,
) -> tuple[_RunFolder, dict[str, Any] | None]:
    """Check the output, take its lock (on ``lock``) and load the run to resume.

    Rank 0 does the work and sends the stored state (or its error) to the
    other ranks, which touch no file.
    """

    def open_run() -> tuple[_RunFolder, dict[str, Any] | None]:
        run = _prepare_output(output, overwrite)
        lock.enter_context(_OutputLock(run.path, output, command))
        state = run.load()
        if state is not None:
            _resume(state, plan, run)
        return run, state

    return _on_main(ranks, open_run)


def _on_main(ranks: Ranks, action: Callable[[], Any]) -> Any:
    """``action()`` on rank 0 only; its result, or its :class:`PretrainError`, on every rank.

    In a data-parallel run the other ranks wait for rank 0's outcome, so a
    fault there (full disk, damaged run folder, locked output) stops every
    rank with the same message instead of leaving them waiting.
    """
    result, failure = None, None
    if ranks.main:
        try:
            result = action()
        except PretrainError as exc:
            failure = exc
    message, result = ranks.from_main((None if failure is None else str(failure), result))
    if failure is not None:
        raise failure
    if message is not None:
        raise PretrainError(message)
    return result


def _locked_run(
    run: _RunFolder,
    state: dict[str, Any] | None,
    plan: dict[str, Any],
    config: TSPulseConfig,
    source: Any,
    start: Any,
    output: Path,
    *,
    ranks: Ranks,
    device: torch.device,
    n_jobs: int,
    max_minutes: float | None,
    command: str | None,
    verbose: bool,
) -> PretrainResult:
    """Start or resume the run (``state`` is the stored one, if any), train, publish."""
    with seeded(plan["seed"]) as generators:
        net, schedule = _make_net(config, plan, device, ranks)
        if state is None:
            state = {
                "plan": plan,
                "step": 0,
                "wall_time_s": 0.0,
                "history": [],
                "finished": False,
            }
            if start is not None:
                net.module_.load_state_dict(start.model.state_dict())
        else:
            _restore(run, net, ranks, device)
        _train(
            net,
            schedule,
            run,
            state,
            source,
            ranks=ranks,
            generators=generators,
            n_jobs=n_jobs,
            max_minutes=max_minutes,
            verbose=verbose,
            publish=lambda: _publish(net, output, state, device, command, plot=False),
        )

    def publish_final() -> dict[str, Any]:
        with _writing(output.parent):
            return _publish(net, output, state, device, command)

    card = _on_main(ranks, publish_final)
    return PretrainResult(
        output.with_suffix(".safetensors"), state["step"], state["finished"], card, ranks.rank
    )


def _restore(run: _RunFolder, net: PretrainNet, ranks: Ranks, device: torch.device) -> None:
    """Rank 0 restores the run folder's weights and optimiser state; every rank gets them."""

    def restore() -> bytes | None:
        run.restore(net.module_, net.optimizer_, device)
        if not ranks.distributed:
            return None
        buffer = io.BytesIO()
        torch.save(
            {"model": net.module_.state_dict(), "optimizer": net.optimizer_.state_dict()},
            buffer,
        )
        return buffer.getvalue()

    restored = _on_main(ranks, restore)
    if not ranks.main:
        restored = torch.load(io.BytesIO(restored), map_location=device, weights_only=True)
        net.module_.load_state_dict(restored["model"])
        net.optimizer_.load_state_dict(restored["optimizer"])
