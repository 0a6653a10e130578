"""skorch training of an encoder under a self-supervised objective."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from skorch import NeuralNet
from skorch.callbacks import (
    Callback,
    EarlyStopping,
    LRScheduler,
    PassthroughScoring,
    ProgressBar,
)
from skorch.utils import to_device, to_tensor
from torch.utils.data import DataLoader

from sslts._torch import bf16_autocast
from sslts.models._random import active_generator
from sslts.training.ema import EMATarget, ObjectiveProgress
from sslts.training.monitoring import CollapseMonitor

__all__ = ["PretrainNet", "SeededDataLoader", "mtsjepa_callbacks", "pretrain_callbacks"]


class SeededDataLoader(DataLoader):
    """A :class:`torch.utils.data.DataLoader` that draws from the fit's generator.

    Without a ``generator`` argument a DataLoader draws its shuffling order
    and its workers' base seed from torch's global generator, on every
    iteration (validation loops included). This one takes the generator of
    the running fit (:func:`sslts.models._random.active_generator`) instead,
    so a skorch net fitted inside an estimator's ``fit`` shuffles the same
    way for the same ``random_state`` whatever runs beside it, and leaves
    the global generator alone. Outside a fit it is a plain DataLoader.
    Pass it to skorch as ``iterator_train`` / ``iterator_valid``.

    Parameters
    ----------
    dataset : Dataset
    *args
        Passed to :class:`~torch.utils.data.DataLoader`.
    generator : torch.Generator or None, default=None
        An explicit generator; None takes the fit's (or, outside a fit,
        torch's global one).
    **kwargs
        Passed to :class:`~torch.utils.data.DataLoader`.
    """

    def __init__(
        self, dataset: Any, *args: Any, generator: torch.Generator | None = None, **kwargs: Any
    ) -> None:
        if generator is None:
            generator = active_generator()
        super().__init__(dataset, *args, generator=generator, **kwargs)


class PretrainNet(NeuralNet):
    """A skorch net whose loss is a self-supervised objective (``y=None``).

    The module returns what the objective needs; ``criterion`` is the
    objective's class (a plain callable, see :mod:`sslts.objectives`),
    instantiated by skorch with the ``criterion__*`` parameters. The objective
    is called as ``criterion_(y_pred, **X)`` where ``X`` is the batch (a dict
    such as ``{"x": ..., "observed": ...}``) and returns a named tuple whose
    first field is the total loss; every other field is recorded in the history
    per training batch; :func:`pretrain_callbacks` averages them per epoch
    under ``loss_<name>``. ``amp=True`` runs the forward pass and the loss
    under bfloat16 autocast (for GPUs and CPUs with native bfloat16).

    Parameters
    ----------
    module : nn.Module class or instance
        The model to train; it returns what the objective needs.
    *args
        Passed to :class:`skorch.NeuralNet` (``criterion``, ...).
    train_split : callable or None, default=None
        skorch's validation split; None trains on every batch.
    amp : bool, default=False
        Run the forward pass and the loss under bfloat16 autocast.
    distributed : bool, default=False
        Train data-parallel with :class:`torch.nn.parallel.DistributedDataParallel`:
        gradients are averaged over the processes of the initialised
        :mod:`torch.distributed` process group (see
        :mod:`sslts.training.distributed` and :meth:`initialize_module`).
        Each process feeds its own share of the data.
    **kwargs
        Passed to :class:`skorch.NeuralNet` (``max_epochs``, ``lr``, ``module__*``,
        ``criterion__*``...). The optimizer defaults to AdamW, the training and
        validation iterators to :class:`SeededDataLoader`.

    Examples
    --------
    >>> import numpy as np
    >>> from sslts.models import TSPulse, TSPulseConfig
    >>> from sslts.objectives import TSPulseObjective
    >>> cfg = TSPulseConfig(context_length=32, n_layers=1, n_decoder_layers=1,
    ...                     n_registers=2, forecast_length=4)
    >>> net = PretrainNet(TSPulse, module__config=cfg, criterion=TSPulseObjective,
    ...                   criterion__config=cfg, max_epochs=2, batch_size=8, verbose=0)
    >>> X = {"x": np.random.default_rng(0).normal(size=(16, 1, 36)).astype("float32")}
    >>> len(net.fit(X).history)
    2
    """

    # The objective is a plain callable, which skorch would not register as a
    # prefix on its own; ``criterion__*`` parameters must still route to it.
    prefixes_ = NeuralNet.prefixes_ + ["criterion"]

    def __init__(
        self,
        module: Any,
        *args: Any,
        train_split: Any = None,
        amp: bool = False,
        distributed: bool = False,
        **kwargs: Any,
    ):
        kwargs.setdefault("optimizer", torch.optim.AdamW)
        kwargs.setdefault("iterator_train", SeededDataLoader)
        kwargs.setdefault("iterator_valid", SeededDataLoader)
        super().__init__(module, *args, train_split=train_split, **kwargs)
        self.amp = amp
        self.distributed = distributed

    def _autocast(self) -> torch.autocast:
        """bfloat16 autocast of the forward pass and loss when ``amp`` (no loss scaling
        is needed with bfloat16). It pays on GPUs and on CPUs with native
        bfloat16 instructions (AVX512_BF16 or AMX: about 1.8 times a training
        step of the r1-like TSPulse, ``benchmarks/bench_train_speed.py``); on
        CPUs without them it is several times slower."""
        return bf16_autocast(self.device, self.amp)

    def initialize_module(self) -> PretrainNet:
        """Build the module; with ``distributed=True`` also its data-parallel wrapper.

        The wrapper, ``distributed_module_``
        (:class:`torch.nn.parallel.DistributedDataParallel`, which copies
        rank 0's parameters and buffers to every rank when it is built), runs
        the forward pass, so that every backward pass averages the gradients
        across ranks before the optimiser steps. ``module_`` stays the plain
        module: its state dict, checkpoints and evaluation are those of an
        undistributed net.
        """
        super().initialize_module()
        if self.distributed:
            from torch.nn.parallel import DistributedDataParallel

            device = torch.device(self.device)
            self.module_ = to_device(self.module_, self.device)
            self.distributed_module_ = DistributedDataParallel(
                self.module_, device_ids=None if device.type == "cpu" else [device.index]
            )
        return self

    def infer(self, x: Any, **fit_params: Any) -> Any:
        module = getattr(self, "distributed_module_", None)
        with self._autocast():
            if module is None:
                return super().infer(x, **fit_params)
            x = to_tensor(x, device=self.device)
            if isinstance(x, Mapping):
                return module(**self._merge_x_and_fit_params(x, fit_params))
            return module(x, **fit_params)

    def get_loss(
        self,
        y_pred: Any,
        y_true: Any = None,
        X: Mapping[str, Any] | None = None,
        training: bool = False,
    ) -> torch.Tensor:
        """Evaluate the objective on the batch ``X`` and log its parts.

        Parameters
        ----------
        y_pred : Any
            The module's output for the batch.
        y_true : None
            Unused (self-supervised).
        X : dict of tensors
            The batch, passed to the objective as keyword arguments.
        training : bool, default=False
            Whether this is a training batch: only then are the loss parts recorded.
        """
        if not isinstance(X, Mapping):
            raise TypeError("PretrainNet expects each batch to be a dict of tensors")
        batch = to_tensor(dict(X), device=self.device)
        with self._autocast():
            losses = self.criterion_(y_pred, **batch)
        if training:
            for name, value in zip(losses._fields[1:], losses[1:]):
                self.history.record_batch(f"loss_{name}", float(value.detach()))
        return losses[0].float()


def pretrain_callbacks(
    loss_names: tuple[str, ...],
    *,
    max_epochs: int,
    patience: int | None = None,
    verbose: bool = False,
    schedule: Callback | None = None,
    extra: list[tuple[str, Callback]] | None = None,
) -> list[tuple[str, Callback]]:
    """Standard callbacks for :class:`PretrainNet`.

    Epoch averages of each loss part; a learning-rate schedule (``schedule``,
    by default cosine decay over ``max_epochs``); early stopping on the
    training loss when ``patience`` is set; a progress bar when ``verbose``;
    then ``extra``.

    Parameters
    ----------
    loss_names : tuple of str
        Names of the loss parts; each is averaged per epoch as ``loss_<name>``.
    max_epochs : int
        Epochs of the default cosine schedule.
    patience : int or None, default=None
        Epochs without a lower training loss before stopping; None never stops early.
    verbose : bool, default=False
        Add a progress bar.
    schedule : Callback or None, default=None
        A learning-rate schedule in place of the cosine decay.
    extra : list of (str, Callback) or None, default=None
        Callbacks appended last.
    """
    callbacks: list[tuple[str, Callback]] = [
        (f"loss_{name}", PassthroughScoring(name=f"loss_{name}", on_train=True))
        for name in loss_names
    ]
    if schedule is None:
        schedule = LRScheduler(
            policy=torch.optim.lr_scheduler.CosineAnnealingLR, T_max=max(1, max_epochs)
        )
    callbacks.append(("lr_schedule", schedule))
    if patience is not None:
        callbacks.append(
            ("early_stopping", EarlyStopping(monitor="train_loss", patience=patience))
        )
    if verbose:
        callbacks.append(("progress", ProgressBar()))
    callbacks.extend(extra or [])
    return callbacks


def mtsjepa_callbacks(decay: float) -> list[tuple[str, Callback]]:
    """The callbacks MTS-JEPA training needs besides :func:`pretrain_callbacks`.

    An EMA of the online encoder and codebook into their targets after every
    step (``decay``), the training progress handed to the objective (it
    anneals the reconstruction weight), and collapse monitoring of the codes
    and tokens. Pass them as ``extra`` of :func:`pretrain_callbacks`.

    Parameters
    ----------
    decay : float
        EMA decay of the target branch, usually ``JEPAConfig.ema_decay``.

    Returns
    -------
    list of (str, Callback)
        Named ``"ema"``, ``"objective_progress"`` and ``"collapse"`` (not
        ``"progress"``: that is the progress bar of a verbose fit).
    """
    return [
        (
            "ema",
            EMATarget(
                ("encoder", "codebook"), ("target_encoder", "target_codebook"), decay=decay
            ),
        ),
        ("objective_progress", ObjectiveProgress()),
        ("collapse", CollapseMonitor()),
    ]
