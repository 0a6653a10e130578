"""Training-time state outside the optimiser: EMA target networks and loss schedules.

Both are skorch callbacks, so a :class:`~sslts.training.PretrainNet` stays a
plain net whose module returns what the objective needs.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from skorch.callbacks import Callback
from torch import nn

__all__ = ["EMATarget", "ObjectiveProgress", "ema_update"]


def _as_names(names: str | Sequence[str]) -> tuple[str, ...]:
    return (names,) if isinstance(names, str) else tuple(names)


def _resolve(module: nn.Module, name: str) -> nn.Module | None:
    """The submodule at dotted path ``name`` (None if it is switched off)."""
    found: object = module
    for part in name.split("."):
        if not hasattr(found, part):
            raise AttributeError(
                f"{type(module).__name__} has no submodule {name!r} for the EMA target"
            )
        found = getattr(found, part)
    if found is not None and not isinstance(found, nn.Module):
        raise TypeError(f"{name!r} is a {type(found).__name__}, not a torch module")
    return found


@torch.no_grad()
def ema_update(online: nn.Module, target: nn.Module, decay: float) -> None:
    """``target <- decay * target + (1 - decay) * online``, parameter by parameter.

    Floating-point buffers are averaged the same way, other buffers copied.
    The two modules must have the same parameter and buffer names and shapes.

    Parameters
    ----------
    online : nn.Module
        The trained module.
    target : nn.Module
        Its moving average, updated in place.
    decay : float
        Weight of the target's current value.
    """
    online_params = dict(online.named_parameters())
    target_params = dict(target.named_parameters())
    if online_params.keys() != target_params.keys():
        raise ValueError("online and target modules have different parameters")
    for name, param in target_params.items():
        param.lerp_(online_params[name].detach(), 1.0 - decay)
    online_buffers = dict(online.named_buffers())
    for name, buffer in target.named_buffers():
        source = online_buffers[name]
        if buffer.is_floating_point():
            buffer.lerp_(source, 1.0 - decay)
        else:
            buffer.copy_(source)


class EMATarget(Callback):
    """Move target submodules towards their online twins after every training step.

    Runs on ``on_batch_end`` of training batches, i.e. right after the
    optimiser step, so the target trails the online weights as in BYOL, DINO
    and MTS-JEPA. Gradients never reach the target through this callback; the
    module should create the targets as copies with ``requires_grad_(False)``.

    Parameters
    ----------
    online, target : str or sequence of str
        Names (dotted paths under ``net.module_``) of the online submodules and
        of their targets, in the same order; e.g. ``("encoder", "codebook")``
        and ``("target_encoder", "target_codebook")``. A target that is None
        (a switched-off part) must have a None online twin and is skipped.
    decay : float
        Decay ``rho`` in ``[0, 1]``; 1 freezes the target, 0 copies the online
        weights.
    """

    def __init__(
        self,
        online: str | Sequence[str],
        target: str | Sequence[str],
        decay: float = 0.996,
    ) -> None:
        self.online = online
        self.target = target
        self.decay = decay

    def initialize(self) -> EMATarget:
        online, target = _as_names(self.online), _as_names(self.target)
        if len(online) != len(target):
            raise ValueError(
                f"EMATarget needs as many online as target names, got {online} and {target}"
            )
        if not 0.0 <= self.decay <= 1.0:
            raise ValueError(f"decay must be in [0, 1], got {self.decay}")
        self.pairs_ = list(zip(online, target))
        return self

    def on_batch_end(self, net, batch=None, training=None, **kwargs) -> None:  # noqa: D102
        if not training:
            return
        for online_name, target_name in self.pairs_:
            online = _resolve(net.module_, online_name)
            target = _resolve(net.module_, target_name)
            if online is None and target is None:
                continue
            if online is None or target is None:
                raise ValueError(f"only one of {online_name!r} and {target_name!r} is None")
            ema_update(online, target, self.decay)


class ObjectiveProgress(Callback):
    """Tell the objective how far training has got, for annealed loss weights.

    Sets ``net.criterion_.<attribute>`` to the fraction of training done, in
    ``[0, 1]``: by epoch (``(epoch - 1) / (max_epochs - 1)`` at the start of
    each epoch) or, given ``total_steps``, by training step (``step /
    (total_steps - 1)`` before each training batch; useful when one epoch is
    the whole run). :class:`sslts.objectives.MTSJEPAObjective` anneals its
    reconstruction weight with it.

    Parameters
    ----------
    total_steps : int, optional
        Training batches over which the progress goes from 0 to 1.
    attribute : str
        Attribute of the objective that receives the progress.
    """

    def __init__(self, total_steps: int | None = None, attribute: str = "progress") -> None:
        self.total_steps = total_steps
        self.attribute = attribute

    def initialize(self) -> ObjectiveProgress:
        if self.total_steps is not None and self.total_steps < 1:
            raise ValueError(f"total_steps must be >= 1, got {self.total_steps}")
        self.step_ = 0
        return self

    def _set(self, net, fraction: float) -> None:
        setattr(net.criterion_, self.attribute, min(max(fraction, 0.0), 1.0))

    def on_epoch_begin(self, net, **kwargs) -> None:  # noqa: D102
        if self.total_steps is None:
            epoch = len(net.history) - 1
            self._set(net, epoch / max(1, net.max_epochs - 1))

    def on_batch_begin(self, net, batch=None, training=None, **kwargs) -> None:  # noqa: D102
        if self.total_steps is not None and training:
            self._set(net, self.step_ / max(1, self.total_steps - 1))
            self.step_ += 1
