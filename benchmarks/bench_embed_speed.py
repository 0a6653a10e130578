"""Embedding throughput and memory of sslts's TSPulse against granite-tsfm's TSPulse.

What it measures
----------------
Series embedded per second on the CPU, in one process, with ``--threads``
threads (torch, BLAS and OpenMP), random weights, under
``torch.inference_mode()``, for univariate windows of ``--context-length``
points in batches of ``--batch-size``:

``sslts TSPulse.embed``
    ``sslts.models.TSPulse(TSPulseConfig())`` (the default "r1-like"
    configuration, about 0.96M parameters) through
    ``model.embed(x, kind="semantic")``: RevIN, patch and FFT embeddings,
    backbone and mini decoder, register ("semantic") tokens out.
``sslts TSPulse.embed, bf16 autocast``
    The same call under ``torch.autocast("cpu", dtype=torch.bfloat16)``
    (matrix products in bfloat16, weights stored in float32). It pays on CPUs
    with native bfloat16 instructions (AVX512_BF16 or AMX) and on GPUs;
    elsewhere it is slower. Skipped with ``--no-bf16``.
``sslts TSPulse.embed, bf16 autocast, torch.compile`` (``--compile`` only)
    The bf16 case through ``torch.compile(..., dynamic=False)`` (inductor's
    fused CPU kernels). Not something the estimators do: it shows what
    kernel fusion would buy, and the note gives the compile time of the first
    call.
``sslts TSPulseEmbedder``
    ``sslts.TSPulseEmbedder(pretrained=None, device="cpu").fit(X).transform(X)``
    end to end on a numpy ``(--embedder-series, context_length)`` float32 panel
    (numpy in, numpy out: validation, windowing, model build, batching,
    pooling).
``granite backbone+decoder`` (the reference of the ratios)
    granite-tsfm's ``TSPulseForReconstruction`` configured r1-like (context
    512, patch 8 / stride 8, ``d_model`` 24, 10 register tokens, FFT branch,
    2 decoder layers of ``d_model`` 24, one channel, the same heads as ours:
    reconstruction, FFT, FFT-probability and a 32-point forecast head), with
    the encoder ``num_layers`` chosen so that its parameter count is closest
    to ours (``--ref-layers`` overrides). Only the work that yields the
    embedding is timed: ``model.backbone(x)`` then
    ``model.decoder_with_head.decoder(...)``, register tokens sliced out.
    ``mask_ratio=None`` and ``mask_type="block"`` mean that no masker is
    built, so nothing is masked at inference (as in our eval mode).
``granite get_embeddings``
    granite's own helper ``tsfm_public.models.tspulse.utils.helpers.get_embeddings``
    (``component="decoder"``, ``mode="register"``) on the same model: the full
    forward pass including the heads and losses, which is what a granite user
    gets when asking for embeddings.
``granite backbone+decoder, bf16 autocast``
    The reference under the same autocast (skipped with ``--no-bf16``).
``granite backbone+decoder, depth-matched``
    The same reference with as many encoder layers as ours
    (``TSPulseConfig.n_layers``): same depth, more parameters (granite's heads
    are MLPs, so at equal parameter count it has fewer mixer layers).

Timing: every case is warmed up (``--warmup`` calls), then ``--repeats``
rounds are run in which each case is timed once, round-robin, so that
background load on a shared machine hits all cases alike. Reported: median
and best series/s over the rounds, and ratios ours / reference (equal
parameters) for both. The reference is optional: when ``tsfm_public`` cannot
be imported only our lines are printed.

Peak memory: measured for each case in a fresh subprocess, as the rise of the
process's resident set size (RSS) during one call, above the RSS just before
it (model, weights and input already allocated, two warm-up calls done). The
subprocess runs with glibc's ``MALLOC_MMAP_THRESHOLD_=65536``: every buffer
of 64 KiB or more is then mapped on allocation and unmapped when freed, so
freed tensors do not linger in the heap and the RSS high-water mark follows
the largest set of live buffers in the call (small-object heap growth is
included; this is an upper bound of what the tensors need at once). The peak
is read from ``VmHWM`` after resetting it with ``/proc/self/clear_refs``
(Linux); elsewhere a 1 ms ``psutil`` RSS sampler is used, which can miss
short peaks. ``tracemalloc`` is not used: it does not see torch's
allocations.

How to run
----------
From the repository root, in an environment with this package installed
(and, for the reference, ``granite-tsfm``, ``transformers``, ``psutil``)::

    python benchmarks/bench_embed_speed.py
    python benchmarks/bench_embed_speed.py --threads 2 --batch-size 256 \\
        --repeats 20 --out benchmarks/results/embed_speed.csv

Use ``--no-memory`` to skip the subprocesses and ``--no-reference`` to time
ours only. Results go to ``<out>.csv`` (default
``benchmarks/results/embed_speed.csv``, folder created). Numbers from a
machine that is busy with other work are meaningless (with two OpenMP
threads on two busy cores every parallel region can wait a whole scheduler
time slice): the script prints how many CPUs other processes kept busy
during the timing (also in the CSV), and ``--wait-idle SECONDS`` makes it
wait for an idle machine first.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from _common import limit_threads, make_parser, write_csv

SSLTS_EMBED = "sslts TSPulse.embed"
SSLTS_EMBEDDER = "sslts TSPulseEmbedder"
BF16 = ", bf16 autocast"
COMPILED = ", torch.compile"
REF = "granite backbone+decoder"
REF_HELPER = "granite get_embeddings"
REF_DEPTH = "granite backbone+decoder, depth-matched"


@dataclass
class Case:
    """One timed callable with what the table reports about it."""

    name: str
    fn: Callable[[], object]
    n_series: int
    n_params: int
    mixer_layers: int
    note: str = ""
    times: list[float] = field(default_factory=list)
    peak_mib: float | None = None

    def rates(self) -> tuple[float, float]:
        """(median, best) series per second."""
        return (
            self.n_series / statistics.median(self.times),
            self.n_series / min(self.times),
        )


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ----------------------------------------------------------------------- ours
def build_ours(args: argparse.Namespace) -> tuple[torch.nn.Module, torch.Tensor]:
    from sslts.models import TSPulse, TSPulseConfig

    torch.manual_seed(0)
    model = TSPulse(TSPulseConfig(context_length=args.context_length)).eval()
    x = torch.randn(
        args.batch_size,
        1,
        args.context_length,
        generator=torch.Generator().manual_seed(1),
    )
    return model, x


def ours_cases(args: argparse.Namespace, names: set[str]) -> list[Case]:
    cases = []
    model, x = build_ours(args)
    cfg = model.config
    layers = cfg.n_layers + cfg.n_decoder_layers

    def embed() -> torch.Tensor:
        return model.embed(x, kind="semantic")

    if SSLTS_EMBED in names:
        out = embed_once(embed)
        assert out.shape == (args.batch_size, 1, cfg.n_registers * cfg.d_model), (
            out.shape
        )
        cases.append(Case(SSLTS_EMBED, embed, args.batch_size, n_params(model), layers))
    if SSLTS_EMBED + BF16 in names:
        cases.append(
            Case(
                SSLTS_EMBED + BF16,
                in_bf16(embed),
                args.batch_size,
                n_params(model),
                layers,
            )
        )
    if SSLTS_EMBED + BF16 + COMPILED in names:
        compiled = torch.compile(embed, dynamic=False)
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            embed_once(compiled)
        cases.append(
            Case(
                SSLTS_EMBED + BF16 + COMPILED,
                in_bf16(compiled),
                args.batch_size,
                n_params(model),
                layers,
                note=f"compiled in {time.perf_counter() - start:.0f} s (first call)",
            )
        )
    if SSLTS_EMBEDDER in names:
        from sslts import TSPulseEmbedder

        rng = np.random.default_rng(2)
        X = rng.standard_normal((args.embedder_series, args.context_length)).astype(
            np.float32
        )

        def embedder() -> np.ndarray:
            est = TSPulseEmbedder(
                pretrained=None,
                # one encoder pass per series, as the reference
                views=("series",),
                patch_phases=1,
                batch_size=args.batch_size,
                device="cpu",
                random_state=0,
            )
            return est.fit(X).transform(X)

        cases.append(
            Case(
                SSLTS_EMBEDDER,
                embedder,
                args.embedder_series,
                n_params(model),
                layers,
                note=f"numpy ({args.embedder_series}, {args.context_length}) -> numpy",
            )
        )
    return cases


def embed_once(fn: Callable[[], torch.Tensor]) -> torch.Tensor:
    with torch.inference_mode():
        return fn()


def in_bf16(fn: Callable[[], torch.Tensor]) -> Callable[[], torch.Tensor]:
    """``fn`` run under bfloat16 autocast on the CPU."""

    def wrapped() -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return fn()

    return wrapped


# ------------------------------------------------------------------ reference
def reference_available() -> tuple[bool, str]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import tsfm_public.models.tspulse  # noqa: F401
    except Exception as exc:  # noqa: BLE001 (ImportError, or a broken transformers)
        return False, f"{type(exc).__name__}: {exc}"
    return True, ""


def granite_config(args: argparse.Namespace, num_layers: int):
    from tsfm_public.models.tspulse import TSPulseConfig as GraniteConfig

    return GraniteConfig(
        context_length=args.context_length,
        patch_length=8,
        patch_stride=8,
        num_input_channels=1,
        d_model=24,
        decoder_d_model=24,
        num_layers=num_layers,
        decoder_num_layers=2,
        expansion_factor=2,
        patch_register_tokens=10,
        mode="common_channel",
        decoder_mode="common_channel",
        gated_attn=True,
        norm_mlp="LayerNorm",
        scaling="revin",
        dropout=0.1,
        head_dropout=0.1,
        fuse_fft=True,
        enable_fft_prob_loss=True,
        fft_time_add_forecasting_pt_loss=True,
        prediction_length=32,
        mask_ratio=None,
        mask_type="block",
        fft_mask_ratio=None,
    )


def build_granite(args: argparse.Namespace, num_layers: int) -> torch.nn.Module:
    from tsfm_public.models.tspulse import TSPulseForReconstruction

    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return TSPulseForReconstruction(granite_config(args, num_layers)).eval()


def granite_param_count(args: argparse.Namespace, num_layers: int) -> int:
    return n_params(build_granite(args, num_layers))


def choose_ref_layers(
    args: argparse.Namespace, target: int
) -> tuple[int, dict[int, int]]:
    """Encoder depth whose parameter count is closest to ``target``."""
    counts: dict[int, int] = {}
    for layers in range(1, 17):
        counts[layers] = granite_param_count(args, layers)
        if counts[layers] > target and layers > 1 and counts[layers - 1] <= target:
            break
    best = min(counts, key=lambda k: abs(counts[k] - target))
    return best, counts


def reference_cases(
    args: argparse.Namespace, names: set[str], ref_layers: int, depth: int
):
    from tsfm_public.models.tspulse.utils.helpers import get_embeddings

    x = torch.randn(
        args.batch_size,
        args.context_length,
        1,
        generator=torch.Generator().manual_seed(1),
    )
    cases = []

    def lean(model):
        n_reg = model.config.patch_register_tokens

        def fn() -> torch.Tensor:
            hidden = model.backbone(x, return_dict=True).last_hidden_state
            decoded, _ = model.decoder_with_head.decoder(hidden)
            return decoded[:, :, -n_reg:, :].flatten(start_dim=2)

        return fn

    def mixer_layers(model) -> int:
        return model.config.num_layers + model.config.decoder_num_layers

    if REF in names or REF_HELPER in names or REF + BF16 in names:
        model = build_granite(args, ref_layers)
        if REF + BF16 in names:
            cases.append(
                Case(
                    REF + BF16,
                    in_bf16(lean(model)),
                    args.batch_size,
                    n_params(model),
                    mixer_layers(model),
                    note=f"num_layers={ref_layers} (parameter-matched)",
                )
            )
        if REF in names:
            fn = lean(model)
            assert embed_once(fn).shape == (args.batch_size, 1, 240)
            cases.append(
                Case(
                    REF,
                    fn,
                    args.batch_size,
                    n_params(model),
                    mixer_layers(model),
                    note=f"num_layers={ref_layers} (parameter-matched)",
                )
            )
        if REF_HELPER in names:

            def helper(model=model) -> torch.Tensor:
                return get_embeddings(model, x, component="decoder", mode="register")

            assert embed_once(helper).shape == (args.batch_size, 1, 240)
            cases.append(
                Case(
                    REF_HELPER,
                    helper,
                    args.batch_size,
                    n_params(model),
                    mixer_layers(model),
                    note=f"num_layers={ref_layers}; full forward incl. heads and loss",
                )
            )
    if REF_DEPTH in names and depth != ref_layers:
        model = build_granite(args, depth)
        cases.append(
            Case(
                REF_DEPTH,
                lean(model),
                args.batch_size,
                n_params(model),
                mixer_layers(model),
                note=f"num_layers={depth} (same depth as ours)",
            )
        )
    return cases


# --------------------------------------------------------------------- timing
def time_cases(cases: list[Case], warmup: int, repeats: int) -> None:
    with torch.inference_mode():
        for case in cases:
            for _ in range(warmup):
                case.fn()
        for _ in range(repeats):
            for case in cases:
                start = time.perf_counter()
                case.fn()
                case.times.append(time.perf_counter() - start)


# --------------------------------------------------------------------- memory
def _status_kib(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def measure_peak(fn: Callable[[], object]) -> tuple[float, str]:
    """Peak RSS rise (MiB) during one call of ``fn`` and the method used."""
    with torch.inference_mode():
        fn()
        fn()
        gc.collect()
        if sys.platform.startswith("linux") and _reset_peak():
            before = _status_kib("VmRSS")
            fn()
            return (_status_kib("VmHWM") - before) / 1024, "VmHWM"
        import psutil

        proc = psutil.Process()
        before = proc.memory_info().rss
        peak = [before]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], proc.memory_info().rss)
                time.sleep(0.001)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        fn()
        done.set()
        sampler.join()
        return (peak[0] - before) / 2**20, "psutil-sampling"


def memory_child(args: argparse.Namespace) -> None:
    limit_threads(args.threads)
    name = args.memory_child
    if name.startswith("sslts"):
        cases = ours_cases(args, {name})
    else:
        cases = reference_cases(args, {name}, args.ref_layers, args.depth)
    peak, method = measure_peak(cases[0].fn)
    print(json.dumps({"peak_mib": peak, "method": method}))


def run_memory(args: argparse.Namespace, case: Case, ref_layers: int, depth: int):
    env = dict(
        os.environ, MALLOC_MMAP_THRESHOLD_="65536", TRANSFORMERS_VERBOSITY="error"
    )
    cmd = [
        sys.executable, os.path.abspath(__file__),
        "--memory-child", case.name,
        "--threads", str(args.threads),
        "--batch-size", str(args.batch_size),
        "--context-length", str(args.context_length),
        "--embedder-series", str(args.embedder_series),
        "--ref-layers", str(ref_layers),
        "--depth", str(depth),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode or not lines:
        print(f"  memory measurement of {case.name!r} failed:\n{proc.stderr[-2000:]}")
        return None, "failed"
    result = json.loads(lines[-1])
    return result["peak_mib"], result["method"]


# ---------------------------------------------------------------------- report
def fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def cpu_counters() -> tuple[float, float] | None:
    """(busy CPU-seconds of the whole machine, CPU-seconds of this process)."""
    try:
        with open("/proc/stat") as fh:
            fields = [float(v) for v in fh.readline().split()[1:]]
    except OSError:
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
    busy = (sum(fields[:8]) - idle) / ticks
    own = os.times()
    return busy, own.user + own.system


def background_cores(before, after, wall: float) -> float | None:
    """CPU cores busy with *other* processes on average between two counters."""
    if before is None or after is None or wall <= 0:
        return None
    return max(0.0, ((after[0] - before[0]) - (after[1] - before[1])) / wall)


def wait_for_idle(limit_s: float, window_s: float = 2.0) -> float | None:
    """Wait (at most ``limit_s``) until other processes use < 10% of one CPU.

    Returns the background load of the last window, in CPUs.
    """
    deadline = time.monotonic() + limit_s
    while True:
        before, start = cpu_counters(), time.perf_counter()
        time.sleep(window_s)
        others = background_cores(before, cpu_counters(), time.perf_counter() - start)
        if others is None or others < 0.1 or time.monotonic() >= deadline:
            return others


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = make_parser(__doc__, out="embed_speed", threads=2)
    add = parser.add_argument
    add("--batch-size", type=int, default=256, help="series per call (default 256)")
    add("--context-length", type=int, default=512, help="points per window")
    add("--warmup", type=int, default=3, help="untimed calls per case (default 3)")
    add("--repeats", type=int, default=15, help="timed rounds (default 15)")
    add(
        "--embedder-series", type=int, default=1024,
        help="series in the numpy panel of the TSPulseEmbedder line (default 1024)",
    )  # fmt: skip
    add(
        "--ref-layers", type=int, default=None,
        help="granite encoder num_layers (default: parameter count closest to ours)",
    )  # fmt: skip
    add(
        "--wait-idle", type=float, default=0.0, metavar="SECONDS",
        help="first wait up to SECONDS for other processes to leave the CPUs idle",
    )  # fmt: skip
    add("--no-reference", action="store_true", help="time ours only")
    add("--no-bf16", action="store_true", help="skip the bfloat16 autocast cases")
    add("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    add(
        "--compile", action="store_true",
        help="also time our bf16 case through torch.compile (inductor, needs a C++ "
        "compiler; the first call compiles, about a minute on one thread)",
    )  # fmt: skip
    add("--memory-child", default=None, help=argparse.SUPPRESS)
    add("--depth", type=int, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    warnings.filterwarnings("ignore")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    if args.memory_child:
        memory_child(args)
        return 0

    limit_threads(args.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
        f"batch {args.batch_size}, context {args.context_length}, univariate, "
        f"random weights, inference_mode; {platform.machine()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )

    bf16 = set() if args.no_bf16 else {SSLTS_EMBED + BF16, REF + BF16}
    compiled = {SSLTS_EMBED + BF16 + COMPILED} if args.compile and bf16 else set()
    cases = ours_cases(args, {SSLTS_EMBED, SSLTS_EMBEDDER} | bf16 | compiled)
    ours = cases[0]
    from sslts.models import TSPulseConfig

    depth = TSPulseConfig(context_length=args.context_length).n_layers
    ref_layers = args.ref_layers
    ref = None
    have_ref, why = (
        (False, "--no-reference") if args.no_reference else reference_available()
    )
    if have_ref:
        import tsfm_public

        if ref_layers is None:
            ref_layers, counts = choose_ref_layers(args, ours.n_params)
            tried = ", ".join(f"{k}: {v:,}" for k, v in counts.items())
            print(f"granite parameters by encoder num_layers: {tried}")
        cases += reference_cases(
            args, {REF, REF_HELPER, REF_DEPTH} | bf16, ref_layers, depth
        )
        ref = next(case for case in cases if case.name == REF)
        version = getattr(tsfm_public, "__version__", "?")
        print(
            f"granite-tsfm {version}: num_layers={ref_layers}, {ref.n_params:,} "
            f"parameters vs ours {ours.n_params:,} "
            f"({ref.n_params / ours.n_params - 1:+.1%})"
        )
    else:
        print(
            f"reference skipped: granite-tsfm (tsfm_public) is not importable ({why})"
        )

    if args.wait_idle > 0:
        others = wait_for_idle(args.wait_idle)
        if others is not None:
            print(f"waited for an idle machine: background load {others:.2f} CPUs")
    before, start = cpu_counters(), time.perf_counter()
    time_cases(cases, args.warmup, args.repeats)
    others = background_cores(before, cpu_counters(), time.perf_counter() - start)
    methods = set()
    if not args.no_memory:
        for case in cases:
            case.peak_mib, method = run_memory(args, case, ref_layers or 1, depth)
            methods.add(method)

    header = (
        f"{'case':<42} {'params':>10} {'mixers':>6} {'median/s':>9} {'best/s':>8} "
        f"{'ms/call':>8} {'peak MiB':>8}  note"
    )
    print("\n" + header + "\n" + "-" * len(header))
    rows = []
    for case in cases:
        median, best = case.rates()
        ms = 1e3 * statistics.median(case.times)
        print(
            f"{case.name:<42} {case.n_params:>10,} {case.mixer_layers:>6} "
            f"{median:>9.0f} {best:>8.0f} {ms:>8.1f} {fmt(case.peak_mib, '.1f'):>8}  "
            f"{case.note}"
        )
        row = {
            "case": case.name,
            "n_params": case.n_params,
            "mixer_layers": case.mixer_layers,
            "series_per_s_median": round(median, 1),
            "series_per_s_best": round(best, 1),
            "ms_per_call_median": round(ms, 2),
            "series_per_call": case.n_series,
            "peak_rss_mib": None if case.peak_mib is None else round(case.peak_mib, 2),
            "ours_over_this_median": None,
            "ours_over_this_best": None,
            "ours_over_this_memory": None,
            "this_over_reference_median": None
            if ref is None
            else round(median / ref.rates()[0], 3),
            "note": case.note,
        }
        if case.name.startswith("granite"):
            row["ours_over_this_median"] = round(ours.rates()[0] / median, 3)
            row["ours_over_this_best"] = round(ours.rates()[1] / best, 3)
            if ours.peak_mib is not None and case.peak_mib:
                row["ours_over_this_memory"] = round(ours.peak_mib / case.peak_mib, 3)
        rows.append(row)
    if methods:
        print(
            "peak MiB: RSS rise during one call in a fresh subprocess "
            f"({', '.join(sorted(methods))}; see the module docstring)"
        )
    if ref is not None:
        row = next(r for r in rows if r["case"] == REF)
        memory = row["ours_over_this_memory"]
        print(
            f"\nours / reference ({REF}, equal parameters): throughput "
            f"{row['ours_over_this_median']:.2f}x (median), "
            f"{row['ours_over_this_best']:.2f}x (best); peak memory "
            + ("n/a" if memory is None else f"{memory:.2f}x")
        )
        for row in rows:
            if row["case"].startswith("granite") and row["case"] != REF:
                print(
                    f"ours / {row['case']}: throughput "
                    f"{row['ours_over_this_median']:.2f}x (median), "
                    f"{row['ours_over_this_best']:.2f}x (best)"
                )
    if ref is not None and not args.no_bf16:
        for name in (SSLTS_EMBED + BF16, REF + BF16):
            row = next(r for r in rows if r["case"] == name)
            print(f"{name} / {REF}: {row['this_over_reference_median']:.2f}x (median)")
        ours_bf16, ref_bf16 = (
            next(c for c in cases if c.name == n)
            for n in (SSLTS_EMBED + BF16, REF + BF16)
        )
        print(
            f"both in bf16: ours / reference {ours_bf16.rates()[0] / ref_bf16.rates()[0]:.2f}x (median)"
        )
    if others is not None:
        print(
            f"other processes kept {others:.2f} of {os.cpu_count()} CPUs busy during "
            "the timing"
            + ("; the machine was not idle, numbers are noisy" if others > 0.2 else "")
        )

    meta = {
        "threads": args.threads,
        "batch_size": args.batch_size,
        "context_length": args.context_length,
        "repeats": args.repeats,
        "torch": torch.__version__,
        "background_cpus": None if others is None else round(others, 2),
    }
    out = write_csv(args.out.with_suffix(".csv"), [{**row, **meta} for row in rows])
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
