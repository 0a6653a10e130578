"""Embedding a panel larger than memory: peak RSS and speed of ``sslts.stream_transform``.

What it measures
----------------
A ``(--n-series, --length)`` float32 ``.npy`` file of synthetic series
(noisy sinusoids on a random walk, seeded, written chunk by chunk so the
writer stays small; 2 GB at the defaults) is embedded by
``stream_transform(TSPulseEmbedder().fit(first --fit-size series), path,
out=np.lib.format.open_memmap(...))`` (the default checkpoint and read-out:
290 float32 features per series). Each measurement runs in a fresh child
process, so that its peak resident set size (``VmHWM`` of
``/proc/self/status``, the whole child: Python, torch, the model and the
chunks) is that of the embedding alone.

Throughput is compared on the first ``--subset`` series (a file of its own):

``in-memory``
    ``emb.transform(X)`` with ``X`` the subset loaded into memory (loading
    not timed).
``streaming``
    ``stream_transform(emb, subset_path, out=open_memmap(...))``.
``streaming n_jobs=N``
    The same with ``--n-jobs`` loky processes (skipped with ``--n-jobs 0``);
    each worker has ``--threads`` threads. The peak RSS reported is the
    parent's.
``streaming, all series``
    The whole file.

Each subset case runs ``--repeats`` times, round-robin (background load on a
shared machine then hits all alike); the best time is kept. Reported per row:
seconds, series/s, peak RSS (MiB), series/s relative to ``in-memory``, and
whether the output equals the in-memory output bit for bit (for the whole
file: its first ``--subset`` rows).

How to run
----------
From the repository root::

    nice -n 10 python benchmarks/bench_streaming.py            # 1M series, 2 GB
    python benchmarks/bench_streaming.py --n-series 20000 --subset 5000

The files go to ``--workdir`` (default: a new temporary folder) and are
deleted at the end (``--keep`` keeps them). The script checks the free disk
space first. Results go to ``<out>.csv`` (default
``benchmarks/results/streaming.csv``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import limit_threads, make_parser, write_csv

#: Output width of the default TSPulseEmbedder for one channel.
_WIDTH = 290

#: Rows generated per chunk when writing the input file.
_WRITE_ROWS = 16384

_COLUMNS = [
    "case",
    "n_series",
    "length",
    "chunk_size",
    "n_jobs",
    "threads",
    "seconds",
    "series_per_s",
    "peak_rss_mib",
    "rss_before_mib",
    "speed_vs_in_memory",
    "identical",
]


def _status_mib(field: str) -> float:
    """A memory field of ``/proc/self/status`` (``VmHWM``, ``VmRSS``) in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status (Linux only)")


def write_panel(path: Path, n_series: int, length: int, seed: int) -> None:
    """Write ``(n_series, length)`` float32 synthetic series as ``.npy``, chunk by chunk.

    Row ``i`` depends on ``seed`` and ``i`` only, so a smaller file holds the
    first rows of a larger one.
    """
    import numpy as np

    t = np.arange(length, dtype=np.float32)
    with open(path, "wb") as file:
        np.lib.format.write_array_header_2_0(
            file,
            {
                "descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
                "fortran_order": False,
                "shape": (n_series, length),
            },
        )
        for start in range(0, n_series, _WRITE_ROWS):
            # a whole block is drawn from its own seed, then cut: row i depends on i only
            rng = np.random.default_rng([seed, start])
            shape = (_WRITE_ROWS, 1)
            freq = rng.uniform(0.01, 0.4, shape).astype(np.float32)
            phase = rng.uniform(0, 2 * np.pi, shape).astype(np.float32)
            amplitude = rng.lognormal(0.0, 1.0, shape).astype(np.float32)
            noise = rng.normal(0, 0.1, (_WRITE_ROWS, length)).astype(np.float32)
            values = amplitude * np.sin(freq * t + phase) + np.cumsum(noise, axis=1)
            file.write(values[: n_series - start].astype(np.float32).tobytes())


# ---------------------------------------------------------------- the child
def _child(task: dict) -> dict:
    """One measurement, in a fresh process; returns the numbers as a dict."""
    limit_threads(task["threads"])
    import numpy as np

    from sslts import TSPulseEmbedder, stream_transform

    source = np.load(task["input"], mmap_mode="r")
    fit_rows = np.array(source[: task["fit_size"]])
    del source  # the pages read stay resident while the mapping lives
    emb = TSPulseEmbedder(device="cpu").fit(fit_rows)
    emb.transform(fit_rows[:256])  # warm-up
    del fit_rows
    n_series, length = np.load(task["input"], mmap_mode="r").shape
    before = _status_mib("VmRSS")
    if task["case"] == "in-memory":
        X = np.load(task["input"])  # loading is not timed: the stricter reference
        start = time.perf_counter()
        Z = emb.transform(X)
        seconds = time.perf_counter() - start
        np.save(task["output"], Z)
    else:
        out = np.lib.format.open_memmap(
            task["output"], mode="w+", dtype=np.float32, shape=(n_series, _WIDTH)
        )
        start = time.perf_counter()
        stream_transform(
            emb,
            task["input"],
            chunk_size=task["chunk_size"],
            out=out,
            n_jobs=task["n_jobs"],
        )
        seconds = time.perf_counter() - start
        del out
    return {
        "n_series": n_series,
        "length": length,
        "seconds": seconds,
        "series_per_s": n_series / seconds,
        "peak_rss_mib": _status_mib("VmHWM"),
        "rss_before_mib": before,
    }


def _run_child(task: dict) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", json.dumps(task)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"child {task['case']} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _same(a: Path, b: Path, rows: int) -> bool:
    import numpy as np

    x, y = np.load(a, mmap_mode="r"), np.load(b, mmap_mode="r")
    return bool(np.array_equal(x[:rows], y[:rows]))


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(_child(json.loads(sys.argv[2]))))
        return
    parser = make_parser(__doc__, out="streaming", seed=True, threads=1)
    parser.add_argument(
        "--n-series",
        type=int,
        default=1_000_000,
        help="series in the large file (default: 1000000)",
    )
    parser.add_argument(
        "--length", type=int, default=512, help="time points per series (default: 512)"
    )
    parser.add_argument(
        "--subset",
        type=int,
        default=50_000,
        help="series of the in-memory comparison (default: 50000)",
    )
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=None,
        help="rows per chunk (default: sslts.streaming.default_chunk_size)",
    )
    parser.add_argument(
        "--n-jobs",
        type=int,
        default=2,
        help="processes of the parallel case, 0 to skip (default: 2)",
    )
    parser.add_argument(
        "--fit-size",
        type=int,
        default=1000,
        help="series the embedder's statistics are fitted on (default: 1000)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="runs of each subset case, best kept (default: 1)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="folder of the data files (default: a new temporary folder)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the data files")
    args = parser.parse_args()
    if not 0 < args.subset <= args.n_series or args.fit_size > args.subset:
        parser.error("need fit-size <= subset <= n-series")

    workdir = Path(
        tempfile.mkdtemp(prefix="sslts-stream-")
        if args.workdir is None
        else args.workdir
    )
    workdir.mkdir(parents=True, exist_ok=True)
    row_in, row_out = 4 * args.length, 4 * _WIDTH
    subset_outputs = (2 + (args.n_jobs > 0)) * args.subset * row_out
    need = (
        (args.n_series + args.subset) * row_in
        + args.n_series * row_out
        + subset_outputs
    )
    free = shutil.disk_usage(workdir).free
    if free < need + 2**30:
        sys.exit(
            f"{workdir} has {free / 2**30:.1f} GiB free; this run writes "
            f"{need / 2**30:.1f} GiB (plus 1 GiB of margin): use --workdir elsewhere "
            "or fewer --n-series"
        )
    try:
        large, subset = workdir / "panel.npy", workdir / "subset.npy"
        start = time.perf_counter()
        write_panel(large, args.n_series, args.length, args.seed)
        write_panel(subset, args.subset, args.length, args.seed)
        print(
            f"wrote {large} ({large.stat().st_size / 2**30:.2f} GiB) in "
            f"{time.perf_counter() - start:.0f} s",
            flush=True,
        )

        common = {
            "threads": args.threads,
            "fit_size": args.fit_size,
            "chunk_size": args.chunk_size,
        }
        cases = [("in-memory", 1), ("streaming", 1)]
        if args.n_jobs > 0:
            cases.append((f"streaming n_jobs={args.n_jobs}", args.n_jobs))
        best: dict[str, dict] = {}
        for _ in range(args.repeats):
            for case, n_jobs in cases:
                task = {
                    **common,
                    "case": case,
                    "n_jobs": n_jobs,
                    "input": str(subset),
                    "output": str(workdir / f"out-{case.replace(' ', '_')}.npy"),
                }
                result = {**_run_child(task), "case": case, "n_jobs": n_jobs}
                print(json.dumps(result), flush=True)
                if case not in best or result["seconds"] < best[case]["seconds"]:
                    best[case] = result
        task = {
            **common,
            "case": "streaming, all series",
            "n_jobs": 1,
            "input": str(large),
            "output": str(workdir / "out-all.npy"),
        }
        result = {**_run_child(task), "case": "streaming, all series", "n_jobs": 1}
        print(json.dumps(result), flush=True)
        best[result["case"]] = result

        reference = workdir / "out-in-memory.npy"
        rows = []
        for case, row in best.items():
            output = workdir / (
                "out-all.npy"
                if case == "streaming, all series"
                else f"out-{case.replace(' ', '_')}.npy"
            )
            rows.append(
                {
                    **row,
                    "chunk_size": args.chunk_size or "default",
                    "threads": args.threads,
                    "seconds": round(row["seconds"], 2),
                    "series_per_s": round(row["series_per_s"], 1),
                    "peak_rss_mib": round(row["peak_rss_mib"], 1),
                    "rss_before_mib": round(row["rss_before_mib"], 1),
                    "speed_vs_in_memory": round(
                        row["series_per_s"] / best["in-memory"]["series_per_s"], 3
                    ),
                    "identical": _same(output, reference, args.subset),
                }
            )
        path = write_csv(args.out.with_suffix(".csv"), rows, _COLUMNS)
        for row in rows:
            print(", ".join(f"{key}={row[key]}" for key in _COLUMNS))
        print(f"wrote {path}")
    finally:
        if not args.keep:
            for name in (
                "panel.npy",
                "subset.npy",
                "out-all.npy",
                "out-in-memory.npy",
                "out-streaming.npy",
                f"out-streaming_n_jobs={args.n_jobs}.npy",
            ):
                (workdir / name).unlink(missing_ok=True)
            if args.workdir is None:
                shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
