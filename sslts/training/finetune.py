"""Self-supervised fine-tuning of a TSPulse model on a user's own windows.

Shared by the estimators that adapt a pretrained TSPulse to the data they are
fitted on (the embedder, the anomaly detector): the same masked-reconstruction
objective as pretraining, through :class:`~sslts.training.PretrainNet`.
"""

from __future__ import annotations

import numpy as np
import torch
from skorch.callbacks import Callback

from sslts.models import TSPulse
from sslts.objectives.tspulse import TSPulseLosses, TSPulseObjective
from sslts.training.net import PretrainNet, pretrain_callbacks

__all__ = ["finetune_tspulse"]


def finetune_tspulse(
    model: TSPulse,
    values: np.ndarray,
    observed: np.ndarray | None,
    *,
    max_epochs: int,
    lr: float,
    batch_size: int,
    device: torch.device | str,
    verbose: bool = False,
    extra_callbacks: list[tuple[str, Callback]] | None = None,
) -> PretrainNet:
    """Continue TSPulse pretraining on ``values`` (AdamW, cosine decay).

    Parameters
    ----------
    model : TSPulse
        Trained in place (the net's ``module_`` is this model).
    values : ndarray of shape (n_windows, n_channels, length), float32
        Windows with ``length >= model.config.context_length``.
    observed : ndarray of bool, same shape, or None
        False where a value is missing or padding.
    max_epochs, lr, batch_size : int, float, int
        Training schedule (the batch is capped at the number of windows).
    device : torch.device or str
    verbose : bool
        Progress bar and loss table.
    extra_callbacks : list of (name, skorch Callback), optional
        Appended to the standard callbacks (e.g. a
        :class:`~sslts.training.SklearnCallbackBridge`).

    Returns
    -------
    PretrainNet
        The fitted net; ``net.module_`` is the fine-tuned model (in training
        mode: call ``.eval()`` before use).
    """
    batch = {"x": values}
    if observed is not None:
        batch["observed"] = observed
    net = PretrainNet(
        model,
        criterion=TSPulseObjective,
        criterion__config=model.config,
        max_epochs=max_epochs,
        lr=lr,
        batch_size=min(batch_size, len(values)),
        iterator_train__shuffle=True,
        device=str(device),
        callbacks=pretrain_callbacks(
            TSPulseLosses._fields[1:],
            max_epochs=max_epochs,
            verbose=bool(verbose),
            extra=extra_callbacks,
        ),
        verbose=int(bool(verbose)),
    )
    net.fit(batch)
    return net
