"""Where the random numbers of a fit come from: its own generators, never the global ones.

Every estimator fit runs inside :func:`using` with a :class:`RandomSource`
made from its ``random_state`` (see :func:`sslts._torch.seeded`). Code that
draws random numbers asks :func:`active_generator` for the generator of the
device it draws on and passes it on (``generator=``):

* weight initialisation: the constructors of the sslts modules are wrapped by
  :func:`init_from_active_generator`, which hands the generator to torch's
  own initialisers (``nn.init.*``, ``torch.randn``, ``Tensor.uniform_``...),
  so a module gets exactly its default initialisation, drawn from the fit's
  generator;
* training masks (:mod:`sslts.models.masking`), dropout
  (:class:`sslts.models.layers.FastDropout`, attention dropout of
  :class:`sslts.models.layers.GeneratorMultiheadAttention`), augmentation
  views and SIGReg directions (:mod:`sslts.objectives`), and skorch's batch
  shuffling (:class:`sslts.training.net.SeededDataLoader`).

The active source lives in a :class:`contextvars.ContextVar`, i.e. per thread
(like scikit-learn's ``config_context``): fits running at the same time in
threads of one process each draw from their own generator, and the
process-wide torch and numpy generators are never read, reseeded or
restored. Outside any fit (a model used directly, a doctest) there is no
active source and everything draws from torch's global generator, as plain
torch code does, so ``torch.manual_seed`` still makes it reproducible.

The active source is looked up where the numbers are drawn rather than
stored on the modules: modules are called by skorch with the batch only,
copied (EMA targets, training snapshots) and pickled with fitted
estimators, none of which should carry a generator along.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import torch
from torch.overrides import TorchFunctionMode

__all__ = [
    "RandomSource",
    "active_generator",
    "active_source",
    "init_from_active_generator",
    "using",
]

_ACTIVE: contextvars.ContextVar[RandomSource | None] = contextvars.ContextVar(
    "sslts_random_source", default=None
)
_INITIALISING: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "sslts_initialising", default=False
)


class RandomSource:
    """The random numbers of one fit: a :class:`torch.Generator` per device, from one seed.

    The CPU generator (and one per accelerator, made when first asked for)
    starts from ``seed``; the same seed gives the same draws on a device.

    Parameters
    ----------
    seed : int
        Seed of every generator.

    Examples
    --------
    >>> import torch
    >>> source = RandomSource(0)
    >>> with using(source):
    ...     a = torch.rand(2, generator=active_generator())
    >>> torch.equal(a, torch.rand(2, generator=torch.Generator().manual_seed(0)))
    True
    """

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._generators: dict[torch.device, torch.Generator] = {}

    def generator(self, device: torch.device | str | None = None) -> torch.Generator | None:
        """The generator that draws on ``device`` (the CPU by default).

        Returns None for the ``meta`` device, where nothing is drawn.
        """
        device = torch.device("cpu" if device is None else device)
        if device.type == "meta":
            return None
        if device.type == "cuda" and device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
        generator = self._generators.get(device)
        if generator is None:
            generator = torch.Generator(device).manual_seed(self.seed)
            self._generators[device] = generator
        return generator

    def reseed(self, seed: int) -> None:
        """Restart every generator (made now or later) from ``seed``."""
        self.seed = int(seed)
        for generator in self._generators.values():
            generator.manual_seed(self.seed)


@contextlib.contextmanager
def using(source: RandomSource) -> Iterator[RandomSource]:
    """Make ``source`` the active random source of this thread for the block.

    Blocks nest: the previous source (or none) is active again afterwards.

    Parameters
    ----------
    source : RandomSource
    """
    token = _ACTIVE.set(source)
    try:
        yield source
    finally:
        _ACTIVE.reset(token)


def active_source() -> RandomSource | None:
    """The random source of the fit running in this thread, or None outside a fit."""
    return _ACTIVE.get()


def active_generator(device: torch.device | str | None = None) -> torch.Generator | None:
    """The active source's generator for ``device`` (CPU by default).

    None outside a fit, which the ``generator=`` arguments of torch read as
    "torch's global generator".

    Parameters
    ----------
    device : torch.device or str, optional
        Where the numbers are drawn.
    """
    source = _ACTIVE.get()
    return None if source is None else source.generator(device)


# Everything that draws random numbers while a module is built, with a
# ``generator`` argument: torch's initialisers (they are dispatched as a
# whole when they support it, else as the tensor methods they call),
# factories and in-place samplers.
_INITIALISERS = frozenset(
    getattr(torch.nn.init, name)
    for name in (
        "uniform_",
        "normal_",
        "trunc_normal_",
        "kaiming_uniform_",
        "kaiming_normal_",
        "xavier_uniform_",
        "xavier_normal_",
        "orthogonal_",
        "sparse_",
    )
)
_FACTORIES = frozenset(
    getattr(torch, name)
    for name in (
        "rand",
        "randn",
        "randint",
        "randperm",
        "rand_like",
        "randn_like",
        "randint_like",
        "normal",
        "bernoulli",
        "multinomial",
        "poisson",
    )
)
_SAMPLERS = frozenset(
    getattr(torch.Tensor, name)
    for name in (
        "uniform_",
        "normal_",
        "bernoulli_",
        "bernoulli",
        "random_",
        "exponential_",
        "cauchy_",
        "log_normal_",
        "geometric_",
        "multinomial",
    )
)
_RANDOM = _INITIALISERS | _FACTORIES | _SAMPLERS


def _draw_device(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.device:
    """Where a random call draws: its first tensor's device, else its ``device``."""
    for value in (*args, *kwargs.values()):
        if isinstance(value, torch.Tensor):
            return value.device
    if kwargs.get("device") is not None:
        return torch.device(kwargs["device"])
    # torch.get_default_device is torch >= 2.3; before it the default is the CPU
    default = getattr(torch, "get_default_device", None)
    return torch.device("cpu") if default is None else default()


class _GeneratorMode(TorchFunctionMode):
    """Hand ``source``'s generator to every random call of the block that has none."""

    def __init__(self, source: RandomSource) -> None:
        super().__init__()
        self.source = source

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func in _RANDOM and kwargs.get("generator") is None:
            kwargs["generator"] = self.source.generator(_draw_device(args, kwargs))
        return func(*args, **kwargs)


@contextlib.contextmanager
def _initialising() -> Iterator[None]:
    """Route the random draws of module construction to the active source (if any)."""
    source = _ACTIVE.get()
    if source is None or _INITIALISING.get():
        yield
        return
    token = _INITIALISING.set(True)
    try:
        with _GeneratorMode(source):
            yield
    finally:
        _INITIALISING.reset(token)


ModuleClass = TypeVar("ModuleClass", bound=type)


def init_from_active_generator(cls: ModuleClass) -> ModuleClass:
    """Class decorator: the module's construction draws from the active generator.

    Inside a fit, every random draw of ``cls.__init__`` (torch's default
    initialisation of its layers, ``torch.randn`` of its own parameters)
    takes the active source's generator, so the module is initialised with
    its usual distributions, reproducibly, without touching torch's global
    generator; the routing is thread-local and lasts only while the module
    is built. Outside a fit construction is plain torch.

    Apply it to every module class that makes parameters (a subclass that
    defines its own ``__init__`` needs it too).

    Parameters
    ----------
    cls : type
        An :class:`torch.nn.Module` subclass.

    Returns
    -------
    type
        ``cls``, its ``__init__`` wrapped.
    """
    init: Callable[..., None] = cls.__init__

    @functools.wraps(init)
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        with _initialising():
            init(self, *args, **kwargs)

    cls.__init__ = __init__
    return cls
