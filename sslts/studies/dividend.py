"""The pre-training dividend study: does self-supervised pretraining pay, for which task?

One command (``sslts benchmark dividend``) pretrains the same small encoder
with five objectives on three data origins, evaluates every encoder on four
tasks with fixed protocols (:mod:`sslts.studies._tasks`), and compares each
result with the same network without pretraining ("none"). The dividend of a
result is its relative improvement over that scratch baseline::

    dividend = (value - scratch) / |scratch|     accuracy, VUS-PR (higher is better)
    dividend = (scratch - value) / |scratch|     MSE (lower is better)

so a positive dividend always means that pretraining helped.

The grid (:func:`plan_grid`) has three parts:

* ``main``: objectives x pretraining data at one depth, each objective's own
  augmentation (DWT views for LeJEPA and DINO, none for the others);
* ``depth``: one generative (``masked``) and one latent (``lejepa``) objective
  at several depths on one data source;
* ``dwt``: the DWT ablation: DWT augmentation added to the generative
  objectives, DWT views removed from LeJEPA and DINO.

Scratch baselines (``objective="none"``, ``data="none"``): for probe-style
results (linear probe, anomaly, forecasting, imputation) the same architecture
frozen at its random initialisation (same seed); for the fine-tuned
classification the same random network fine-tuned with the same protocol.

Every finished cell is appended to ``dividend.csv`` at once, so a killed run
resumes where it stopped (finished cells are skipped); pretraining data are
generated once per data origin and seed and shared by all objectives.
"""

from __future__ import annotations

import csv
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sslts.data.sources import make_source
from sslts.studies._encoders import (
    GENERATIVE,
    OBJECTIVES,
    Budget,
    FrozenEncoder,
    initial_encoder,
    pretrain_encoder,
)
from sslts.studies._tasks import (
    LOWER_IS_BETTER,
    TaskSuite,
    evaluate,
    load_suite,
    real_series,
)

__all__ = [
    "COLUMNS",
    "DATA_SOURCES",
    "Cell",
    "DividendPlan",
    "dividend",
    "plan_grid",
    "quick_plan",
    "read_results",
    "run_dividend_study",
]

DATA_SOURCES = ("cauker", "kernelsynth", "real")
COLUMNS = (
    "part",
    "objective",
    "family",
    "arch",
    "data",
    "depth",
    "dwt",
    "seed",
    "task",
    "dataset",
    "metric",
    "value",
    "scratch_value",
    "dividend",
    "pretrain_s",
    "eval_s",
)


def dividend(value: float, scratch: float, metric: str) -> float:
    """Relative improvement of ``value`` over ``scratch`` (positive: pretraining helped).

    Parameters
    ----------
    value, scratch : float
        The pretrained and the scratch result.
    metric : str
        Its name; MSE metrics (:data:`~sslts.studies._tasks.LOWER_IS_BETTER`)
        count a decrease as an improvement.

    Returns
    -------
    float
        NaN when ``scratch`` is zero.

    Examples
    --------
    >>> round(dividend(0.9, 0.6, "probe_accuracy"), 6)
    0.5
    >>> dividend(0.5, 1.0, "mse")
    0.5
    """
    if scratch == 0 or not math.isfinite(scratch):
        return float("nan")
    gain = scratch - value if metric in LOWER_IS_BETTER else value - scratch
    return float(gain / abs(scratch))


def _default_dwt(objective: str) -> str:
    return "on" if objective in ("lejepa", "dino") else "off"


@dataclass(frozen=True)
class Cell:
    """One encoder of the grid.

    Parameters
    ----------
    objective : str
        One of :data:`~sslts.studies._encoders.OBJECTIVES`, or ``"none"``
        for a scratch baseline.
    data : str
        Pretraining data (:data:`DATA_SOURCES`), ``"none"`` for scratch.
    depth : int
        Encoder layers.
    dwt : {"on", "off"}
        Whether DWT views (latent) or DWT augmentation (generative) were used.
    seed : int
        Seed of data, initialisation and training.
    arch : {"patch", "tspulse"}
        The architecture (scratch cells name the one they stand for).
    part : str
        The part of the grid it belongs to (``main``, ``depth``, ``dwt``, ``scratch``).
    """

    objective: str
    data: str
    depth: int
    dwt: str
    seed: int
    arch: str
    part: str = "main"

    @property
    def key(self) -> tuple[str, str, str, str, str, str]:
        """What identifies the cell in the CSV (its part excluded)."""
        return (
            self.objective,
            self.arch,
            self.data,
            str(self.depth),
            self.dwt,
            str(self.seed),
        )

    @property
    def scratch(self) -> Cell:
        """The scratch baseline this cell is compared with."""
        return Cell("none", "none", self.depth, "off", self.seed, self.arch, "scratch")


def _arch(objective: str) -> str:
    return "tspulse" if objective == "tspulse" else "patch"


@dataclass(frozen=True)
class DividendPlan:
    """What the study runs.

    Parameters
    ----------
    budget : Budget
        Architecture and pretraining budget of every objective.
    seeds : tuple of int
    objectives : tuple of str
        Objectives of the main grid.
    data : tuple of str
        Pretraining data of the main grid.
    main_depth : int
        Depth of the main grid and of the DWT ablation.
    depths : tuple of int
        Depths of the depth sweep.
    depth_objectives : tuple of str
        Objectives of the depth sweep (one generative, one latent).
    depth_data : str
        Pretraining data of the depth sweep and of the DWT ablation.
    dwt_objectives : tuple of str
        Objectives of the DWT ablation.
    """

    budget: Budget = field(default_factory=Budget)
    seeds: tuple[int, ...] = (0, 1, 2)
    objectives: tuple[str, ...] = OBJECTIVES
    data: tuple[str, ...] = DATA_SOURCES
    main_depth: int = 2
    depths: tuple[int, ...] = (1, 2, 4, 8)
    depth_objectives: tuple[str, ...] = ("masked", "lejepa")
    depth_data: str = "cauker"
    dwt_objectives: tuple[str, ...] = ("tspulse", "masked", "lejepa", "dino")


def plan_grid(plan: DividendPlan) -> list[Cell]:
    """Every cell of ``plan``, each once, scratch baselines first.

    Parameters
    ----------
    plan : DividendPlan

    Returns
    -------
    list of Cell
        A cell shared by two parts is listed once, under the first of
        ``main``, ``depth``, ``dwt``.

    Raises
    ------
    ValueError
        For an unknown objective or data source, or an empty choice.

    Examples
    --------
    >>> plan = DividendPlan(seeds=(0,), objectives=("masked",), data=("cauker",),
    ...                     depths=(2,), depth_objectives=(), dwt_objectives=())
    >>> [(c.part, c.objective, c.data) for c in plan_grid(plan)]
    [('scratch', 'none', 'none'), ('main', 'masked', 'cauker')]
    """
    for name, values, allowed in (
        (
            "objective",
            (*plan.objectives, *plan.depth_objectives, *plan.dwt_objectives),
            OBJECTIVES,
        ),
        ("data", (*plan.data, plan.depth_data), DATA_SOURCES),
    ):
        unknown = sorted(set(values) - set(allowed))
        if unknown:
            raise ValueError(f"unknown {name} {unknown}; choose from {list(allowed)}")
    if not plan.seeds or not plan.objectives or not plan.data:
        raise ValueError("seeds, objectives and data must not be empty")
    if any(d < 1 for d in (*plan.depths, plan.main_depth)):
        raise ValueError(
            f"depths must be >= 1, got {plan.depths} and main_depth={plan.main_depth}"
        )
    cells: dict[tuple, Cell] = {}

    def add(
        objective: str, data: str, depth: int, dwt: str, seed: int, part: str
    ) -> None:
        cell = Cell(objective, data, depth, dwt, seed, _arch(objective), part)
        cells.setdefault(cell.key, cell)

    for seed in plan.seeds:
        for objective in plan.objectives:
            for data in plan.data:
                add(
                    objective,
                    data,
                    plan.main_depth,
                    _default_dwt(objective),
                    seed,
                    "main",
                )
        for objective in plan.depth_objectives:
            for depth in plan.depths:
                add(
                    objective,
                    plan.depth_data,
                    depth,
                    _default_dwt(objective),
                    seed,
                    "depth",
                )
        for objective in plan.dwt_objectives:
            flipped = "off" if _default_dwt(objective) == "on" else "on"
            add(objective, plan.depth_data, plan.main_depth, flipped, seed, "dwt")
    scratch: dict[tuple, Cell] = {}
    for cell in cells.values():
        scratch.setdefault(cell.scratch.key, cell.scratch)
    return [*scratch.values(), *cells.values()]


def read_results(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Rows of a ``dividend.csv`` with numbers parsed (empty list when it does not exist).

    Parameters
    ----------
    path : path-like

    Returns
    -------
    list of dict
    """
    path = Path(path)
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for name in ("value", "scratch_value", "dividend", "pretrain_s", "eval_s"):
            row[name] = float(row[name])
        row["depth"], row["seed"] = int(row["depth"]), int(row["seed"])
    return rows


def _row_key(row: dict[str, Any]) -> tuple[str, ...]:
    return tuple(
        str(row[k]) for k in ("objective", "arch", "data", "depth", "dwt", "seed")
    )


def _append(path: Path, rows: list[dict[str, Any]]) -> None:
    """Append ``rows`` in one write (a killed run loses at most the cell in progress)."""
    new = not path.exists() or path.stat().st_size == 0
    lines = []
    if new:
        lines.append(",".join(COLUMNS))
    for row in rows:
        lines.append(",".join(_format(row[c]) for c in COLUMNS))
    with path.open("a", newline="") as handle:
        handle.write("\n".join(lines) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _format(value: Any) -> str:
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else "nan"
    text = str(value)
    return f'"{text}"' if "," in text else text


class _PretrainingData:
    """Pretraining series per (data origin, seed), generated once per run."""

    def __init__(self, budget: Budget, suite: TaskSuite) -> None:
        self.budget, self.suite = budget, suite
        self._cache: dict[tuple[str, int], np.ndarray] = {}

    def __call__(self, data: str, seed: int) -> np.ndarray:
        if (data, seed) not in self._cache:
            n, length = (
                self.budget.steps * self.budget.batch_size,
                self.budget.series_length,
            )
            if data == "real":
                series = real_series(self.suite, n, length, seed)
            else:
                source, _ = make_source(data, length, seed)
                series = source.generate(n).astype(np.float32)
            self._cache[(data, seed)] = series
        return self._cache[(data, seed)]


def _family(objective: str) -> str:
    if objective == "none":
        return "none"
    return "generative" if objective in GENERATIVE else "latent"


def _run_cell(
    cell: Cell,
    plan: DividendPlan,
    suite: TaskSuite,
    series: _PretrainingData,
    scratch: dict[tuple, dict[tuple[str, str], float]],
    device: str,
) -> list[dict[str, Any]]:
    started = time.perf_counter()
    if cell.objective == "none":
        stand_in = "tspulse" if cell.arch == "tspulse" else "masked"
        module = initial_encoder(stand_in, plan.budget, cell.depth, cell.seed).eval()
        objective = stand_in
    else:
        dwt = cell.dwt != _default_dwt(cell.objective)
        module = pretrain_encoder(
            cell.objective,
            series(cell.data, cell.seed),
            plan.budget,
            cell.depth,
            cell.seed,
            dwt=(cell.dwt == "on") if dwt else None,
            device=device,
        )
        objective = cell.objective
    pretrain_s = time.perf_counter() - started
    started = time.perf_counter()
    records = evaluate(FrozenEncoder(module, objective, device), suite, cell.seed)
    eval_s = time.perf_counter() - started
    baseline = scratch.get(cell.scratch.key, {})
    rows = []
    for task, dataset, metric, value in records:
        reference = (
            value
            if cell.objective == "none"
            else baseline.get((dataset, metric), float("nan"))
        )
        rows.append(
            {
                "part": cell.part,
                "objective": cell.objective,
                "family": _family(cell.objective),
                "arch": cell.arch,
                "data": cell.data,
                "depth": cell.depth,
                "dwt": cell.dwt,
                "seed": cell.seed,
                "task": task,
                "dataset": dataset,
                "metric": metric,
                "value": float(value),
                "scratch_value": float(reference),
                "dividend": 0.0
                if cell.objective == "none"
                else dividend(value, reference, metric),
                "pretrain_s": round(pretrain_s, 2),
                "eval_s": round(eval_s, 2),
            }
        )
    return rows


def quick_plan() -> DividendPlan:
    """A smoke-test plan: tiny budget, one seed, two data sources, depths 1 and 2.

    Returns
    -------
    DividendPlan
    """
    budget = Budget(d_model=16, n_heads=2, steps=10, batch_size=16)
    return DividendPlan(
        budget=budget,
        seeds=(0,),
        data=("cauker", "real"),
        depths=(1, 2),
        dwt_objectives=("masked", "lejepa"),
    )


def run_dividend_study(
    out: str | os.PathLike,
    plan: DividendPlan | None = None,
    *,
    suite: TaskSuite | None = None,
    device: str = "cpu",
    report: bool = True,
    log: Callable[[str], None] | None = print,
) -> list[dict[str, Any]]:
    """Run (or resume) the study into the folder ``out``.

    Parameters
    ----------
    out : path-like
        Folder for ``dividend.csv``, ``heatmap.png``, ``depth.png``,
        ``data_origin.png`` and ``report.md`` (created if missing).
    plan : DividendPlan, optional
        The grid and budget; the default plan when None.
    suite : TaskSuite, optional
        Task data; by default :func:`~sslts.studies._tasks.load_suite` reads
        the shared benchmark data from ``$SSLTS_DATA_DIR``.
    device : str, default="cpu"
        Torch device of pretraining, fine-tuning and inference.
    report : bool, default=True
        Write the figures and ``report.md`` at the end.
    log : callable or None, default=print
        Receives one progress line per cell.

    Returns
    -------
    list of dict
        Every row of ``dividend.csv`` (earlier runs' included).

    Raises
    ------
    ValueError
        For an invalid plan, or a ``dividend.csv`` with other columns.
    """
    plan = plan or DividendPlan()
    cells = plan_grid(plan)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "dividend.csv"
    if path.exists() and path.stat().st_size:
        with path.open(newline="") as handle:
            header = next(csv.reader(handle), [])
        if tuple(header) != COLUMNS:
            raise ValueError(
                f"{path} has columns {header}, not those of a dividend study {list(COLUMNS)}"
            )
    rows = read_results(path)
    done = {_row_key(r) for r in rows}
    scratch: dict[tuple, dict[tuple[str, str], float]] = {}
    for row in rows:
        if row["objective"] == "none":
            scratch.setdefault(_row_key(row), {})[(row["dataset"], row["metric"])] = (
                row["value"]
            )
    suite = suite if suite is not None else load_suite()
    series = _PretrainingData(plan.budget, suite)
    todo = [c for c in cells if c.key not in done]
    if log:
        log(
            f"dividend study: {len(cells)} cells, {len(cells) - len(todo)} already in {path}"
        )
    for i, cell in enumerate(todo, 1):
        new = _run_cell(cell, plan, suite, series, scratch, device)
        if cell.objective == "none":
            scratch[cell.key] = {(r["dataset"], r["metric"]): r["value"] for r in new}
        _append(path, new)
        rows.extend(read_results(path)[-len(new) :])
        if log:
            seconds = new[0]["pretrain_s"] + new[0]["eval_s"]
            log(
                f"[{i}/{len(todo)}] {cell.part:7s} {cell.objective:8s} {cell.data:11s} depth={cell.depth} "
                f"dwt={cell.dwt} seed={cell.seed}  {seconds:.0f}s"
            )
    if report:
        from sslts.studies._report import write_report

        write_report(out, rows, plan, suite)
    return rows
