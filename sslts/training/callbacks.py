"""skorch callbacks that connect training to the outside world."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import torch
from skorch.callbacks import Callback
from torch.utils.data import DataLoader

__all__ = ["KeepLowestTrainingObjective", "SklearnCallbackBridge", "StepProgress", "WarmupCosineLR"]


class SklearnCallbackBridge(Callback):
    """Report each skorch epoch as a subtask of a scikit-learn callback context.

    scikit-learn (>= 1.9) lets users attach callbacks (progress bars, scoring
    monitors) to an estimator or a whole ``Pipeline``. This bridge opens one
    subtask per epoch under the estimator's fit context, passes the epoch's
    losses as metadata and stops training when a callback asks to.

    Parameters
    ----------
    context : sklearn.callback.CallbackContext
        The estimator's fit context (from ``_init_callback_context``).
    estimator : estimator instance
        The estimator being fitted, passed to the callback hooks.
    reconstruction_attributes : callable
        ``net -> dict`` of the fitted attributes as they would be if training
        stopped now; called lazily, only when a callback needs them.
    """

    def __init__(
        self,
        context: Any,
        estimator: Any,
        reconstruction_attributes: Callable[[Any], dict[str, Any]],
    ) -> None:
        self.context = context
        self.estimator = estimator
        self.reconstruction_attributes = reconstruction_attributes

    def on_epoch_begin(self, net, **kwargs: Any) -> None:
        self.epoch_context_ = self.context.subcontext(task_name="epoch")
        self.epoch_context_.call_on_fit_task_begin(estimator=self.estimator)

    def on_epoch_end(self, net, **kwargs: Any) -> None:
        losses = {
            key: value
            for key, value in net.history[-1].items()
            if key.endswith("loss") or key.startswith("loss_")
        }
        stop = self.epoch_context_.call_on_fit_task_end(
            estimator=self.estimator,
            metadata=losses,
            reconstruction_attributes=lambda: self.reconstruction_attributes(net),
        )
        if stop:
            # skorch ends training cleanly on KeyboardInterrupt (as EarlyStopping does).
            raise KeyboardInterrupt


class KeepLowestTrainingObjective(Callback):
    """Keep the weights at which the training objective was lowest, the start included.

    Before the first epoch and after each one, the net's training objective
    (its loss with ``training=True``, so a penalty the net adds counts) is
    computed on ``dataset`` with the module in evaluation mode, and recorded
    in the history as ``train_objective`` (the starting value as
    ``initial_train_objective_``). At the end of training the module gets back
    the weights of the lowest value. Fine-tuning that starts at an optimum (a
    fitted linear probe) thus never ends worse on its own objective than it
    started, even when a step diverges (features with a tiny training spread
    are amplified by their standardisation).

    Parameters
    ----------
    dataset : skorch.dataset.Dataset
        The training data.

    Attributes
    ----------
    best_epoch_ : int
        Epoch whose weights are kept (0: the starting weights).
    initial_train_objective_ : float
        The objective before training.
    """

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def objective(self, net: Any) -> float:
        """Mean training objective of ``net`` on ``dataset``, evaluation mode, no gradients.

        Parameters
        ----------
        net : skorch.NeuralNet
            A net being trained.
        """
        training = net.module_.training
        net.module_.eval()
        total, count = 0.0, 0
        # a loader of its own generator: the fit's random stream (shuffling,
        # dropout) stays exactly what it is without this callback
        batches = DataLoader(
            self.dataset, batch_size=net.batch_size, generator=torch.Generator().manual_seed(0)
        )
        with torch.no_grad():
            for X, y in batches:
                y = y.to(net.device)
                loss = net.get_loss(net.infer(X), y, X=X, training=True)
                total += float(loss) * len(y)
                count += len(y)
        net.module_.train(training)
        return total / max(count, 1)

    def _keep(self, net: Any, value: float, epoch: int) -> None:
        if value < self.best_:
            self.best_, self.best_epoch_ = value, epoch
            self.state_ = copy.deepcopy(net.module_.state_dict())

    def on_train_begin(self, net: Any, X: Any = None, y: Any = None, **kwargs: Any) -> None:
        self.best_, self.best_epoch_ = math.inf, 0
        self.initial_train_objective_ = self.objective(net)
        self._keep(net, self.initial_train_objective_, 0)

    def on_epoch_end(self, net: Any, **kwargs: Any) -> None:
        value = self.objective(net)
        net.history.record("train_objective", value)
        self._keep(net, value, len(net.history))

    def on_train_end(self, net: Any, X: Any = None, y: Any = None, **kwargs: Any) -> None:
        net.module_.load_state_dict(self.state_)


class WarmupCosineLR(Callback):
    """Per-step learning rate: linear warm-up, then cosine decay to ``final_ratio * lr``.

    The rate depends only on the global step, so a resumed run follows the
    same schedule as an uninterrupted one.

    Parameters
    ----------
    total_steps : int
        Length of the whole schedule.
    warmup_steps : int
        Steps of linear warm-up from ``lr / warmup_steps``.
    start_step : int
        Global step of the first batch this callback sees (for resuming).
    final_ratio : float
        Final rate as a fraction of the net's ``lr``.
    """

    def __init__(
        self, total_steps: int, warmup_steps: int = 0, start_step: int = 0, final_ratio: float = 0.05
    ) -> None:
        self.total_steps = total_steps
        self.warmup_steps = warmup_steps
        self.start_step = start_step
        self.final_ratio = final_ratio

    def initialize(self) -> WarmupCosineLR:
        self.step_ = self.start_step
        return self

    def rate(self, step: int, base_lr: float) -> float:
        """Learning rate at global ``step``.

        Parameters
        ----------
        step : int
            Global step.
        base_lr : float
            The net's learning rate.
        """
        if step < self.warmup_steps:
            return base_lr * (step + 1) / self.warmup_steps
        span = max(1, self.total_steps - self.warmup_steps)
        progress = min(1.0, (step - self.warmup_steps) / span)
        cosine = 0.5 * (1 + math.cos(math.pi * progress))
        return base_lr * (self.final_ratio + (1 - self.final_ratio) * cosine)

    def on_batch_begin(self, net, training: bool = False, **kwargs: Any) -> None:
        if not training:
            return
        lr = self.rate(self.step_, net.lr)
        for group in net.optimizer_.param_groups:
            group["lr"] = lr
        net.history.record_batch("lr", lr)
        self.step_ += 1


class StepProgress(Callback):
    """A tqdm bar over training steps (batches), showing the running loss.

    Parameters
    ----------
    bar : tqdm
        An open progress bar; it advances by one per training batch.
    """

    def __init__(self, bar: Any) -> None:
        self.bar = bar

    def on_batch_end(self, net, batch=None, training: bool = False, **kwargs: Any) -> None:
        if training:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{net.history[-1, 'batches', -1, 'train_loss']:.4f}")
