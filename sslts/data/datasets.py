"""Loaders for the benchmark data kept outside the package.

Benchmarks read real data from one folder, set by the environment variable
``SSLTS_DATA_DIR`` (default: ``../shared/data`` relative to the working
directory, when it exists). Tests and examples never need it.
"""

from __future__ import annotations

import ast
import csv
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "ANOMALY_SOURCES",
    "AnomalySeries",
    "ClassificationData",
    "SMAPMSLChannel",
    "data_dir",
    "list_anomaly_series",
    "list_classification",
    "load_anomaly_series",
    "load_classification",
    "load_ett",
    "load_smap_msl",
]

#: Anomaly sources known to :func:`list_anomaly_series`, in listing order.
ANOMALY_SOURCES = ("TSB-AD-U", "TSB-AD-M", "NAB", "SMAP", "MSL")


@dataclass(frozen=True)
class ClassificationData:
    """One data set with its official split; ``X`` arrays are ``(n, channels, length)``.

    Parameters
    ----------
    name : str
        Data set name, e.g. ``"GunPoint"``.
    archive : str
        ``"UCR"`` or ``"UEA"``.
    X_train, X_test : ndarray of shape (n, n_channels, n_timepoints), float32
        Training and test series.
    y_train, y_test : ndarray of str
        Their labels.
    """

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
    """``(archive, name)`` of every classification data set, UCR then UEA.

    Parameters
    ----------
    archive : {"UCR", "UEA"} or None, default=None
        List one archive only; None lists both.

    Returns
    -------
    list of (str, str)
        ``(archive, name)`` pairs, sorted by name within an archive.
    """
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
    """Load a UCR (tsv) or UEA (ts/arff) data set with its official train/test split.

    Parameters
    ----------
    name : str
        Data set name, a folder of ``<data folder>/classification/<archive>/``.
    archive : {"UCR", "UEA"}, default="UCR"
        The archive holding it.

    Returns
    -------
    ClassificationData
        Both splits with their labels.
    """
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


# --------------------------------------------------------------------------- anomaly data


@dataclass(frozen=True)
class AnomalySeries:
    """One labelled series for anomaly detection.

    The fields are also the attributes of the same names.

    Parameters
    ----------
    name : str
        The key that loads it, e.g. ``"NAB/realKnownCause/nyc_taxi"``.
    source : str
        One of :data:`ANOMALY_SOURCES`.
    values : ndarray of shape (n_timepoints, n_channels), float64
        The series. NAB and TSB-AD-U have one channel. SMAP/MSL keys give the *test*
        array with all its channels: column 0 is the telemetry value, the others are
        one-hot command flags (often constant).
    labels : ndarray of shape (n_timepoints,), int64
        1 on anomalous points, 0 elsewhere.
    train_end : int
        Points ``[0, train_end)`` are the part a detector may be fitted on (see
        :func:`load_anomaly_series` for the rule).
    """

    name: str
    source: str
    values: np.ndarray
    labels: np.ndarray
    train_end: int


@dataclass(frozen=True)
class SMAPMSLChannel:
    """One NASA SMAP/MSL channel with its official train/test split.

    The fields are also the attributes of the same names.

    Parameters
    ----------
    name : str
        Channel id, e.g. ``"A-5"``.
    spacecraft : str
        ``"SMAP"`` or ``"MSL"``.
    train : ndarray of shape (n_train, n_channels), float64
        Anomaly-free training telemetry (column 0 is the value, the rest command flags).
    test : ndarray of shape (n_test, n_channels), float64
        Test telemetry, same columns.
    labels : ndarray of shape (n_test,), int64
        1 inside the labelled ``anomaly_sequences`` of the test part (ends included).
    """

    name: str
    spacecraft: str
    train: np.ndarray
    test: np.ndarray
    labels: np.ndarray


def _anomaly_root() -> Path:
    return data_dir() / "anomaly"


def _smap_msl_table(root: Path) -> dict[str, tuple[str, list[list[int]]]]:
    """``chan_id -> (spacecraft, [[start, end], ...])`` from ``labeled_anomalies.csv``."""
    path = root / "SMAP_MSL" / "labeled_anomalies.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    with path.open(newline="") as handle:
        return {
            row["chan_id"]: (
                row["spacecraft"],
                ast.literal_eval(row["anomaly_sequences"]),
            )
            for row in csv.DictReader(handle)
        }


def _ranges_to_labels(ranges: list[list[int]], n: int) -> np.ndarray:
    labels = np.zeros(n, dtype=np.int64)
    for start, end in ranges:
        labels[max(start, 0) : min(end, n - 1) + 1] = 1
    return labels


def list_anomaly_series(sources: str | list[str] | None = None) -> list[str]:
    """Keys of the labelled anomaly series in the data folder.

    Parameters
    ----------
    sources : str or list of str, optional
        Any of ``"TSB-AD-U"``, ``"TSB-AD-M"``, ``"NAB"``, ``"SMAP"``, ``"MSL"``; all when
        omitted.

    Returns
    -------
    list of str
        Keys for :func:`load_anomaly_series`: ``"TSB-AD-U/<file stem>"``,
        ``"TSB-AD-M/<file stem>"``, ``"NAB/<category>/<series>"`` (every NAB series,
        including the five of ``artificialNoAnomaly`` that have no anomaly),
        ``"SMAP/<channel>"`` and ``"MSL/<channel>"`` (channels whose arrays are present).
    """
    if sources is None:
        sources = list(ANOMALY_SOURCES)
    elif isinstance(sources, str):
        sources = [sources]
    unknown = sorted(set(sources) - set(ANOMALY_SOURCES))
    if unknown:
        raise ValueError(
            f"unknown anomaly sources {unknown}; choose from {ANOMALY_SOURCES}"
        )
    root = _anomaly_root()
    keys: list[str] = []
    for source in sources:
        if source.startswith("TSB-AD"):
            folder = root / "TSB-AD" / source
            keys += [f"{source}/{p.stem}" for p in sorted(folder.glob("*.csv"))]
        elif source == "NAB":
            folder = root / "NAB" / "data"
            keys += [
                f"NAB/{p.parent.name}/{p.stem}" for p in sorted(folder.glob("*/*.csv"))
            ]
        elif (root / "SMAP_MSL").is_dir():
            table = _smap_msl_table(root)
            present = {p.stem for p in (root / "SMAP_MSL" / "test").glob("*.npy")}
            keys += [
                f"{source}/{chan}"
                for chan, (craft, _) in sorted(table.items())
                if craft == source and chan in present
            ]
    return keys


def _default_train_end(
    labels: np.ndarray, fraction: float = 0.3, floor: float = 0.1
) -> int:
    n = len(labels)
    end = int(fraction * n)
    anomalous = np.flatnonzero(labels)
    if anomalous.size and floor * n <= anomalous[0] < end:
        end = int(anomalous[0])
    return end


def _read_tsbad(path: Path) -> tuple[np.ndarray, np.ndarray, int]:
    table = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    match = re.search(r"_tr_(\d+)_", path.name)
    if match is None:
        raise ValueError(f"{path.name} holds no tr_<train_end> part")
    return table[:, :-1], table[:, -1].astype(np.int64), int(match.group(1))


def _read_nab(root: Path, relative: str) -> tuple[np.ndarray, np.ndarray]:
    path = root / "NAB" / "data" / relative
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    stamps = np.array([r["timestamp"] for r in rows], dtype="datetime64[s]")
    values = np.array([float(r["value"]) for r in rows], dtype=np.float64)[:, None]
    windows = json.loads(
        (root / "NAB" / "labels" / "combined_windows.json").read_text()
    )
    labels = np.zeros(len(rows), dtype=np.int64)
    for start, end in windows.get(relative, []):
        start, end = np.datetime64(start[:19], "s"), np.datetime64(end[:19], "s")
        labels[(stamps >= start) & (stamps <= end)] = 1
    return values, labels


def load_anomaly_series(key: str, max_length: int | None = None) -> AnomalySeries:
    """Load one labelled anomaly series by its key.

    Parameters
    ----------
    key : str
        A key from :func:`list_anomaly_series`.
    max_length : int, optional
        Keep only the first ``max_length`` points (before ``train_end`` is worked out).

    Returns
    -------
    AnomalySeries
        ``train_end`` is ``k`` from the ``tr_<k>`` part of TSB-AD file names (capped at
        the length). For NAB and SMAP/MSL it is the first 30% of the series, cut back to
        the first anomaly when that still leaves at least 10% (otherwise the train part
        keeps the 30% and contains an anomaly). NAB labels are the points inside the
        ``combined_windows.json`` windows (ends included); SMAP/MSL keys give the test
        array with all channels and the ``anomaly_sequences`` labels, so the official
        train array is not used here (see :func:`load_smap_msl` for it).

    Examples
    --------
    >>> series = load_anomaly_series("SMAP/A-5")  # doctest: +SKIP
    >>> series.values.shape, int(series.labels.sum())  # doctest: +SKIP
    ((4693, 25), 51)
    """
    source, _, rest = key.partition("/")
    if source not in ANOMALY_SOURCES or not rest:
        raise ValueError(f"bad anomaly key {key!r}; see list_anomaly_series()")
    if max_length is not None and max_length < 1:
        raise ValueError(f"max_length must be a positive int, got {max_length}")
    root = _anomaly_root()
    train_end = None
    if source.startswith("TSB-AD"):
        path = root / "TSB-AD" / source / f"{rest}.csv"
        if not path.is_file():
            raise FileNotFoundError(f"no anomaly series {key} ({path})")
        values, labels, train_end = _read_tsbad(path)
    elif source == "NAB":
        relative = f"{rest}.csv"
        if not (root / "NAB" / "data" / relative).is_file():
            raise FileNotFoundError(f"no anomaly series {key}")
        values, labels = _read_nab(root, relative)
    else:
        channel = load_smap_msl(rest)
        if channel.spacecraft != source:
            raise ValueError(
                f"channel {rest} belongs to {channel.spacecraft}, not {source}"
            )
        values, labels = channel.test, channel.labels
    if max_length is not None:
        values, labels = values[:max_length], labels[:max_length]
    if train_end is None:
        train_end = _default_train_end(labels)
    return AnomalySeries(key, source, values, labels, min(train_end, len(labels)))


def load_smap_msl(channel: str) -> SMAPMSLChannel:
    """Load one NASA SMAP/MSL channel with its official split and test labels.

    Parameters
    ----------
    channel : str
        Channel id such as ``"A-5"`` (SMAP) or ``"C-2"`` (MSL).

    Returns
    -------
    SMAPMSLChannel
        Train and test arrays with every column, and 0/1 test labels from
        ``labeled_anomalies.csv``.
    """
    root = _anomaly_root()
    table = _smap_msl_table(root)
    if channel not in table:
        raise ValueError(f"unknown SMAP/MSL channel {channel!r}")
    parts = []
    for split in ("train", "test"):
        path = root / "SMAP_MSL" / split / f"{channel}.npy"
        if not path.is_file():
            raise FileNotFoundError(
                f"channel {channel} is not in the data folder ({path})"
            )
        array = np.load(path, allow_pickle=False).astype(np.float64)
        parts.append(array if array.ndim == 2 else array[:, None])
    spacecraft, ranges = table[channel]
    labels = _ranges_to_labels(ranges, len(parts[1]))
    return SMAPMSLChannel(channel, spacecraft, parts[0], parts[1], labels)


#: Month borders of the 12/4/4-month train/validation/test split of the long-term
#: forecasting benchmarks (hourly ETTh files: 720 rows a month; ETTm: 4 times as many).
_ETT_MONTHS = {"train": (0, 12), "val": (12, 16), "test": (16, 20)}
_HOURS_PER_MONTH = 30 * 24


def load_ett(name: str, split: str) -> np.ndarray:
    """One split of an ETT data set, standardised with its training split's statistics.

    The split is the usual one of the long-term forecasting benchmarks: the
    first 12 months train, the next 4 validation, the 4 after test (rows
    beyond 20 months are unused; a shorter file is split in the same
    proportions). Each channel is centred and
    divided by its standard deviation on the training split (1 where that
    is zero).

    Parameters
    ----------
    name : str
        ``"ETTh1"``, ``"ETTh2"``, ``"ETTm1"`` or ``"ETTm2"``: the file
        ``forecasting/ETT/<name>.csv`` under :func:`data_dir`.
    split : {"train", "val", "test"}
        Which part.

    Returns
    -------
    ndarray of shape (n_timepoints, n_channels), float64
        7 channels in the published files.

    Raises
    ------
    FileNotFoundError
        If the file is missing.
    ValueError
        If ``split`` is not one of the three.
    """
    if split not in _ETT_MONTHS:
        raise ValueError(f"split must be one of {sorted(_ETT_MONTHS)}, got {split!r}")
    path = data_dir() / "forecasting" / "ETT" / f"{name}.csv"
    if not path.is_file():
        raise FileNotFoundError(f"no ETT data at {path}")
    rows_per_month = _HOURS_PER_MONTH * (4 if name.startswith("ETTm") else 1)
    table = np.genfromtxt(path, delimiter=",", skip_header=1)[:, 1:]
    n = min(len(table), 20 * rows_per_month)  # a shorter file: the same proportions
    start, stop = (n * m // 20 for m in _ETT_MONTHS[split])
    train = table[: n * _ETT_MONTHS["train"][1] // 20]
    mean, std = train.mean(axis=0), train.std(axis=0)
    std[std == 0] = 1.0
    return (table[start:stop] - mean) / std
