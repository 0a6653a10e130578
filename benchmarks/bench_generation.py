"""Synthetic-data generation speed: sslts KernelSynth and CauKer vs a naive sampler.

The naive sampler draws each series the way the reference KernelSynth code does:
it composes scikit-learn kernels from the same 36-kernel bank (1..max_kernels
kernels, folded with + or * at random) and calls
``GaussianProcessRegressor(kernel=...).sample_y``, which factorises a new
covariance matrix (by SVD) for every series. For comparison, the published
CauKer code (v1, its CLI defaults) runs at about 12 series/s on one core at
length 512.

Usage::

    python benchmarks/bench_generation.py --length 512 --n 2000 --threads 1

Threads are limited before numpy is imported (:func:`_common.limit_threads`:
environment variables, ``torch.set_num_threads``, threadpoolctl) and the process
is pinned to as many CPUs, so ``--threads 1`` measures one core.
"""

from __future__ import annotations

import argparse
import os
import time

from _common import limit_threads, make_parser


def parse_args() -> argparse.Namespace:
    parser = make_parser(__doc__, seed=True, threads=1)
    add = parser.add_argument
    add("--length", type=int, default=512, help="series length")
    add("--n", type=int, default=2000, help="series per sslts generator")
    add("--naive-n", type=int, default=30, help="series for the naive sampler")
    return parser.parse_args()


def pin_cpus(threads: int) -> str:
    """Pin the process to its first ``threads`` CPUs, limit threads, describe both.

    Must run before numpy is imported (see :func:`_common.limit_threads`).
    """
    cpus = "all"
    if hasattr(os, "sched_setaffinity"):
        pinned = sorted(os.sched_getaffinity(0))[:threads]
        os.sched_setaffinity(0, pinned)
        cpus = ",".join(map(str, pinned))
    limit_threads(threads)

    import torch
    from threadpoolctl import threadpool_info

    pools = [f"{p['internal_api']}={p['num_threads']}" for p in threadpool_info()]
    pools.append(f"torch={torch.get_num_threads()}")
    return f"{threads} thread(s) ({', '.join(pools)}), CPUs {cpus}"


def main() -> None:
    args = parse_args()
    threads = pin_cpus(args.threads)

    import functools

    import numpy as np
    from sklearn.gaussian_process import GaussianProcessRegressor

    from sslts.data import synthetic
    from sslts.data.synthetic import CauKer, KernelSynth

    bank = [k.to_sklearn() for k in synthetic._KERNEL_BANK]

    def naive_kernelsynth(n: int, max_kernels: int = 5) -> np.ndarray:
        rng = np.random.default_rng(args.seed)
        x = np.linspace(0.0, 1.0, args.length)[:, None]
        series = []
        for _ in range(n):
            picks = rng.integers(len(bank), size=rng.integers(1, max_kernels + 1))
            kernel = functools.reduce(
                lambda a, b: a * b if rng.random() < 0.5 else a + b,
                [bank[i] for i in picks],
            )
            gpr = GaussianProcessRegressor(kernel=kernel, optimizer=None)
            seed = int(rng.integers(2**31))
            series.append(gpr.sample_y(x, n_samples=1, random_state=seed).ravel())
        return np.stack(series)

    def timed(fn, n: int) -> tuple[float, np.ndarray]:
        tic = time.perf_counter()
        out = fn(n)
        return time.perf_counter() - tic, out

    # One-off cost per process and length: eigendecomposition of the bank kernels.
    tic = time.perf_counter()
    for kernel in synthetic._KERNEL_BANK:
        if kernel.kind != "white":
            synthetic._kernel_factor(kernel, args.length)
    setup = time.perf_counter() - tic

    rows = [("naive sklearn GP sample_y", *timed(naive_kernelsynth, args.naive_n))]
    generators = {
        "sslts KernelSynth": KernelSynth(args.length, random_state=args.seed),
        "sslts CauKer (18 nodes, 4 outputs)": CauKer(
            args.length, random_state=args.seed
        ),
    }
    for name, gen in generators.items():
        gen.generate(200)  # warm the product-sampler cache a little
        rows.append((name, *timed(functools.partial(gen.generate, start=200), args.n)))

    print(f"length {args.length}, {threads}")
    print(f"one-off setup (factorising the kernel bank): {setup:.2f} s\n")
    naive_rate = args.naive_n / rows[0][1]
    header = ("generator", "series", "seconds", "series/s", "vs naive")
    print("{:<36} {:>7} {:>8} {:>9} {:>9}".format(*header))
    for name, seconds, series in rows:
        assert np.isfinite(series).all(), name
        rate = len(series) / seconds
        ratio = f"{rate / naive_rate:.0f}x"
        print(f"{name:<36} {len(series):>7} {seconds:>8.2f} {rate:>9.1f} {ratio:>9}")


if __name__ == "__main__":
    main()
