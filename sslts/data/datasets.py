"""Loaders for the benchmark data kept outside the package.

Benchmarks read real data from one folder, set by the environment variable
``SSLTS_DATA_DIR`` (default: ``../shared/data`` relative to the working
directory, when it exists). Tests and examples never need it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["ClassificationData", "data_dir", "list_classification", "load_classification"]


@dataclass(frozen=True)
class ClassificationData:
    """One data set with its official split; ``X`` arrays are ``(n, channels, length)``."""

    name: str
    archive: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def data_dir() -> Path:
    """The benchmark data folder, or a clear error when it is not there."""
    path = Path(os.environ.get("SSLTS_DATA_DIR", "../shared/data"))
    if not path.is_dir():
        raise FileNotFoundError(
            f"benchmark data folder {path} not found: set SSLTS_DATA_DIR to the folder "
            "holding classification/, anomaly/ and forecasting/"
        )
    return path


def list_classification(archive: str | None = None) -> list[tuple[str, str]]:
    """``(archive, name)`` of every classification data set, UCR then UEA."""
    root = data_dir() / "classification"
    archives = [archive] if archive else ["UCR", "UEA"]
    return [
        (a, p.name)
        for a in archives
        if (root / a).is_dir()
        for p in sorted((root / a).iterdir())
        if p.is_dir()
    ]


def _read_ucr_tsv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    table = np.loadtxt(path, delimiter="\t", dtype=np.float64)
    labels = table[:, 0]
    as_int = labels.astype(np.int64)
    y = as_int.astype(str) if np.array_equal(as_int, labels) else labels.astype(str)
    return table[:, None, 1:].astype(np.float32), y


def _read_uea(path: Path) -> tuple[np.ndarray, np.ndarray]:
    from sktime.datasets import load_from_arff_to_dataframe, load_from_tsfile
    from sktime.datatypes import convert_to

    if path.suffix == ".ts":
        X, y = load_from_tsfile(str(path), return_data_type="numpy3d")
    else:
        frame, y = load_from_arff_to_dataframe(str(path))
        X = convert_to(frame, to_type="numpy3D")
    return np.asarray(X, dtype=np.float32), np.asarray(y).astype(str)


def load_classification(name: str, archive: str = "UCR") -> ClassificationData:
    """Load a UCR (tsv) or UEA (ts/arff) data set with its official train/test split."""
    folder = data_dir() / "classification" / archive / name
    if not folder.is_dir():
        raise FileNotFoundError(f"no data set {archive}/{name} in {folder.parent}")
    parts = {}
    for split in ("TRAIN", "TEST"):
        candidates = sorted(folder.glob(f"{name}_{split}.*"))
        if not candidates:
            raise FileNotFoundError(f"{folder} has no {name}_{split} file")
        path = candidates[0]
        parts[split] = _read_ucr_tsv(path) if path.suffix == ".tsv" else _read_uea(path)
    (X_train, y_train), (X_test, y_test) = parts["TRAIN"], parts["TEST"]
    return ClassificationData(name, archive, X_train, y_train, X_test, y_test)
