"""JSON round trip shared by the model configurations (checkpoint cards store them)."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

__all__ = ["ConfigDictMixin"]

_C = TypeVar("_C", bound="ConfigDictMixin")


class ConfigDictMixin:
    """``to_dict``/``from_dict`` for a dataclass configuration."""

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form of the configuration."""
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[_C], values: dict[str, Any]) -> _C:
        """Build a configuration, rejecting unknown keys with a clear error."""
        known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(values) - known)
        if unknown:
            family = cls.__name__.removesuffix("Config")
            raise ValueError(f"unknown {family} configuration keys: {unknown}")
        return cls(**values)
