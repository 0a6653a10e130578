"""Shared behaviour of the model configurations: field checks and a JSON round trip.

Every configuration dataclass derives from :class:`ConfigDictMixin`. Before a
configuration's own ``__post_init__`` runs, each field is checked against its
annotation, so a value from a hand-edited checkpoint card or a careless caller
(``d_model=8.0``, ``"1"``, ``dropout=nan``) is refused with a message naming
the field instead of failing later inside torch:

- ``int`` fields hold integers (numpy integers are converted, booleans refused);
- ``float`` fields hold finite, non-negative real numbers (every float setting
  of our models is a weight, ratio, rate, clip or temperature); ``dropout`` is
  below 1;
- ``bool`` and ``str`` fields hold values of that type.

Ranges that involve several fields (a context that is a multiple of the patch,
heads that divide the width) stay with each configuration's ``__post_init__``.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

__all__ = ["ConfigDictMixin"]

_C = TypeVar("_C", bound="ConfigDictMixin")


def _annotation(field: dataclasses.Field) -> str:
    """The field's annotation as a name (``"int"``), whether postponed or not."""
    kind = field.type
    return kind if isinstance(kind, str) else getattr(kind, "__name__", "")


def _checked(owner: str, name: str, kind: str, value: Any) -> Any:
    """``value`` in the canonical Python type of ``kind``, or a clear error."""
    where = f"{owner}.{name}"
    if kind == "bool":
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{where} must be true or false, got {value!r}")
        return bool(value)
    if kind == "str":
        if not isinstance(value, str):
            raise TypeError(f"{where} must be a string, got {value!r}")
        return value
    if kind == "int":
        if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, numbers.Integral
        ):
            raise TypeError(f"{where} must be an integer, got {value!r}")
        return int(value)
    if kind == "float":
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise TypeError(f"{where} must be a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{where} must be a finite number >= 0, got {value!r}")
        if name == "dropout" and value >= 1:
            raise ValueError(f"{where} must be in [0, 1), got {value!r}")
        return value
    return value


def _check_fields(config: Any) -> None:
    """Check (and canonicalise) every field of a frozen configuration dataclass."""
    owner = type(config).__name__
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        checked = _checked(owner, field.name, _annotation(field), value)
        if checked is not value:
            object.__setattr__(config, field.name, checked)


def _checking_first(post_init: Callable[[Any], None]) -> Callable[[Any], None]:
    """``post_init`` preceded by the field checks."""

    def __post_init__(self: Any) -> None:
        _check_fields(self)
        post_init(self)

    __post_init__.__doc__ = post_init.__doc__
    return __post_init__


class ConfigDictMixin:
    """Field checks and ``to_dict``/``from_dict`` for a dataclass configuration."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("__post_init__")
        if (
            own is not None
        ):  # a class without one inherits its parent's, checks included
            cls.__post_init__ = _checking_first(own)  # type: ignore[attr-defined]

    def __post_init__(self) -> None:
        _check_fields(self)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form of the configuration."""
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[_C], values: dict[str, Any]) -> _C:
        """Build a configuration, rejecting unknown keys with a clear error.

        Parameters
        ----------
        values : dict
            Field names to values, as :meth:`to_dict` writes them.

        Returns
        -------
        TSPulseConfig or JEPAConfig
            A configuration of the class called (each field checked).

        Raises
        ------
        TypeError
            If ``values`` is not a dict.
        ValueError
            If a key is not a field of the class.
        """
        if not isinstance(values, dict):
            raise TypeError(f"a {cls.__name__} is a JSON object, got {values!r}")
        known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(values) - known)
        if unknown:
            family = cls.__name__.removesuffix("Config")
            raise ValueError(f"unknown {family} configuration keys: {unknown}")
        return cls(**values)
