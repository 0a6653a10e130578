"""Data-parallel pretraining: the rank helpers, and ``torchrun`` with 2 CPU processes (gloo)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from _tiny import TINY_TSPULSE

from sslts.training.distributed import Ranks, _environment, process_group

TINY_ARGS = [f"--{k.replace('_', '-')}={v}" for k, v in TINY_TSPULSE.items()]


# ------------------------------------------------------------------ single process
def test_environment_without_launcher_is_one_process(monkeypatch):
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    with process_group(torch.device("cpu")) as ranks:
        assert ranks == Ranks(0, 1, 0)
        assert not ranks.distributed and ranks.main
        assert ranks.from_main({"a": 1}) == {"a": 1}
        assert ranks.mean([1, 2.5]) == [1.0, 2.5]
        ranks.check_identical(torch.nn.Linear(2, 2))  # nothing to compare
    assert not dist.is_initialized()


def test_environment_reads_torchrun_variables(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    ranks = _environment()
    assert ranks == Ranks(3, 4, 1)
    assert ranks.distributed and not ranks.main
    assert ranks.device(torch.device("cuda")) == torch.device("cuda", 1)
    assert ranks.device(torch.device("cuda", 0)) == torch.device("cuda", 0)
    assert ranks.device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.parametrize(
    "env, message",
    [({"WORLD_SIZE": "two"}, "must be integers"), ({"WORLD_SIZE": "2", "RANK": "2"}, "RANK=2")],
)
def test_environment_errors_name_the_variable(monkeypatch, env, message):
    monkeypatch.delenv("RANK", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        _environment()


# ------------------------------------------------------------------ two processes
def _two_ranks(rank: int, store: str, results: str) -> None:
    """One of two gloo processes: the collectives of :class:`Ranks`."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    ranks = Ranks(rank, 2, rank)
    report = {
        "from_main": ranks.from_main(f"rank {rank}"),
        "mean": ranks.mean([float(rank), 10.0 * rank]),
    }
    torch.manual_seed(0)
    same = torch.nn.Linear(3, 2)
    ranks.check_identical(same)
    torch.manual_seed(rank)
    try:
        ranks.check_identical(torch.nn.Linear(3, 2))
        report["differ"] = "not detected"
    except RuntimeError as exc:
        report["differ"] = str(exc)
    dist.destroy_process_group()
    Path(f"{results}.{rank}").write_text(json.dumps(report))


def test_collectives_across_two_processes(tmp_path):
    results = tmp_path / "rank"
    mp.spawn(_two_ranks, args=(str(tmp_path / "store"), str(results)), nprocs=2)
    for rank in (0, 1):
        report = json.loads(Path(f"{results}.{rank}").read_text())
        assert report["from_main"] == "rank 0"
        assert report["mean"] == [0.5, 5.0]
        assert "the ranks' parameters differ" in report["differ"]


def _torchrun(tmp_path: Path, *args: str, nproc: int = 2) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc_per_node=N -m sslts pretrain ...`` at tiny size."""
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        f"--nproc_per_node={nproc}", "-m", "sslts", "pretrain", "--batch-size", "8",
        "--checkpoint-every", "2", "--quiet", *TINY_ARGS, *args,
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        command, check=False, cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_torchrun_pretraining_resumes_bit_identically(tmp_path, capsys):
    """Two gloo ranks: an interrupted and resumed run ends with the weights of an
    uninterrupted one; the card records the data-parallel run; one rank speaks."""
    whole = _torchrun(tmp_path, "--output", "whole", "--steps", "4")
    assert whole.returncode == 0, whole.stderr
    assert whole.stdout.count("finished at step 4") == 1

    first = _torchrun(tmp_path, "--output", "parts", "--steps", "4", "--max-minutes", "0")
    assert first.returncode == 0, first.stderr
    assert "stopped (run again to resume) at step 2" in first.stdout
    second = _torchrun(tmp_path, "--output", "parts", "--steps", "4")
    assert second.returncode == 0, second.stderr

    weights = [(tmp_path / f"{name}.safetensors").read_bytes() for name in ("whole", "parts")]
    assert weights[0] == weights[1]
    training = json.loads((tmp_path / "parts.json").read_text())["training"]
    assert training["world_size"] == 2
    assert training["samples_seen"] == 4 * 8
    assert training["steps"] == 4 and training["finished"]
    assert all(
        torch.isfinite(torch.tensor(v)) for k, v in training["final_losses"].items()
    )

    # Resuming with another process count is a changed setting, named as such.
    from sslts.cli import main

    code = main(
        ["pretrain", "--output", str(tmp_path / "parts"), "--steps", "6", "--batch-size",
         "8", "--checkpoint-every", "2", "--quiet", *TINY_ARGS]
    )  # fmt: skip
    assert code == 2
    assert "world_size: 2 in the run, unset now" in capsys.readouterr().err


@pytest.mark.slow
def test_torchrun_refuses_a_batch_it_cannot_share(tmp_path):
    result = _torchrun(tmp_path, "--output", "odd", "--steps", "2", "--batch-size", "7")
    assert result.returncode != 0
    assert result.stderr.count("batch_size=7 must be a multiple of the number of processes") == 1
    assert not (tmp_path / "odd.safetensors").exists()


@pytest.mark.slow
def test_gpu_smoke_script_runs_on_cpu_at_tiny_size(tmp_path):
    """The GPU smoke test, tried on a CPU as its docstring says: pretrain, reload, compare."""
    script = Path(__file__).parents[1] / "benchmarks" / "gpu_smoke.py"
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path), "--device", "cpu", "--no-amp",
         "--steps", "4", "--batch-size", "16", "--tiny", "--n-jobs", "1"],
        check=False, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "gpu_smoke.json").read_text())
    assert report["steps"] == 4 and report["samples_seen"] == 64
    assert report["finite"] and report["min_cosine"] > 0.999999


@pytest.mark.slow
def test_torchrun_fault_on_rank_0_stops_every_rank_with_one_message(tmp_path):
    """A checkpoint that rank 0 cannot restore stops both ranks (none is left waiting)."""
    first = _torchrun(tmp_path, "--output", "run", "--steps", "4", "--max-minutes", "0")
    assert first.returncode == 0, first.stderr
    current = (tmp_path / "run.run" / "CURRENT").read_text().strip()
    weights = tmp_path / "run.run" / current / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8] + b"damaged!")
    second = _torchrun(tmp_path, "--output", "run", "--steps", "4")
    assert second.returncode != 0
    assert second.stderr.count("its digest differs from the one in state.json") == 1
