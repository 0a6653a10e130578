"""Inference over panels larger than memory: chunks read from disk, optionally in parallel.

:func:`stream_transform` runs a fitted panel estimator's ``transform``,
``predict``, ``predict_proba``, ``predict_log_proba`` or
``decision_function`` over a panel held in a numpy memory map, a ``.npy``
file or an iterator of batches, one chunk of rows at a time, so that the
memory it needs is that of one chunk (plus the output, which can itself be a
memory map on disk). It guarantees:

* **Same numbers.** Chunks hold a multiple of every batch size of the
  estimator (see :func:`default_chunk_size`), so the batches the model sees
  are exactly those of one in-memory call, and the output is bit-identical to
  ``getattr(estimator, method)(np.asarray(X))``.
* **Same numbers for any** ``n_jobs``. Chunk boundaries depend on
  ``chunk_size`` only; workers receive the fitted estimator and where their
  rows lie in the file, never the data.
* **Bounded memory.** Pages of a memory map that a process has read count in
  its resident set size (RSS) for as long as the mapping lives. Chunks of a
  file-backed input are therefore read with plain file reads at their byte
  offset (the caller's mapping is never touched), and rows for a file-backed
  ``out`` are written the same way.

Estimators stream by themselves: the embedders' ``transform`` (decorated with
:func:`streams_memmaps`) routes an ``np.memmap`` with more rows than one chunk
through :func:`stream_transform`, returning the output in memory.
"""

from __future__ import annotations

import functools
import math
import mmap
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted
from tqdm.auto import tqdm

__all__ = ["default_chunk_size", "stream_transform", "streams_memmaps"]

#: The methods with one output row per input series that can be streamed.
PANEL_METHODS = (
    "transform",
    "predict",
    "predict_proba",
    "predict_log_proba",
    "decision_function",
)

#: Smallest default chunk, in rows (a few MB for univariate series of length 512).
_MIN_CHUNK_ROWS = 4096

#: Inference batch sizes used whatever the ``batch_size`` parameter says
#: (``TSPulseClassifier`` predicts in batches of at least 256 windows).
_FIXED_BATCH_SIZES = (256,)


# ------------------------------------------------------------------ chunks
@dataclass(frozen=True)
class _FileRows:
    """Rows ``start:stop`` of a C-ordered array stored at byte ``offset`` of a file."""

    filename: str
    offset: int
    dtype: np.dtype
    row_shape: tuple[int, ...]
    start: int
    stop: int

    def read(self) -> np.ndarray:
        """The rows, read into a new in-memory array (no mapping left behind)."""
        items = math.prod(self.row_shape)
        count = (self.stop - self.start) * items
        values = np.fromfile(
            self.filename,
            dtype=self.dtype,
            count=count,
            offset=self.offset + self.start * items * self.dtype.itemsize,
        )
        if values.size != count:
            raise ValueError(
                f"{self.filename} ended before row {self.stop} (read {values.size} of "
                f"{count} values); was it truncated?"
            )
        return values.reshape(self.stop - self.start, *self.row_shape)


@dataclass(frozen=True)
class _FileSink:
    """Writes rows into a C-ordered array stored at byte ``offset`` of a file."""

    filename: str
    offset: int
    dtype: np.dtype
    row_shape: tuple[int, ...]

    def write(self, start: int, values: np.ndarray) -> None:
        values = np.ascontiguousarray(values, dtype=self.dtype)
        row_bytes = math.prod(self.row_shape) * self.dtype.itemsize
        with open(self.filename, "r+b") as file:
            file.seek(self.offset + start * row_bytes)
            file.write(memoryview(values).cast("B"))


def _file_layout(array: np.ndarray) -> tuple[str, int] | None:
    """``(file name, byte offset of row 0)`` of a C-contiguous ``np.memmap``, else None.

    Works for slices that keep the rows contiguous (``X[1000:5000]``); the
    offset of such a view is found from its address inside the mapping.
    Returns None for anything else: strided views, Fortran order, memmaps
    whose mapping numpy does not expose, and copy-on-write memmaps (mode
    ``"c"``), whose changed values live in the mapping only.
    """
    filename = getattr(array, "filename", None)
    mapping = getattr(array, "_mmap", None)
    if (
        not isinstance(array, np.memmap)
        or getattr(array, "mode", None) not in ("r", "r+", "w+")
        or filename is None
        or not isinstance(mapping, mmap.mmap)
        or not array.flags.c_contiguous
        or array.size == 0
    ):
        return None
    try:
        base = np.frombuffer(mapping, dtype=np.uint8)
    except (TypeError, ValueError, BufferError):
        return None
    # np.memmap maps from the offset rounded down to the allocation granularity
    mapped_from = array.offset - array.offset % mmap.ALLOCATIONGRANULARITY
    offset = mapped_from + array.ctypes.data - base.ctypes.data
    del base
    return os.fspath(filename), int(offset)


def _row_chunks(n_rows: int, chunk_size: int) -> list[tuple[int, int]]:
    return [
        (start, min(start + chunk_size, n_rows))
        for start in range(0, n_rows, chunk_size)
    ]


def _open_npy(path: str | os.PathLike) -> np.ndarray:
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"X: cannot memory-map {os.fspath(path)!r} as a .npy file ({exc})"
        ) from exc
    if not isinstance(array, np.ndarray):
        raise TypeError(
            f"X: {os.fspath(path)!r} holds several arrays (.npz); pass one of them "
            "(np.load(path, mmap_mode='r')[name] is not memory-mapped: save it as .npy)"
        )
    return array


# ------------------------------------------------------------- the worker
def _chunk_output(
    estimator: Any,
    method: str,
    rows: _FileRows | np.ndarray | Any,
    sink: _FileSink | None,
    start: int,
) -> np.ndarray | None:
    """``method`` on one chunk; written to ``sink`` (then None) or returned."""
    values = rows.read() if isinstance(rows, _FileRows) else rows
    result = np.asarray(getattr(estimator, method)(values))
    del values
    if sink is None:
        return result
    sink.write(start, result)
    return None


# ------------------------------------------------------------------ checks
def default_chunk_size(estimator: Any) -> int:
    """Rows per chunk that keep the estimator's batches as in one in-memory call.

    The smallest multiple of every batch size the estimator uses (its
    ``batch_size`` parameters, nested ones included, those of fitted
    sub-estimators such as an ``encoder_``, and the fixed inference batch
    of 256 of ``TSPulseClassifier``) that holds at least 4096 rows.

    Parameters
    ----------
    estimator : estimator instance
        A fitted panel estimator, or a pipeline of them.

    Returns
    -------
    int

    Examples
    --------
    >>> from sslts import TSPulseEmbedder
    >>> default_chunk_size(TSPulseEmbedder())
    4096
    >>> default_chunk_size(TSPulseEmbedder(batch_size=200))  # lcm(200, 256) = 6400
    6400
    """
    sizes = set(_FIXED_BATCH_SIZES)
    owners = [estimator]
    owners += [
        value for value in vars(estimator).values() if isinstance(value, BaseEstimator)
    ]
    for owner in owners:
        if not hasattr(owner, "get_params"):
            continue
        for name, value in owner.get_params(deep=True).items():
            if (
                (name == "batch_size" or name.endswith("__batch_size"))
                and isinstance(value, (int, np.integer))
                and value > 0
            ):
                sizes.add(int(value))
    step = math.lcm(*sizes)
    return step * max(1, -(-_MIN_CHUNK_ROWS // step))


def _check_estimator(estimator: Any, method: str) -> None:
    if method not in PANEL_METHODS:
        raise ValueError(
            f"method must be one of {', '.join(map(repr, PANEL_METHODS))}; got {method!r}"
        )
    name = type(estimator).__name__
    if not callable(getattr(estimator, method, None)):
        raise TypeError(f"method={method!r}: {name} has no method {method!r}")
    if getattr(estimator, "_input_kind", "panel") == "series":
        raise ValueError(
            f"{name} works on one long series (an anomaly detector or imputer): its "
            "windows would be cut at chunk boundaries, so it cannot be streamed; call "
            f"{name}.{method} on the series"
        )
    check_is_fitted(estimator)


def _check_chunk_size(chunk_size: Any, estimator: Any) -> int:
    if chunk_size is None:
        return default_chunk_size(estimator)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)):
        raise TypeError(
            f"chunk_size must be an int or None; got {type(chunk_size).__name__}"
        )
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1; got {chunk_size}")
    return int(chunk_size)


def _check_out(out: Any, n_rows: int | None) -> None:
    if out is None:
        return
    if not isinstance(out, np.ndarray):
        raise TypeError(
            f"out must be a numpy array or memmap; got {type(out).__name__}"
        )
    if not out.flags.writeable:
        raise ValueError("out must be writeable (open a memmap with mode 'w+' or 'r+')")
    if n_rows is not None and (out.ndim == 0 or out.shape[0] != n_rows):
        raise ValueError(
            f"out must have one row per series of X ({n_rows}); got shape {out.shape}"
        )


def _check_out_matches(out: np.ndarray, first: np.ndarray, n_rows: int | None) -> None:
    """``out`` against the first chunk's output: row shape and dtype."""
    expected = ((n_rows if n_rows is not None else out.shape[0]), *first.shape[1:])
    if out.shape != expected:
        raise ValueError(
            f"out must have shape {expected} (one row per series); got {out.shape}"
        )
    if not np.can_cast(first.dtype, out.dtype, casting="safe"):
        raise ValueError(
            f"out must have dtype {first.dtype} (or one it casts to safely); got {out.dtype}"
        )


def _sink_for(out: np.ndarray | None) -> _FileSink | None:
    """A file writer for ``out`` when it is a writable, file-backed memmap."""
    if out is None or getattr(out, "mode", None) not in ("r+", "w+"):
        return None
    layout = _file_layout(out)
    if layout is None:
        return None
    return _FileSink(layout[0], layout[1], out.dtype, out.shape[1:])


# ------------------------------------------------------------------ public
def stream_transform(
    estimator: Any,
    X: np.ndarray | str | os.PathLike | Iterable[Any],
    *,
    method: str = "transform",
    chunk_size: int | None = None,
    out: np.ndarray | None = None,
    n_jobs: int | None = None,
    verbose: bool = False,
) -> np.ndarray:
    """Apply a fitted panel estimator's ``method`` to ``X`` one chunk of rows at a time.

    Parameters
    ----------
    estimator : estimator instance
        A fitted panel estimator (an embedder, ``TSPulseClassifier``,
        ``AnomalyPredictor``) or a scikit-learn pipeline of them. Series
        estimators (anomaly detectors, the imputer) are refused: cutting one
        series into chunks would cut its windows.
    X : ndarray, np.memmap, path of a .npy file, or iterator of batches
        A 2D ``(n_instances, n_timepoints)`` or 3D ``(n_instances,
        n_channels, n_timepoints)`` array or memory map; the path of a
        ``.npy`` file holding one (opened read-only, memory-mapped); or an
        iterator (a generator, ``iter(list_of_batches)``...) whose items are
        panels the estimator accepts, processed one by one as they come. A
        list or tuple is refused as ambiguous (one ragged panel, or a list of
        batches): pass ``iter(batches)`` for batches.
    method : {"transform", "predict", "predict_proba", "predict_log_proba", \
            "decision_function"}, default="transform"
        The method to apply; it must give one output row per series.
    chunk_size : int or None, default=None
        Rows per chunk of an array, memory map or file (ignored for an
        iterator, whose batches are the chunks). None takes
        :func:`default_chunk_size`, with which the output is bit-identical to
        the in-memory call; other values give the same output up to float
        rounding (the model's batches are then split differently).
    out : ndarray or np.memmap, optional
        Receives the output rows: shape ``(n_instances, ...)`` as the
        in-memory call returns, with its dtype or one it casts to safely. A
        memory map opened with mode ``"w+"`` or ``"r+"`` (for example by
        ``np.lib.format.open_memmap``) is written through the file, so a
        large output never has to fit in memory. None returns a new in-memory
        array.
    n_jobs : int or None, default=None
        Chunks processed in parallel by joblib (processes with the default
        ``loky`` backend, or the backend set with
        ``joblib.parallel_config``); None means 1, -1 all CPUs. The output
        does not depend on it. Each worker receives the fitted estimator and
        where its rows lie in the file, and writes its rows itself into a
        file-backed ``out``. loky gives each worker ``cpu_count // n_jobs``
        threads; ``joblib.parallel_config(backend="loky",
        inner_max_num_threads=...)`` sets another number.
    verbose : bool, default=False
        Show a progress bar (chunks done).

    Returns
    -------
    ndarray
        ``out`` when given, otherwise the output in memory: the rows of
        ``getattr(estimator, method)`` for every series, in order.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``estimator`` is not fitted.
    ValueError
        For an unknown ``method``, a series estimator, an array that is not
        2D or 3D, an empty ``X``, ``chunk_size < 1``, or an ``out`` of the
        wrong shape or dtype, or read-only.
    TypeError
        For an estimator without ``method``, a list or tuple ``X``, a
        ``chunk_size`` that is not an integer, or an ``out`` that is not an
        array.

    Notes
    -----
    Chunks of a file-backed ``X`` (a C-ordered memmap, a contiguous row
    slice of one, or a ``.npy`` file) are read from the file with
    ``np.fromfile`` at their byte offset: the process never maps the whole
    file, and its resident memory stays that of one chunk (per worker).
    Other memory maps (strided views, Fortran order, copy-on-write mode
    ``"c"``) are read by slicing them: the output is the same, but the pages
    read stay resident in the caller's mapping until it is closed, so memory
    is not bounded then.

    Examples
    --------
    >>> import numpy as np
    >>> from sslts import TSPulseEmbedder
    >>> from sslts.streaming import stream_transform
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((300, 64)).astype(np.float32)
    >>> emb = TSPulseEmbedder(pretrained="tspulse-tiny-random").fit(X)
    >>> Z = stream_transform(emb, X, chunk_size=128)
    >>> Z.shape, np.allclose(Z, emb.transform(X), atol=1e-5)
    ((300, 150), True)
    """
    _check_estimator(estimator, method)
    chunk_size = _check_chunk_size(chunk_size, estimator)
    if isinstance(X, (str, os.PathLike)):
        X = _open_npy(X)
    if isinstance(X, np.ndarray):
        return _stream_array(estimator, X, method, chunk_size, out, n_jobs, verbose)
    if isinstance(X, (list, tuple)):
        raise TypeError(
            "X: a list or tuple is ambiguous (one ragged panel, or a list of batches); "
            "pass iter(batches) to stream batches, or call the estimator on one panel"
        )
    if (
        isinstance(X, Iterable)
        and not hasattr(X, "columns")
        and not hasattr(X, "index")
    ):
        return _stream_batches(estimator, iter(X), method, out, n_jobs, verbose)
    raise TypeError(
        "X must be an array, a memmap, the path of a .npy file or an iterator of "
        f"batches; got {type(X).__name__}"
    )


def _stream_array(
    estimator: Any,
    X: np.ndarray,
    method: str,
    chunk_size: int,
    out: np.ndarray | None,
    n_jobs: int | None,
    verbose: bool,
) -> np.ndarray:
    if X.ndim not in (2, 3):
        raise ValueError(
            "X must be 2D (n_instances, n_timepoints) or 3D (n_instances, n_channels, "
            f"n_timepoints); got an array of shape {X.shape}"
        )
    n_rows = X.shape[0]
    if n_rows == 0 or X.size == 0:
        raise ValueError(f"X holds no series (shape {X.shape})")
    _check_out(out, n_rows)
    layout = _file_layout(X) if isinstance(X, np.memmap) else None

    def rows(start: int, stop: int) -> _FileRows | np.ndarray:
        if layout is not None:
            return _FileRows(layout[0], layout[1], X.dtype, X.shape[1:], start, stop)
        # np.array: a copy as a plain ndarray (not a memmap view)
        return np.array(X[start:stop]) if isinstance(X, np.memmap) else X[start:stop]

    chunks = _row_chunks(n_rows, chunk_size)
    progress = tqdm(total=len(chunks), disable=not verbose, desc=f"{method} (chunks)")
    try:
        first = _chunk_output(estimator, method, rows(*chunks[0]), None, 0)
        progress.update()
        if out is None:
            out = np.empty((n_rows, *first.shape[1:]), dtype=first.dtype)
        _check_out_matches(out, first, n_rows)
        sink = _sink_for(out)
        _store(out, sink, 0, first)
        del first
        rest = chunks[1:]
        tasks = (
            (estimator, method, rows(start, stop), sink, start) for start, stop in rest
        )
        for (start, _), result in zip(rest, _run(tasks, n_jobs)):
            if result is not None:
                _store(out, None, start, result)
            progress.update()
    finally:
        progress.close()
    return out


def _stream_batches(
    estimator: Any,
    batches: Iterator[Any],
    method: str,
    out: np.ndarray | None,
    n_jobs: int | None,
    verbose: bool,
) -> np.ndarray:
    _check_out(out, None)
    sink = _sink_for(out)
    parts: list[np.ndarray] = []
    start = 0
    tasks = ((estimator, method, batch, None, 0) for batch in batches)
    with tqdm(disable=not verbose, desc=f"{method} (batches)") as progress:
        for result in _run(tasks, n_jobs):
            if out is None:
                parts.append(result)
            else:
                if start == 0:
                    _check_out_matches(out, result, None)
                if start + len(result) > len(out):
                    raise ValueError(
                        f"out has {len(out)} rows, but X has more series "
                        f"({start + len(result)} so far)"
                    )
                _store(out, sink, start, result)
            start += len(result)
            progress.update()
    if start == 0:
        raise ValueError("X yielded no batch (an empty iterator)")
    if out is None:
        return np.concatenate(parts)
    if start != len(out):
        raise ValueError(f"out has {len(out)} rows, but X held {start} series")
    return out


def _store(
    out: np.ndarray, sink: _FileSink | None, start: int, values: np.ndarray
) -> None:
    if sink is not None:
        sink.write(start, values)
    else:
        out[start : start + len(values)] = values


def _run(
    tasks: Iterable[tuple[Any, ...]], n_jobs: int | None
) -> Iterator[np.ndarray | None]:
    """``_chunk_output`` over ``tasks``, in order: serially or with joblib."""
    if effective_n_jobs(n_jobs) == 1:
        return (_chunk_output(*task) for task in tasks)
    parallel = Parallel(n_jobs=n_jobs, return_as="generator")
    return parallel(delayed(_chunk_output)(*task) for task in tasks)


# --------------------------------------------------------- estimator side
def streams_memmaps(method: Callable[..., Any]) -> Callable[..., Any]:
    """Make an estimator's panel ``method(X)`` stream a large ``np.memmap``.

    When ``X`` is an ``np.memmap`` (2D or 3D) with more rows than
    :func:`default_chunk_size`, the decorated method runs through
    :func:`stream_transform` (output in memory, bit-identical); any other
    input goes to the method as is.

    Parameters
    ----------
    method : callable
        A method ``(self, X)`` from :data:`PANEL_METHODS`.

    Returns
    -------
    callable
    """

    @functools.wraps(method)
    def streamed(self: Any, X: Any, *args: Any, **kwargs: Any) -> Any:
        if (
            not args
            and not kwargs
            and isinstance(X, np.memmap)
            and X.ndim in (2, 3)
            and X.shape[0] > default_chunk_size(self)
        ):
            return stream_transform(self, X, method=method.__name__)
        return method(self, X, *args, **kwargs)

    return streamed
