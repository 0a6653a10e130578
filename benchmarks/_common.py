"""What the benchmark scripts share: data folder, results, CSV files, flags, threads.

The scripts import it as ``from _common import ...`` (running
``python benchmarks/<script>.py`` puts this folder first on ``sys.path``; joblib's
loky workers inherit that path). Only the standard library is imported at module
level: ``make_vus_reference.py`` runs in an environment without sslts, and
``bench_generation.py`` limits threads before numpy is imported.

Data folder
    Real data is read by :mod:`sslts.data.datasets` from ``$SSLTS_DATA_DIR``.
    When that variable is not set, importing this module sets it to
    ``../shared/data`` next to the repository root (the folder the scripts use
    when started from the repository root), so they also run from elsewhere;
    worker processes inherit it.
Results
    ``benchmarks/results/<name>.csv`` (and ``.png``): :data:`RESULTS`,
    :func:`results_path`, and the ``--out`` flag of :func:`make_parser`.
"""

from __future__ import annotations

import argparse
import csv
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_DATA_DIR",
    "RESULTS",
    "limit_threads",
    "make_parser",
    "minirocket_accuracy",
    "read_csv",
    "results_path",
    "write_csv",
]

_BENCHMARKS = Path(__file__).resolve().parent

#: Folder of the stored benchmark results.
RESULTS = _BENCHMARKS / "results"

#: Data folder when ``SSLTS_DATA_DIR`` is unset: ``../shared/data`` from the repo root.
DEFAULT_DATA_DIR = _BENCHMARKS.parent.parent / "shared" / "data"

os.environ.setdefault("SSLTS_DATA_DIR", str(DEFAULT_DATA_DIR))

#: Environment variables that size the thread pools of OpenMP, BLAS, numexpr and numba.
_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)


def results_path(name: str, suffix: str = ".csv") -> Path:
    """Path of a stored result, ``benchmarks/results/<name><suffix>``.

    Parameters
    ----------
    name : str
        File name without suffix, e.g. ``"imputation_val"``.
    suffix : str, default=".csv"
        ``".csv"``, ``".png"``...

    Returns
    -------
    Path
        Absolute path inside :data:`RESULTS`.

    Examples
    --------
    >>> results_path("retrieval", ".png").name
    'retrieval.png'
    """
    return RESULTS / f"{name}{suffix}"


def make_parser(
    doc: str,
    *,
    out: str | None = None,
    seed: bool = False,
    threads: int | None = None,
    n_jobs: int | None = None,
) -> argparse.ArgumentParser:
    """Argument parser of a benchmark script, with the shared flags it asks for.

    Parameters
    ----------
    doc : str
        The script's module docstring; its first line is the description.
    out : str, optional
        Add ``--out`` (a path without suffix, default
        ``benchmarks/results/<out>``): the script writes ``<out>.csv`` and,
        where it has them, ``<out>.png`` and ``<out>_<part>.csv`` files.
    seed : bool, default=False
        Add ``--seed`` (int, default 0).
    threads : int, optional
        Add ``--threads`` with this default, for :func:`limit_threads`.
    n_jobs : int, optional
        Add ``--n-jobs`` with this default: data sets run in parallel (joblib).

    Returns
    -------
    argparse.ArgumentParser
        The script adds its own flags and parses.

    Examples
    --------
    >>> parser = make_parser("Title.\\n\\nBody.", out="demo", seed=True)
    >>> args = parser.parse_args(["--seed", "3"])
    >>> args.seed, args.out.name
    (3, 'demo')
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    if out is not None:
        parser.add_argument(
            "--out",
            type=Path,
            default=RESULTS / out,
            help=f"output path without suffix (default: benchmarks/results/{out})",
        )
    if seed:
        parser.add_argument(
            "--seed", type=int, default=0, help="random seed (default: 0)"
        )
    if threads is not None:
        parser.add_argument(
            "--threads",
            type=int,
            default=threads,
            help=f"threads of torch, BLAS and OpenMP (default: {threads})",
        )
    if n_jobs is not None:
        parser.add_argument(
            "--n-jobs",
            type=int,
            default=n_jobs,
            help=f"data sets run in parallel by joblib (default: {n_jobs})",
        )
    return parser


def limit_threads(threads: int = 1) -> None:
    """Limit torch, BLAS and OpenMP to ``threads`` threads, here and in child processes.

    Sets the thread environment variables (read by libraries loaded later and
    by worker processes such as joblib's loky workers), calls
    ``torch.set_num_threads`` and limits the thread pools already loaded
    (threadpoolctl). Called before numpy is imported, it also fixes the pools
    numpy loads.

    Parameters
    ----------
    threads : int, default=1
        Threads per process.
    """
    for name in _THREAD_VARIABLES:
        os.environ[name] = str(threads)
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    threadpool_limits(threads)


def minirocket_accuracy(data: Any, seed: int) -> float:
    """Test accuracy of MiniRocket -> ``StandardScaler(with_mean=False)`` -> ``RidgeClassifierCV``.

    sktime's classical reference for a :class:`sslts.data.datasets.ClassificationData`
    (``MiniRocketMultivariate`` for several channels). The ridge penalty is chosen
    by cross-validation on the training split.
    """
    import numpy as np
    from sklearn.linear_model import RidgeClassifierCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sktime.transformations.panel.rocket import MiniRocket, MiniRocketMultivariate

    rocket = (MiniRocketMultivariate if data.X_train.shape[1] > 1 else MiniRocket)(random_state=seed)
    # Not inside a sklearn Pipeline: sklearn 1.9's Pipeline sets a callback
    # attribute on each step, and sktime's fit() resets (deletes) it, which makes
    # the Pipeline fail on exit.
    features_train = rocket.fit_transform(data.X_train)
    features_test = rocket.transform(data.X_test)
    clf = make_pipeline(StandardScaler(with_mean=False), RidgeClassifierCV(alphas=np.logspace(-3, 3, 10)))
    return float(clf.fit(features_train, data.y_train).score(features_test, data.y_test))


def write_csv(
    path: Path,
    rows: Iterable[Mapping[str, Any]],
    fieldnames: Sequence[str] | None = None,
) -> Path:
    """Write rows to a CSV file with a header line, creating its folder.

    Parameters
    ----------
    path : Path
        File to (over)write.
    rows : iterable of mapping
        One mapping per row. A key missing from a row leaves its cell empty; keys
        not among ``fieldnames`` are not written.
    fieldnames : sequence of str, optional
        Columns in order (default: the keys of the first row). Without rows and
        columns the file is left empty.

    Returns
    -------
    Path
        ``path``.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "demo.csv"
    >>> _ = write_csv(path, [{"method": "a", "score": 0.5}, {"method": "b"}])
    >>> read_csv(path)
    [{'method': 'a', 'score': 0.5}, {'method': 'b'}]
    """
    rows = list(rows)
    columns = list(fieldnames if fieldnames is not None else rows[0] if rows else [])
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        if columns:
            writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
    return path


def read_csv(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a CSV file (as :func:`write_csv` writes them), numbers parsed.

    Parameters
    ----------
    path : str or Path
        CSV file with a header line.

    Returns
    -------
    list of dict
        One dict per row: integers as ``int``, other numbers (``nan`` included)
        as ``float``, the rest as ``str``; empty cells are left out.
    """
    with Path(path).open(newline="") as handle:
        return [
            {key: _parse(value) for key, value in row.items() if value}
            for row in csv.DictReader(handle)
        ]


def per_dataset_rows(
    out: Path, datasets: Iterable[tuple[str, str]], run: Callable[[str, str], dict[str, Any]]
) -> list[dict[str, Any]]:
    """Resumable loop over data sets: one CSV row each, written as soon as it is measured.

    Rows already in ``out`` are kept and their data sets skipped; for every
    other ``(archive, name)`` the row is ``{"dataset": name, **run(archive,
    name), "seconds": ...}`` (wall time of ``run``), appended, written to
    ``out`` and printed.

    Parameters
    ----------
    out : Path
        The CSV file.
    datasets : iterable of (str, str)
        ``(archive, name)`` pairs, e.g. from ``list_classification``.
    run : callable
        ``run(archive, name) -> dict`` of the row's measured columns.

    Returns
    -------
    list of dict
        All rows, the earlier ones first.
    """
    import time

    rows = read_csv(out) if out.exists() else []
    done = {r["dataset"] for r in rows}
    for archive, name in datasets:
        if name in done:
            continue
        start = time.perf_counter()
        row = {"dataset": name, **run(archive, name)}
        row["seconds"] = round(time.perf_counter() - start, 1)
        rows.append(row)
        write_csv(out, rows)
        print(row, flush=True)
    return rows


def print_against(rows: list[dict[str, Any]], labels: Iterable[str], base: str) -> None:
    """Print, per column of ``labels``, its mean and wins / ties / losses against column ``base``."""
    import numpy as np

    reference = np.array([r[base] for r in rows], dtype=float)
    for label in labels:
        values = np.array([r[label] for r in rows], dtype=float)
        wins, losses = int((values > reference).sum()), int((values < reference).sum())
        ties = len(rows) - wins - losses
        print(f"{label:28s} {values.mean():.4f}  vs {base} {wins}/{ties}/{losses}")


def _parse(value: str) -> int | float | str:
    """``value`` as an int, else a float, else unchanged."""
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value
