"""Data-parallel training under ``torchrun``: the process group and what ranks share.

:func:`sslts.training.pretrain` (and ``sslts pretrain``) runs data-parallel
when it is started by ``torchrun`` (or any launcher that sets ``WORLD_SIZE``,
``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``)::

    torchrun --standalone --nproc_per_node=2 -m sslts pretrain --output runs/r --steps 1000

The engine is PyTorch's own: :class:`torch.nn.parallel.DistributedDataParallel`
averages the gradients of every step across the processes (``gloo`` on CPUs,
``nccl`` on GPUs), so their parameters stay identical. This module holds the
rest: joining and leaving the process group (:func:`process_group`), the
rank's view of it (:class:`Ranks`), and the few collective operations
pretraining needs (rank 0's objects sent to every rank, means of logged
losses, the check that parameters agree).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

__all__ = ["Ranks", "process_group"]


@dataclass(frozen=True)
class Ranks:
    """Where this process stands among the processes of a data-parallel run.

    Parameters
    ----------
    rank : int
        This process's rank, 0 to ``world_size - 1``.
    world_size : int
        Number of processes; 1 when not distributed.
    local_rank : int
        Rank on this machine (the GPU index of a multi-GPU machine).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        """Whether several processes train together."""
        return self.world_size > 1

    @property
    def main(self) -> bool:
        """Whether this process writes files and talks to the user (rank 0)."""
        return self.rank == 0

    def device(self, device: torch.device) -> torch.device:
        """``device`` for this rank: a CUDA device without an index becomes ``cuda:<local_rank>``.

        Parameters
        ----------
        device : torch.device
            The device asked for.

        Returns
        -------
        torch.device
        """
        if self.distributed and device.type == "cuda" and device.index is None:
            return torch.device("cuda", self.local_rank)
        return device

    def from_main(self, value: Any) -> Any:
        """Rank 0's ``value`` (any picklable object), on every rank.

        Parameters
        ----------
        value : object
            What this rank holds; only rank 0's is sent.

        Returns
        -------
        object
            Rank 0's ``value``.
        """
        if not self.distributed:
            return value
        box = [value if self.main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def mean(self, values: Sequence[float]) -> list[float]:
        """The mean over ranks of each of ``values``.

        Parameters
        ----------
        values : sequence of float
            This rank's numbers; the same length on every rank.

        Returns
        -------
        list of float
        """
        if not self.distributed:
            return [float(v) for v in values]
        total = torch.tensor(values, dtype=torch.float64)
        if dist.get_backend() == "nccl":
            total = total.to(torch.device("cuda", self.local_rank))
        dist.all_reduce(total)
        return [float(v) / self.world_size for v in total.cpu()]

    def check_identical(self, module: torch.nn.Module) -> None:
        """Raise if ``module``'s parameters and buffers differ between ranks.

        Compares a digest of every tensor's bytes; gradients averaged by
        DistributedDataParallel keep them identical, so a difference means
        a broken setup (ranks with different code, settings or devices).

        Parameters
        ----------
        module : torch.nn.Module
            This rank's copy of the model.

        Raises
        ------
        RuntimeError
            If the digests differ.
        """
        if not self.distributed:
            return
        digests = [None] * self.world_size
        dist.all_gather_object(digests, _state_digest(module))
        if len(set(digests)) > 1:
            raise RuntimeError(
                "the ranks' parameters differ after a step: every rank must run the "
                "same command with the same sslts and torch versions "
                f"(digests by rank: {digests})"
            )


def _state_digest(module: torch.nn.Module) -> str:
    """SHA-256 of a module's parameters and buffers, in state-dict order."""
    digest = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _environment() -> Ranks:
    """The ranks the launcher set in the environment (a single process without them)."""
    try:
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError as exc:
        raise ValueError(
            f"WORLD_SIZE, RANK and LOCAL_RANK must be integers ({exc}); they are set "
            "by torchrun"
        ) from exc
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(
            f"RANK={rank} is not a rank of WORLD_SIZE={world_size}; start the processes "
            "with torchrun"
        )
    return Ranks(rank, world_size, local_rank)


@contextmanager
def process_group(device: torch.device) -> Iterator[Ranks]:
    """Join the launcher's process group for a block, if there is one.

    Without ``WORLD_SIZE > 1`` in the environment this yields a single-process
    :class:`Ranks` and does nothing else. Otherwise it initialises
    :mod:`torch.distributed` (``nccl`` for CUDA, ``gloo`` otherwise) unless the
    caller already did, selects this rank's GPU, and leaves the group at the
    end if it joined it here.

    Parameters
    ----------
    device : torch.device
        The device asked for; picks the backend.

    Yields
    ------
    Ranks
    """
    ranks = _environment()
    if not ranks.distributed:
        yield ranks
        return
    joined = not dist.is_initialized()
    if joined:
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(ranks.local_rank)
        dist.init_process_group(backend=backend)
    if dist.get_world_size() != ranks.world_size or dist.get_rank() != ranks.rank:
        raise RuntimeError(
            f"the process group (rank {dist.get_rank()} of {dist.get_world_size()}) "
            f"disagrees with RANK={ranks.rank}, WORLD_SIZE={ranks.world_size}"
        )
    try:
        yield ranks
    finally:
        if joined:
            dist.destroy_process_group()
