"""Declarative parameter constraints, checked once at the start of ``fit``.

Every estimator declares what each of its parameters may be in a class-level
``_parameter_constraints`` dict, ``name -> list of constraints`` (a value is
valid when it meets *any* of them). Subclasses extend their parent's dict
(``{**Parent._parameter_constraints, "new": [...]}``). The one validator,
:func:`validate_params`, runs in :meth:`sslts._base.BaseTorchEstimator.fit`;
nothing is checked in ``__init__``, as scikit-learn requires.

A constraint is one of:

* :class:`Interval` -- an int or real number in a range (``bool`` never counts
  as a number);
* :class:`Options` -- one of a fixed set of values (e.g. strings);
* :class:`HasMethods` -- an object with the named methods (a wrapped estimator);
* ``None`` -- the value ``None``;
* ``"boolean"`` -- ``True`` or ``False`` (numpy booleans included);
* ``"random_state"`` -- ``None``, an int or a ``numpy.random.RandomState``;
* ``"device"`` -- ``"auto"`` or anything :class:`torch.device` accepts;
* ``"int_sequence"`` -- a non-empty tuple or list of positive ints;
* a type -- ``isinstance(value, type)``;
* ``callable`` -- any callable.

The same constraints check function arguments (:func:`check_param` and the
``check_*`` shorthands), so every message reads the same way.

Examples
--------
>>> from numbers import Integral
>>> constraints = {"max_epochs": [Interval(Integral, 0, None, closed="left")]}
>>> validate_params(constraints, {"max_epochs": -1}, "MyEstimator")
Traceback (most recent call last):
...
sslts._params.InvalidParameterError: The 'max_epochs' parameter of MyEstimator must be an int in the range [0, inf). Got -1 instead.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "DistinctOptions",
    "HasMethods",
    "Interval",
    "InvalidParameterError",
    "Options",
    "check_choice",
    "check_fraction",
    "check_int",
    "check_param",
    "check_positive",
    "validate_params",
]


class InvalidParameterError(ValueError, TypeError):
    """A parameter value that its constraints do not allow.

    Inherits from both ``ValueError`` and ``TypeError``, as scikit-learn's
    own error does, so code that catches either keeps working.
    """


def _is_number(value: Any, kind: type) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    return isinstance(value, kind)


@dataclass(frozen=True)
class Interval:
    """A range of ints (``numbers.Integral``) or reals (``numbers.Real``).

    Parameters
    ----------
    kind : {numbers.Integral, numbers.Real}
        Integral admits ints only; Real admits ints and floats (not NaN).
    left, right : float or None
        Bounds; None means unbounded on that side.
    closed : {"left", "right", "both", "neither"}
        Which bounds belong to the interval.
    """

    kind: type
    left: float | None
    right: float | None
    closed: str = "both"

    def __post_init__(self) -> None:
        if self.kind not in (numbers.Integral, numbers.Real):
            raise TypeError(f"Interval kind must be Integral or Real, got {self.kind!r}")
        if self.closed not in ("left", "right", "both", "neither"):
            raise ValueError(f"closed must be left/right/both/neither, got {self.closed!r}")

    def is_satisfied_by(self, value: Any) -> bool:
        if not _is_number(value, self.kind):
            return False
        if isinstance(value, numbers.Real) and math.isnan(value):
            return False
        low_ok = (
            self.left is None
            or value > self.left
            or (value == self.left and self.closed in ("left", "both"))
        )
        high_ok = (
            self.right is None
            or value < self.right
            or (value == self.right and self.closed in ("right", "both"))
        )
        return bool(low_ok and high_ok)

    def __str__(self) -> str:
        name = "an int" if self.kind is numbers.Integral else "a float"
        left = "-inf" if self.left is None else f"{self.left:g}"
        right = "inf" if self.right is None else f"{self.right:g}"
        lb = "[" if self.closed in ("left", "both") and self.left is not None else "("
        rb = "]" if self.closed in ("right", "both") and self.right is not None else ")"
        return f"{name} in the range {lb}{left}, {right}{rb}"


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values (compared with ``==``; order kept for messages)."""

    values: tuple

    def __init__(self, values: Iterable[Any]) -> None:
        object.__setattr__(self, "values", tuple(values))

    def is_satisfied_by(self, value: Any) -> bool:
        if isinstance(value, (np.ndarray, list, dict)):
            return False
        try:
            return any(
                isinstance(value, str) == isinstance(option, str) and bool(value == option)
                for option in self.values
            )
        except (TypeError, ValueError):
            return False

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class DistinctOptions:
    """A non-empty tuple or list of distinct values, each one of a fixed set."""

    values: tuple

    def __init__(self, values: Iterable[Any]) -> None:
        object.__setattr__(self, "values", tuple(values))

    def is_satisfied_by(self, value: Any) -> bool:
        if not isinstance(value, (tuple, list)) or not value:
            return False
        single = Options(self.values)
        return all(single.is_satisfied_by(v) for v in value) and len(set(value)) == len(value)

    def __str__(self) -> str:
        return "a non-empty tuple of distinct values among " + ", ".join(
            repr(v) for v in self.values
        )


@dataclass(frozen=True)
class HasMethods:
    """An object with all of the named methods (e.g. an estimator to wrap)."""

    methods: tuple

    def __init__(self, methods: Iterable[str]) -> None:
        object.__setattr__(self, "methods", tuple(methods))

    def is_satisfied_by(self, value: Any) -> bool:
        return not isinstance(value, type) and all(
            callable(getattr(value, m, None)) for m in self.methods
        )

    def __str__(self) -> str:
        return "an object with methods " + ", ".join(repr(m) for m in self.methods)


def _is_device(value: Any) -> bool:
    if isinstance(value, str) and value == "auto":
        return True
    import torch

    if isinstance(value, torch.device):
        return True
    if not isinstance(value, str):
        return False
    try:
        torch.device(value)
    except (RuntimeError, TypeError, ValueError):
        return False
    return True


def _is_int_sequence(value: Any) -> bool:
    if not isinstance(value, (tuple, list)) or not value:
        return False
    return all(_is_number(v, numbers.Integral) and v >= 1 for v in value)


_NAMED: dict[str, tuple[Any, str]] = {
    "boolean": (lambda v: isinstance(v, (bool, np.bool_)), "a bool"),
    "random_state": (
        lambda v: v is None
        or _is_number(v, numbers.Integral)
        or isinstance(v, np.random.RandomState),
        "an int, a numpy RandomState or None",
    ),
    "device": (_is_device, "'auto' or a torch device such as 'cpu' or 'cuda:0'"),
    "int_sequence": (_is_int_sequence, "a non-empty tuple of positive ints"),
}


def _satisfied(constraint: Any, value: Any) -> bool:
    if constraint is None:
        return value is None
    if isinstance(constraint, str):
        return bool(_NAMED[constraint][0](value))
    if constraint is callable:
        return callable(value)
    if isinstance(constraint, type):
        return isinstance(value, constraint)
    return constraint.is_satisfied_by(value)


def _describe(constraint: Any) -> str:
    if constraint is None:
        return "None"
    if isinstance(constraint, str):
        return _NAMED[constraint][1]
    if constraint is callable:
        return "a callable"
    if isinstance(constraint, type):
        return f"an instance of {constraint.__name__}"
    return str(constraint)


def check_param(name: str, value: Any, constraints: list[Any], caller: str | None = None) -> None:
    """Raise :class:`InvalidParameterError` unless ``value`` meets one of ``constraints``.

    Parameters
    ----------
    name : str
        Parameter name, quoted in the message.
    value : object
        The value to check.
    constraints : list
        See the module docstring.
    caller : str, optional
        The estimator or function the parameter belongs to.
    """
    for constraint in constraints:
        if isinstance(constraint, str) and constraint not in _NAMED:
            raise ValueError(f"unknown constraint {constraint!r} for parameter {name!r}")
        if _satisfied(constraint, value):
            return
    descriptions = [_describe(c) for c in constraints]
    allowed = (
        descriptions[0]
        if len(descriptions) == 1
        else ", ".join(descriptions[:-1]) + " or " + descriptions[-1]
    )
    owner = f" of {caller}" if caller else ""
    raise InvalidParameterError(
        f"The {name!r} parameter{owner} must be {allowed}. Got {value!r} instead."
    )


def validate_params(
    constraints: Mapping[str, list[Any]], params: Mapping[str, Any], caller: str
) -> None:
    """Check every parameter of ``params`` that ``constraints`` names.

    Parameters
    ----------
    constraints : mapping of str to list
        An estimator's ``_parameter_constraints``.
    params : mapping of str to object
        Its ``get_params(deep=False)``.
    caller : str
        The estimator's class name, used in messages.

    Raises
    ------
    InvalidParameterError
        For the first parameter whose value meets none of its constraints.
    """
    for name, value in params.items():
        if name in constraints:
            check_param(name, value, constraints[name], caller)


# ------------------------------------------------------------- shorthands
def check_choice(name: str, value: Any, choices: tuple[Any, ...]) -> None:
    """Raise unless ``value`` is one of ``choices``."""
    check_param(name, value, [Options(choices)])


def check_int(name: str, value: Any, minimum: int) -> None:
    """Raise unless ``value`` is an integer (not bool) ``>= minimum``."""
    check_param(name, value, [Interval(numbers.Integral, minimum, None, closed="left")])


def check_positive(name: str, value: Any) -> None:
    """Raise unless ``value`` is a real number ``> 0``."""
    check_param(name, value, [Interval(numbers.Real, 0, None, closed="neither")])


def check_fraction(name: str, value: Any, *, low: float = 0.0, high: float = 1.0) -> None:
    """Raise unless ``low < value < high``."""
    check_param(name, value, [Interval(numbers.Real, low, high, closed="neither")])
