"""The objective registry: everything a trainer needs to know about an objective, by name.

An :class:`Objective` bundles how to build the objective's module around the
shared :class:`~sslts.models.PatchEncoder`, the loss (criterion class and its
parameters), the training batches, the skorch callbacks the objective needs
(EMA targets, schedules, collapse monitors) and the encoder that embeds after
training. :class:`sslts.latent.JEPAEmbedder` reads all of it from here, so an
objective is added by writing its module and registering it once with
:func:`register_objective`; the built-in ones register themselves on import
of :mod:`sslts.objectives`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from skorch.callbacks import Callback
from torch import nn

from sslts._validation import Panel
from sslts.data.windows import context_windows
from sslts.models import JEPAConfig, PatchEncoder

__all__ = [
    "Objective",
    "available_objectives",
    "get_objective",
    "register_objective",
    "window_batch",
    "wrap_encoder",
]

#: ``(config, encoder or None) -> objective module`` (see :attr:`Objective.build`).
ModuleBuilder = Callable[[JEPAConfig, PatchEncoder | None], nn.Module]
#: ``(panel, context_length) -> batch dict`` (see :attr:`Objective.batch`).
BatchMaker = Callable[[Panel, int], dict[str, np.ndarray]]
#: ``(module, x, observed) -> (B, P, K)`` (see :attr:`Objective.code_features`).
CodeFeatures = Callable[[nn.Module, torch.Tensor, torch.Tensor | None], torch.Tensor]

_OBJECTIVES: dict[str, Objective] = {}


def window_batch(panel: Panel, context_length: int) -> dict[str, np.ndarray]:
    """Training batch of the windows of the length policy (:mod:`sslts.data.windows`).

    The default :attr:`Objective.batch`: long series are cut into windows,
    short ones left-padded and masked.

    Parameters
    ----------
    panel : Panel
        A validated panel (see :mod:`sslts._validation`).
    context_length : int
        Window length.

    Returns
    -------
    dict
        ``x`` (float32) and ``observed`` (bool), each ``(n_windows, n_channels,
        context_length)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sslts._validation import Panel
    >>> panel = Panel(np.ones((2, 1, 10), np.float32), None, np.array([10, 10]))
    >>> {k: v.shape for k, v in window_batch(panel, 4).items()}
    {'x': (6, 1, 4), 'observed': (6, 1, 4)}
    """
    windows = context_windows(panel, context_length)
    return {"x": windows.values, "observed": windows.observed}


def wrap_encoder(module_class: Callable[[PatchEncoder], nn.Module]) -> ModuleBuilder:
    """A :attr:`Objective.build` for modules constructed as ``module_class(encoder)``.

    Parameters
    ----------
    module_class : callable
        The objective's module class (or any factory of one encoder).

    Returns
    -------
    callable
        ``build(config, encoder)``: ``module_class`` around ``encoder``, or
        around a new :class:`~sslts.models.PatchEncoder` of ``config`` when
        ``encoder`` is None.

    Examples
    --------
    >>> from sslts.models import JEPAConfig
    >>> from sslts.objectives import LeJEPA
    >>> build = wrap_encoder(LeJEPA)
    >>> model = build(JEPAConfig(context_length=16, patch_length=4, d_model=8), None)
    >>> type(model).__name__, model.encoder.config.d_model
    ('LeJEPA', 8)
    """

    def build(config: JEPAConfig, encoder: PatchEncoder | None) -> nn.Module:
        return module_class(PatchEncoder(config) if encoder is None else encoder)

    return build


def _online_encoder(module: nn.Module) -> PatchEncoder:
    return module.encoder


def _no_params(module: nn.Module) -> dict[str, Any]:
    return {}


def _no_callbacks(module: nn.Module) -> list[tuple[str, Callback]]:
    return []


@dataclass(frozen=True)
class Objective:
    """A self-supervised objective on the shared patch encoder, as a trainer sees it.

    Parameters
    ----------
    name : str
        Registry key (the ``objective`` parameter of
        :class:`sslts.latent.JEPAEmbedder`).
    module : type
        Class of the objective's module (the net's module; it returns what
        the criterion needs). A checkpoint holding an instance is trained
        as it is (see :meth:`initial_module`).
    build : callable
        ``build(config, encoder)``: a new module for the
        :class:`~sslts.models.JEPAConfig` ``config``, around the pretrained
        ``encoder`` when it is not None (:func:`wrap_encoder` covers modules
        built as ``module(encoder)``).
    criterion : type
        The loss: a plain callable class, instantiated with
        ``criterion_params(module)`` and called as ``criterion(output,
        **batch)`` (see :class:`sslts.training.PretrainNet`).
    losses : type
        The named tuple the criterion returns (total first, then the parts
        recorded as ``loss_<name>``).
    batch : callable, default=window_batch
        ``batch(panel, context_length)``: the training batches of a panel,
        a dict of arrays with one row per sample.
    criterion_params : callable, default: no parameters
        ``criterion_params(module)``: keyword arguments of ``criterion``.
    callbacks : callable, default: none
        ``callbacks(module)``: the ``(name, skorch callback)`` pairs the
        objective needs (EMA targets, loss schedules, collapse monitors).
    encoder : callable, default: ``module.encoder``
        ``encoder(module)``: the :class:`~sslts.models.PatchEncoder` that
        embeds after training.
    ablations : tuple of str, default=()
        Boolean :class:`~sslts.models.JEPAConfig` switches the objective
        supports turning off (e.g. ``"use_codebook"``).
    code_features : callable or None, default=None
        ``code_features(module, x, observed)``: per-patch code probabilities
        of windows ``x`` max-pooled over channels, ``(B, n_patches,
        codebook_size)``; None when the objective has no codes.

    Examples
    --------
    A toy objective (the variance of the embeddings as the loss; a real one
    would keep them from collapsing), ready for :func:`register_objective`:

    >>> from typing import NamedTuple
    >>> import torch
    >>> from torch import nn
    >>> class Variance(NamedTuple):
    ...     total: torch.Tensor
    >>> class VarianceLoss:
    ...     def __call__(self, z, **batch):
    ...         return Variance(z.var(0).mean())
    >>> class Embed(nn.Module):
    ...     def __init__(self, encoder):
    ...         super().__init__()
    ...         self.encoder = encoder
    ...     def forward(self, x, observed=None):
    ...         return self.encoder.embed(x, observed)
    >>> toy = Objective("toy", Embed, wrap_encoder(Embed), VarianceLoss, Variance)
    >>> module = toy.initial_module(JEPAConfig(context_length=16, patch_length=4, d_model=8))
    >>> toy.criterion()(module(torch.randn(3, 2, 16))).total.shape
    torch.Size([])
    """

    name: str
    module: type[nn.Module]
    build: ModuleBuilder
    criterion: type
    losses: type[tuple]
    batch: BatchMaker = window_batch
    criterion_params: Callable[[nn.Module], dict[str, Any]] = _no_params
    callbacks: Callable[[nn.Module], list[tuple[str, Callback]]] = _no_callbacks
    encoder: Callable[[nn.Module], PatchEncoder] = _online_encoder
    ablations: tuple[str, ...] = ()
    code_features: CodeFeatures | None = None

    @property
    def loss_parts(self) -> tuple[str, ...]:
        """Names of the loss parts besides the total."""
        return self.losses._fields[1:]

    def initial_module(self, start: JEPAConfig | nn.Module) -> nn.Module:
        """The module to train, from a configuration or a loaded model.

        Parameters
        ----------
        start : JEPAConfig or torch.nn.Module
            A configuration (new weights), a module of this objective (used
            as it is), a :class:`~sslts.models.PatchEncoder`, or the module of
            any registered objective (its :attr:`encoder` starts this one).

        Returns
        -------
        torch.nn.Module

        Raises
        ------
        ValueError
            If ``start`` is another kind of model.
        """
        if isinstance(start, JEPAConfig):
            return self.build(start, None)
        if isinstance(start, self.module):
            return start
        if isinstance(start, PatchEncoder):
            return self.build(start.config, start)
        for objective in _OBJECTIVES.values():
            if isinstance(start, objective.module):
                encoder = objective.encoder(start)
                return self.build(encoder.config, encoder)
        modules = sorted({o.module.__name__ for o in _OBJECTIVES.values()})
        raise ValueError(
            f"objective {self.name!r} cannot start from a {type(start).__name__}: it needs "
            f"a JEPAConfig, a PatchEncoder or one of {modules}"
        )


def register_objective(objective: Objective) -> Objective:
    """Make ``objective`` available under ``objective.name``.

    Parameters
    ----------
    objective : Objective

    Returns
    -------
    Objective
        ``objective`` itself, so a module can keep it as a constant.

    Raises
    ------
    ValueError
        If another objective has that name.

    Examples
    --------
    Names are unique:

    >>> register_objective(get_objective("lejepa"))
    Traceback (most recent call last):
    ...
    ValueError: an objective named 'lejepa' is already registered
    """
    if objective.name in _OBJECTIVES:
        raise ValueError(f"an objective named {objective.name!r} is already registered")
    _OBJECTIVES[objective.name] = objective
    return objective


def get_objective(name: str) -> Objective:
    """The registered objective called ``name``.

    Parameters
    ----------
    name : str
        A name from :func:`available_objectives`.

    Raises
    ------
    ValueError
        If there is none; the message lists the available names.

    Examples
    --------
    >>> get_objective("lejepa").loss_parts
    ('invariance', 'sigreg')
    """
    try:
        return _OBJECTIVES[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown objective {name!r}; available: {list(available_objectives())}"
        ) from None


def available_objectives() -> tuple[str, ...]:
    """Names of the registered objectives, sorted.

    Examples
    --------
    >>> {"dino", "lejepa", "masked", "mts-jepa"} <= set(available_objectives())
    True
    """
    return tuple(sorted(_OBJECTIVES))
