"""Training throughput of sslts's TSPulse against granite-tsfm's TSPulse, in one process.

What it measures
----------------
Samples per second of one full training step (forward, loss, backward, AdamW
step) on the CPU with ``--threads`` threads, batch ``--batch-size`` of
univariate series of ``context_length + forecast_length`` points (544 at the
r1-like size), random weights, random data:

``sslts train step``
    ``sslts.models.TSPulse(TSPulseConfig())`` in training mode, the
    ``TSPulseObjective`` loss (hybrid block + point mask, dual-space
    reconstruction, FFT probabilities, forecast), AdamW.
``sslts train step, torch dropout``
    The same with every :class:`sslts.models.layers.FastDropout` switched back
    to :class:`torch.nn.Dropout`: what the fast dropout path buys.
``sslts train step, bf16 autocast``
    The first case with the forward pass and the loss under bfloat16 autocast
    (weights, gradients and optimizer state stay float32), as
    ``sslts pretrain --amp`` trains. It pays on CPUs with native bfloat16
    instructions (AVX512_BF16 or AMX, listed in ``/proc/cpuinfo`` on Linux) and on
    GPUs; elsewhere it is slower. Skipped with ``--no-bf16``.
``granite train step`` (the reference of the ratios)
    granite-tsfm's ``TSPulseForReconstruction`` configured r1-like as in
    ``bench_embed_speed.py`` (same depth choice: the encoder depth whose
    parameter count is closest to ours), with its own hybrid masking
    (``mask_type="hybrid"``, ``mask_ratio=0.3``), its loss from the forward
    pass, AdamW.
``granite train step, bf16 autocast``
    The reference under the same autocast, so that the bf16 case can also be
    compared with a reference given the same lever (column
    ``ratio_to_reference_same_precision``).

Timing: each case is warmed up, then ``--repeats`` rounds are run in which
each case does ``--steps`` steps, round-robin, so that background load hits
all cases alike. Reported: median samples/s over the rounds and the ratio to
the reference. The reference is optional (skipped when ``tsfm_public`` cannot
be imported; see ``bench_embed_speed.py``).

Run::

    python benchmarks/bench_train_speed.py --threads 2
    PYTHONPATH=/path/to/granite python benchmarks/bench_train_speed.py --repeats 7
"""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Callable

import torch
from _common import limit_threads, make_parser, write_csv
from bench_embed_speed import (
    build_granite,
    choose_ref_layers,
    n_params,
    reference_available,
)

from sslts.models import TSPulse, TSPulseConfig
from sslts.models.layers import FastDropout
from sslts.objectives.tspulse import TSPulseObjective

OURS, OURS_PLAIN, REF = "sslts train step", "sslts train step, torch dropout", "granite train step"
BF16 = ", bf16 autocast"


def autocast(enabled: bool) -> torch.autocast:
    """bfloat16 autocast on the CPU when ``enabled`` (a no-op context otherwise)."""
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=enabled)


def ours_step(
    batch_size: int, fast_dropout: bool, bf16: bool = False
) -> tuple[Callable[[], None], int]:
    """One sslts training step as a closure, and the model's parameter count."""
    config = TSPulseConfig()
    torch.manual_seed(0)
    model = TSPulse(config).train()
    if not fast_dropout:
        for module in model.modules():
            if isinstance(module, FastDropout):
                module.__class__ = torch.nn.Dropout
    objective = TSPulseObjective(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(batch_size, 1, config.context_length + config.forecast_length)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with autocast(bf16):
            loss = objective(model(x), x)[0]
        loss.backward()
        optimizer.step()

    return step, n_params(model)


def granite_step(
    args, target_params: int, bf16: bool = False
) -> tuple[Callable[[], None], int]:
    """One granite-tsfm training step (its own hybrid mask and loss) as a closure."""
    layers, _ = choose_ref_layers(args, target_params)
    model = build_granite(args, layers)
    model.config.mask_ratio, model.config.mask_type = 0.3, "hybrid"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = type(model)(model.config).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(args.batch_size, args.context_length + 32, 1)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with autocast(bf16):
            out = model(past_values=x[:, : args.context_length], future_values=x[:, args.context_length:])
        out.loss.backward()
        optimizer.step()

    return step, n_params(model)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = make_parser(__doc__, out="train_speed", threads=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--context-length", type=int, default=512)
    parser.add_argument("--steps", type=int, default=5, help="steps per case and round")
    parser.add_argument("--repeats", type=int, default=5, help="rounds")
    parser.add_argument("--no-reference", action="store_true")
    parser.add_argument("--no-bf16", action="store_true", help="skip the bf16 autocast cases")
    args = parser.parse_args(argv)
    limit_threads(args.threads)

    cases: dict[str, Callable[[], None]] = {}
    sizes: dict[str, int] = {}
    cases[OURS], sizes[OURS] = ours_step(args.batch_size, fast_dropout=True)
    cases[OURS_PLAIN], sizes[OURS_PLAIN] = ours_step(args.batch_size, fast_dropout=False)
    if not args.no_bf16:
        cases[OURS + BF16], sizes[OURS + BF16] = ours_step(args.batch_size, True, bf16=True)
    available, why = reference_available()
    if available and not args.no_reference:
        cases[REF], sizes[REF] = granite_step(args, sizes[OURS])
        if not args.no_bf16:
            cases[REF + BF16], sizes[REF + BF16] = granite_step(args, sizes[OURS], bf16=True)
    elif not args.no_reference:
        print(f"reference skipped: {why}")
    for step in cases.values():  # warm-up
        step()
        step()
    rates: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.repeats):
        for name, step in cases.items():
            start = time.perf_counter()
            for _ in range(args.steps):
                step()
            rates[name].append(args.steps * args.batch_size / (time.perf_counter() - start))
    medians = {name: statistics.median(values) for name, values in rates.items()}
    reference = medians.get(REF)
    rows = []
    for name, values in rates.items():
        median = medians[name]
        same = medians.get(REF + BF16 if name.endswith(BF16) else REF)
        rows.append(
            {
                "case": name,
                "parameters": sizes[name],
                "threads": args.threads,
                "batch_size": args.batch_size,
                "samples_per_s_median": round(median, 1),
                "samples_per_s_best": round(max(values), 1),
                "ratio_to_reference": None if reference is None else round(median / reference, 3),
                "ratio_to_reference_same_precision": None if same is None else round(median / same, 3),
            }
        )
        ratio = "" if reference is None else f"  {median / reference:.2f}x reference"
        print(f"{name:34s} {sizes[name]:>9,d} params  {median:8.1f} samples/s{ratio}")
    write_csv(args.out.with_suffix(".csv"), rows)
    return rows


if __name__ == "__main__":
    main()
