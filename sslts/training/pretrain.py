"""Resumable pretraining of a TSPulse encoder on a series source.

Training runs in blocks of ``checkpoint_every`` steps. After each block the
run folder (``<output>.run/``) receives the model, the optimiser state and a
JSON state file, written atomically; a run that is killed and started again
with the same arguments continues from the last block, on the same data
stream (sample ``i`` is fixed by the seed and ``i``) and with the same masks
(torch is reseeded per block), so it ends where an uninterrupted run would.
The final checkpoint is ``<output>.safetensors`` + ``<output>.json`` with a
model card; ``<output>.png`` shows the loss curves.
"""

from __future__ import annotations

import json
import os
import platform
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from sslts._torch import resolve_device, seeded
from sslts.data.sources import make_source
from sslts.models import TSPulse, TSPulseConfig
from sslts.objectives.tspulse import TSPulseLosses, TSPulseObjective
from sslts.pretrained import load_checkpoint, save_checkpoint
from sslts.training.callbacks import StepProgress, WarmupCosineLR
from sslts.training.net import PretrainNet, pretrain_callbacks

__all__ = ["PretrainResult", "pretrain"]

PARTS = TSPulseLosses._fields[1:]


@dataclass
class PretrainResult:
    """Where the checkpoint went and how far training got."""

    checkpoint: Path
    steps: int
    finished: bool
    card: dict[str, Any]


def _write_json(path: Path, content: dict[str, Any]) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(content, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


class _RunFolder:
    """The resumable state of one run: model, optimiser, progress."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.state_file = path / "state.json"
        self.model_file = path / "model.safetensors"
        self.optimizer_file = path / "optimizer.pt"

    def load(self) -> dict[str, Any] | None:
        if not self.state_file.exists():
            return None
        return json.loads(self.state_file.read_text())

    def save(self, state: dict[str, Any], model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(weights, str(self.model_file) + ".tmp")
        os.replace(str(self.model_file) + ".tmp", self.model_file)
        torch.save(optimizer.state_dict(), str(self.optimizer_file) + ".tmp")
        os.replace(str(self.optimizer_file) + ".tmp", self.optimizer_file)
        # The state file is written last: it only ever points at complete files.
        _write_json(self.state_file, state)

    def restore(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, device: torch.device) -> None:
        model.load_state_dict(load_file(str(self.model_file), device=str(device)))
        # weights_only: an optimiser state is tensors and numbers, never code.
        optimizer.load_state_dict(
            torch.load(self.optimizer_file, map_location=device, weights_only=True)
        )


def _plot_losses(history: list[dict[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [h["step"] for h in history]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, [h["train_loss"] for h in history], label="total", color="black", lw=2)
    for part in PARTS:
        ax.plot(steps, [h[f"loss_{part}"] for h in history], label=part, lw=1)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (block mean)")
    ax.set_yscale("log")
    ax.set_title("TSPulse pretraining")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


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


def _make_net(
    config: TSPulseConfig, plan: dict[str, Any], device: torch.device
) -> tuple[PretrainNet, WarmupCosineLR]:
    schedule = WarmupCosineLR(plan["total_steps"], int(plan["warmup_fraction"] * plan["total_steps"]))
    net = PretrainNet(
        TSPulse(config),
        criterion=TSPulseObjective,
        criterion__config=config,
        optimizer__weight_decay=plan["weight_decay"],
        lr=plan["lr"],
        batch_size=plan["batch_size"],
        max_epochs=1,
        device=str(device),
        callbacks=pretrain_callbacks(PARTS, max_epochs=1, schedule=schedule),
        verbose=0,
        amp=plan.get("amp", False),
    ).initialize()
    return net, schedule


def _train(
    net: PretrainNet,
    schedule: WarmupCosineLR,
    run: _RunFolder,
    state: dict[str, Any],
    source: Any,
    *,
    n_jobs: int,
    max_minutes: float | None,
    verbose: bool,
    publish: Any,
) -> None:
    """Train block after block; after each, save the run folder and ``publish()``."""
    plan = state["plan"]
    total, batch_size = plan["total_steps"], plan["batch_size"]
    started = time.perf_counter()
    wall_before = state["wall_time_s"]
    bar = tqdm(total=total, initial=state["step"], unit="step", disable=not verbose)
    net.callbacks_.append(("progress", StepProgress(bar).initialize()))

    def block_at(step: int) -> Any:
        """Generate the data of the block starting at ``step`` (in a worker thread)."""
        n = min(plan["checkpoint_every"], total - step) * batch_size
        return generator.submit(source.generate, n, n_jobs=n_jobs, start=step * batch_size)

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
            # The masks of a block depend on the seed and the block only.
            torch.manual_seed(plan["seed"] * 1_000_003 + state["step"])
            net.partial_fit({"x": block.reshape(len(block), 1, -1)})
            row = net.history[-1]
            state["step"] += n_steps
            state["history"].append(
                {
                    "step": state["step"],
                    "train_loss": float(row["train_loss"]),
                    **{f"loss_{p}": float(row[f"loss_{p}"]) for p in PARTS},
                }
            )
            state["wall_time_s"] = wall_before + time.perf_counter() - started
            state["finished"] = state["step"] >= total
            run.save(state, net.module_, net.optimizer_)
            publish()
            if max_minutes is not None and time.perf_counter() - started > 60 * max_minutes:
                break
    finally:
        bar.close()
        generator.shutdown(wait=False, cancel_futures=True)


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
    command: str | None = None,
    verbose: bool = True,
) -> PretrainResult:
    """Pretrain TSPulse with its dual-space masked-reconstruction objective.

    Parameters
    ----------
    output : path-like
        Checkpoint stem: writes ``<output>.safetensors``, ``.json``, ``.png``
        and keeps resumable state in ``<output>.run/``.
    data : {"cauker", "kernelsynth", "mixed"}, path of a ``.npy`` file, or ndarray
        Where the series come from (see :func:`sslts.data.sources.make_source`).
    config : TSPulseConfig, optional
        Architecture; the default is the r1-like ~1M-parameter model.
    steps, n_samples : int
        Length of training, in optimiser steps or in series (one of them).
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
        bfloat16 autocast of the forward pass and loss (for GPUs; slower on
        most CPUs). Recorded in the plan: a run resumes with the same setting.
    command : str, optional
        The command line that reproduces the run, recorded in the card.
    verbose : bool
        Progress bar.

    Returns
    -------
    PretrainResult
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
            raise ValueError(f"init={str(init)!r} holds a {start.family} model, not TSPulse")
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
    run = _RunFolder(output.with_name(output.name + ".run"))
    state = run.load()
    if state is not None and state["plan"] != plan:
        raise ValueError(
            f"{run.path} holds a run with other settings; delete it or choose another "
            "output to start a new run"
        )
    device_ = resolve_device(device)
    with seeded(seed):
        net, schedule = _make_net(config, plan, device_)
        if state is None:
            state = {"plan": plan, "step": 0, "wall_time_s": 0.0, "history": [], "finished": False}
            if start is not None:
                net.module_.load_state_dict(start.model.state_dict())
        else:
            run.restore(net.module_, net.optimizer_, device_)
        _train(
            net, schedule, run, state, source,
            n_jobs=n_jobs, max_minutes=max_minutes, verbose=verbose,
            publish=lambda: _publish(net, output, state, device_, command, plot=False),
        )

    card = _publish(net, output, state, device_, command)
    return PretrainResult(
        output.with_suffix(".safetensors"), state["step"], state["finished"], card
    )
