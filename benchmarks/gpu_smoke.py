"""GPU smoke test: pretrain on the GPU with AMP, load the result on the CPU, compare.

1. ``sslts.training.pretrain`` for ``--steps`` steps (default 300) on
   ``--device`` (default ``cuda``) with bfloat16 autocast (``--no-amp`` to
   turn it off), batch ``--batch-size``, CauKer data;
2. the checkpoint is loaded on the CPU with :func:`sslts.pretrained.load_checkpoint`
   (the path every user takes) and on the device;
3. ``TSPulseEmbedder(pretrained=<checkpoint>)`` embeds the same 256 series
   on both: the report gives the largest absolute difference, the smallest
   cosine similarity between the two embeddings of a series, and whether
   every value is finite.

Prints one JSON object and writes it to ``OUTPUT/gpu_smoke.json``. Exit status
1 if the embeddings disagree (cosine < 0.999) or are not finite.

Data-parallel on every GPU of the machine (a few hundred steps; the same
comparison then runs on rank 0's checkpoint)::

    torchrun --standalone --nproc_per_node=$(nvidia-smi -L | wc -l) \\
        benchmarks/gpu_smoke.py /tmp/gpu-smoke

Run::

    python benchmarks/gpu_smoke.py /tmp/gpu-smoke                  # on a GPU
    python benchmarks/gpu_smoke.py /tmp/smoke --device cpu --no-amp --steps 4 --tiny
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from sslts import TSPulseEmbedder
from sslts.data import CauKer
from sslts.models import TSPulseConfig
from sslts.training import pretrain

#: A tiny architecture for trying the script on a CPU.
TINY = TSPulseConfig(
    context_length=64, d_model=8, n_layers=1, n_decoder_layers=1, n_registers=2,
    forecast_length=8,
)  # fmt: skip


def compare_embeddings(checkpoint: Path, device: str, n_series: int = 256) -> dict:
    """Embed the same series with the checkpoint on the CPU and on ``device``."""
    length = json.loads(checkpoint.with_suffix(".json").read_text())["config"][
        "context_length"
    ]
    X = CauKer(length=length, random_state=123).generate(n_series)
    embeddings = {}
    for where in ("cpu", device):
        embedder = TSPulseEmbedder(
            pretrained=str(checkpoint), device=where, standardize=False
        )
        embeddings[where] = embedder.fit(X[:8]).transform(X).astype(np.float64)
    cpu, other = embeddings["cpu"], embeddings[device]
    cosine = (cpu * other).sum(1) / (
        np.linalg.norm(cpu, axis=1) * np.linalg.norm(other, axis=1) + 1e-12
    )
    return {
        "finite": bool(np.isfinite(cpu).all() and np.isfinite(other).all()),
        "max_abs_difference": float(np.abs(cpu - other).max()),
        "min_cosine": float(cosine.min()),
        "embedding_width": int(cpu.shape[1]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path, help="folder for the checkpoint and report")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--no-amp", action="store_true", help="no bfloat16 autocast")
    parser.add_argument("--n-jobs", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    parser.add_argument("--tiny", action="store_true", help="tiny model (CPU try-out)")
    args = parser.parse_args(argv)

    args.output.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    result = pretrain(
        args.output / "smoke",
        data="cauker",
        config=TINY if args.tiny else None,
        steps=args.steps,
        batch_size=args.batch_size,
        checkpoint_every=max(1, args.steps // 4),
        device=args.device,
        amp=not args.no_amp,
        n_jobs=args.n_jobs,
        overwrite=True,
        verbose=False,
    )
    if result.rank != 0:
        return 0
    report = {
        "device": args.device,
        "device_name": (
            torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
        ),
        "amp": not args.no_amp,
        "world_size": result.card["training"].get("world_size", 1),
        "steps": result.steps,
        "samples_seen": result.card["training"]["samples_seen"],
        "train_seconds": result.card["training"]["wall_time_s"],
        "samples_per_second": round(
            result.card["training"]["samples_seen_this_run"]
            / max(result.card["training"]["wall_time_s"], 1e-9)
        ),
        "final_losses": result.card["training"]["final_losses"],
        **compare_embeddings(result.checkpoint, args.device),
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    (args.output / "gpu_smoke.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0 if report["finite"] and report["min_cosine"] >= 0.999 else 1


if __name__ == "__main__":
    sys.exit(main())
