"""The pre-training dividend study on tiny injected data: grid, CSV, resume, report, CLI."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from sslts.cli import build_parser, main
from sslts.data.datasets import ClassificationData
from sslts.models import PatchEncoder
from sslts.studies import (
    COLUMNS,
    Budget,
    DividendPlan,
    TaskSuite,
    dividend,
    plan_grid,
    read_results,
    run_dividend_study,
)
from sslts.studies._encoders import (
    _jepa_config,
    _tspulse_embedding_params,
    initial_encoder,
    matched_tspulse_config,
    parameter_count,
    pretrain_encoder,
)

TINY_BUDGET = Budget(
    context_length=16,
    patch_length=4,
    d_model=8,
    n_heads=2,
    steps=2,
    batch_size=4,
    forecast_length=4,
)
TINY_PLAN = DividendPlan(
    budget=TINY_BUDGET,
    seeds=(0, 1),
    objectives=("tspulse", "masked", "lejepa"),
    data=("cauker", "real"),
    main_depth=1,
    depths=(1, 2),
    depth_objectives=("masked",),
    dwt_objectives=("masked", "lejepa"),
)


def _labelled_sines(
    rng: np.random.Generator, n: int, length: int
) -> tuple[np.ndarray, np.ndarray]:
    y = np.arange(n) % 2
    t = np.linspace(0, 6, length)
    X = np.sin(t[None] * (1 + y[:, None])) + 0.1 * rng.normal(size=(n, length))
    return X.astype(np.float32), y


def _anomalous_series(
    rng: np.random.Generator, n: int = 300
) -> tuple[np.ndarray, np.ndarray]:
    values = np.sin(np.arange(n) / 5) + 0.1 * rng.normal(size=n)
    labels = np.zeros(n, int)
    labels[200:210] = 1
    values[200:210] += 3
    return values, labels


@pytest.fixture(scope="module")
def tiny_suite() -> TaskSuite:
    rng = np.random.default_rng(0)
    X_train, y_train = _labelled_sines(rng, 12, 40)
    X_test, y_test = _labelled_sines(rng, 10, 40)
    values, labels = _anomalous_series(rng)
    forecast = rng.normal(size=(400, 2)).cumsum(0) * 0.1
    return TaskSuite(
        {
            "toy": ClassificationData(
                "toy", "UCR", X_train[:, None], y_train, X_test[:, None], y_test
            )
        },
        [("toy-anomaly", values, labels, 120)],
        ("toy-forecast", forecast[:250], forecast[250:]),
        horizons={"mse_short": 4, "mse_long": 8},
        finetune_epochs=2,
    )


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, tiny_suite):
    out = tmp_path_factory.mktemp("dividend")
    lines: list[str] = []
    rows = run_dividend_study(out, TINY_PLAN, suite=tiny_suite, log=lines.append)
    return out, rows, lines


# ------------------------------------------------------------------ arithmetic
def test_dividend_is_a_relative_improvement_in_both_directions():
    assert dividend(0.9, 0.6, "probe_accuracy") == pytest.approx(0.5)
    assert dividend(0.3, 0.6, "vus_pr") == pytest.approx(-0.5)
    # MSE: lower is better, so halving the error is a +50 % dividend
    assert dividend(0.5, 1.0, "mse_short") == pytest.approx(0.5)
    assert dividend(2.0, 1.0, "mse") == pytest.approx(-1.0)
    assert math.isnan(dividend(0.5, 0.0, "probe_accuracy"))


# ------------------------------------------------------------------------ grid
def test_the_grid_has_each_part_once_and_scratch_first():
    cells = plan_grid(TINY_PLAN)
    parts = [c.part for c in cells]
    n_scratch = parts.count("scratch")
    assert set(parts[:n_scratch]) == {"scratch"} and "scratch" not in parts[n_scratch:]
    # main: 3 objectives x 2 data x 2 seeds; depth: masked at depth 2 (depth 1 is in main);
    # dwt: masked with DWT, lejepa without, on cauker
    assert parts.count("main") == 12
    assert parts.count("depth") == 2
    assert parts.count("dwt") == 4
    assert len({c.key for c in cells}) == len(cells)
    dwt = {(c.objective, c.dwt) for c in cells if c.part == "dwt"}
    assert dwt == {("masked", "on"), ("lejepa", "off")}
    main = {(c.objective, c.dwt) for c in cells if c.part == "main"}
    assert ("lejepa", "on") in main and ("masked", "off") in main
    # scratch: patch at depths 1 and 2, tspulse at depth 1, per seed
    assert {(c.arch, c.depth) for c in cells if c.part == "scratch"} == {
        ("patch", 1),
        ("patch", 2),
        ("tspulse", 1),
    }


@pytest.mark.parametrize(
    "change, message",
    [
        ({"objectives": ("masked", "simclr")}, "unknown objective"),
        ({"data": ("imagenet",)}, "unknown data"),
        ({"seeds": ()}, "must not be empty"),
        ({"depths": (0, 2)}, "depths must be >= 1"),
    ],
)
def test_a_bad_plan_is_refused_with_a_clear_error(change, message):
    import dataclasses

    with pytest.raises(ValueError, match=message):
        plan_grid(dataclasses.replace(TINY_PLAN, **change))


# -------------------------------------------------------------------- encoders
@pytest.mark.parametrize("depth", [1, 2, 4])
def test_tspulse_is_matched_to_the_patch_encoder_size(depth):
    budget = Budget()
    patch = parameter_count(PatchEncoder(_jepa_config(budget, depth)))
    tspulse = _tspulse_embedding_params(matched_tspulse_config(budget, depth))
    assert abs(tspulse - patch) / patch < 0.15


def test_the_dwt_ablation_removes_the_wavelet_step_of_the_latent_views():
    default = initial_encoder("lejepa", TINY_BUDGET, 1, 0)
    ablated = initial_encoder("lejepa", TINY_BUDGET, 1, 0, dwt=False)
    assert [v._probs[-1] for v in default.views] == [0.5, 0.5]
    assert [v._probs[-1] for v in ablated.views] == [0.0, 0.0]


def test_pretraining_needs_the_whole_budget_of_series():
    series = np.zeros(
        (TINY_BUDGET.steps * TINY_BUDGET.batch_size - 1, TINY_BUDGET.series_length),
        np.float32,
    )
    with pytest.raises(ValueError, match="need 8 pretraining series"):
        pretrain_encoder("masked", series, TINY_BUDGET, 1, 0)


def test_pretraining_changes_the_encoder_and_is_seeded():
    rng = np.random.default_rng(0)
    series = rng.normal(size=(8, TINY_BUDGET.series_length)).astype(np.float32)
    start = initial_encoder("masked", TINY_BUDGET, 1, 0).encoder.state_dict()
    first = pretrain_encoder("masked", series, TINY_BUDGET, 1, 0).encoder.state_dict()
    again = pretrain_encoder("masked", series, TINY_BUDGET, 1, 0).encoder.state_dict()
    assert any(not np.allclose(start[k], first[k]) for k in start)
    assert all(np.array_equal(first[k], again[k]) for k in first)


# --------------------------------------------------------------------- the run
def test_the_csv_has_one_row_per_cell_task_and_data_set(tiny_run):
    out, rows, _ = tiny_run
    with (out / "dividend.csv").open(newline="") as handle:
        header = next(csv.reader(handle))
    assert tuple(header) == COLUMNS
    metrics = {
        "probe_accuracy",
        "finetune_accuracy",
        "vus_pr",
        "mse_short",
        "mse_long",
        "mse",
    }
    assert len(rows) == len(plan_grid(TINY_PLAN)) * len(metrics)
    assert {r["metric"] for r in rows} == metrics
    assert {r["task"] for r in rows} == {
        "classification",
        "anomaly",
        "forecasting",
        "imputation",
    }
    for r in rows:
        assert np.isfinite(r["value"]) and np.isfinite(r["scratch_value"])
        if r["metric"].endswith("accuracy") or r["metric"] == "vus_pr":
            assert 0.0 <= r["value"] <= 1.0
        else:
            assert r["value"] > 0


def test_each_dividend_is_computed_against_its_own_scratch_row(tiny_run):
    _, rows, _ = tiny_run
    scratch = {
        (r["arch"], r["depth"], r["seed"], r["metric"]): r["value"]
        for r in rows
        if r["objective"] == "none"
    }
    pretrained = [r for r in rows if r["objective"] != "none"]
    assert pretrained
    for r in pretrained:
        assert r["scratch_value"] == pytest.approx(
            scratch[(r["arch"], r["depth"], r["seed"], r["metric"])]
        )
        assert r["dividend"] == pytest.approx(
            dividend(r["value"], r["scratch_value"], r["metric"]), abs=1e-5
        )
    for r in rows:
        if r["objective"] == "none":
            assert r["value"] == r["scratch_value"] and r["dividend"] == 0.0


def test_a_finished_run_is_skipped_and_a_lost_cell_is_redone(tiny_run, tiny_suite):
    out, rows, _ = tiny_run
    path = out / "dividend.csv"
    lines: list[str] = []
    again = run_dividend_study(
        out, TINY_PLAN, suite=tiny_suite, report=False, log=lines.append
    )
    assert len(again) == len(rows)
    assert lines == [
        f"dividend study: {len(plan_grid(TINY_PLAN))} cells, {len(plan_grid(TINY_PLAN))} already in {path}"
    ]
    # a run killed during the last cell: that cell's rows were never written
    text = path.read_text().splitlines()
    path.write_text("\n".join(text[:-6]) + "\n")
    lines.clear()
    redone = run_dividend_study(
        out, TINY_PLAN, suite=tiny_suite, report=False, log=lines.append
    )
    assert len(lines) == 2 and lines[1].startswith("[1/1]")
    assert len(redone) == len(rows)
    assert len(read_results(path)) == len(rows)


def test_a_foreign_csv_is_not_appended_to(tmp_path, tiny_suite):
    (tmp_path / "dividend.csv").write_text("cell,accuracy\nx,1\n")
    with pytest.raises(ValueError, match="not those of a dividend study"):
        run_dividend_study(tmp_path, TINY_PLAN, suite=tiny_suite, log=None)


def test_the_figures_and_the_report_are_written(tiny_run):
    out, _, _ = tiny_run
    for name in ("heatmap.png", "depth.png", "data_origin.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    report = (out / "report.md").read_text()
    for claim in (
        "asymmetric",
        "precision for invariance",
        "data origin",
        "saturates",
        "DWT ablation",
    ):
        assert claim in report
    assert report.count("**Verdict: ") == 5
    assert "| all |" in report  # wall time per part
    assert "![heatmap](heatmap.png)" in report


# ------------------------------------------------------------------------- CLI
def _write_tiny_data(root) -> None:
    """A data folder in the layouts of :mod:`sslts.data.datasets`, small enough for a smoke run."""
    rng = np.random.default_rng(1)
    folder = root / "classification" / "UCR" / "Toy"
    folder.mkdir(parents=True)
    for split, n in (("TRAIN", 8), ("TEST", 6)):
        X, y = _labelled_sines(rng, n, 70)
        np.savetxt(
            folder / f"Toy_{split}.tsv",
            np.column_stack([y + 1, X]),
            delimiter="\t",
            fmt="%.5f",
        )
    folder = root / "anomaly" / "TSB-AD" / "TSB-AD-U"
    folder.mkdir(parents=True)
    values, labels = _anomalous_series(rng, 400)
    np.savetxt(
        folder / "001_Toy_tr_150_1st_200.csv",
        np.column_stack([values, labels]),
        delimiter=",",
        header="Data,Label",
        comments="",
        fmt="%.5f",
    )
    folder = root / "forecasting" / "ETT"
    folder.mkdir(parents=True)
    table = rng.normal(size=(700, 2)).cumsum(0)
    with (folder / "ETTh1.csv").open("w") as handle:
        handle.write("date,A,OT\n")
        for i, (a, b) in enumerate(table):
            handle.write(f"2016-07-01 {i},{a:.4f},{b:.4f}\n")


def test_the_cli_parses_the_benchmark_command():
    args = build_parser().parse_args(
        [
            "benchmark",
            "dividend",
            "--scale",
            "4",
            "--device",
            "cuda",
            "--seeds",
            "3",
            "4",
        ]
    )
    assert (args.command, args.study, args.scale, args.device, args.seeds) == (
        "benchmark",
        "dividend",
        4,
        "cuda",
        [3, 4],
    )
    assert str(args.out) == "benchmarks/results/dividend"


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--scale", "0"], "--scale must be >= 1"),
        (["--steps", "0"], "--steps must be >= 1"),
        (["--objectives", "simclr"], "unknown objective"),
        (["--data", "imagenet"], "unknown data"),
    ],
)
def test_cli_user_errors_print_one_line_and_return_2(
    tmp_path, monkeypatch, capsys, extra, message
):
    _write_tiny_data(tmp_path)
    monkeypatch.setenv("SSLTS_DATA_DIR", str(tmp_path))
    code = main(
        ["benchmark", "dividend", "--quick", "--out", str(tmp_path / "out"), *extra]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err


def test_a_quick_cli_run_writes_every_output(tmp_path, monkeypatch, capsys):
    _write_tiny_data(tmp_path)
    monkeypatch.setenv("SSLTS_DATA_DIR", str(tmp_path))
    out = tmp_path / "out"
    argv = [
        "benchmark",
        "dividend",
        "--quick",
        "--out",
        str(out),
        "--objectives",
        "masked",
        "--data",
        "cauker",
        "--depths",
        "2",
        "--steps",
        "2",
        "--classification",
        "Toy",
        "--anomaly",
        "TSB-AD-U/001_Toy_tr_150_1st_200",
        "--threads",
        "1",
    ]
    assert main(argv) == 0
    assert "report.md" in capsys.readouterr().out
    rows = read_results(out / "dividend.csv")
    assert {r["dataset"] for r in rows} == {
        "Toy",
        "TSB-AD-U/001_Toy_tr_150_1st_200",
        "ETTh1",
    }
    assert {(r["part"], r["objective"], r["dwt"]) for r in rows} == {
        ("scratch", "none", "off"),
        ("main", "masked", "off"),
        ("depth", "lejepa", "on"),
        ("dwt", "masked", "on"),
        ("dwt", "lejepa", "off"),
    }
    assert all(r["seed"] == 0 for r in rows)
    for name in ("heatmap.png", "depth.png", "data_origin.png", "report.md"):
        assert (out / name).exists()


def test_a_missing_data_set_is_a_user_error(tmp_path, monkeypatch, capsys):
    _write_tiny_data(tmp_path)
    monkeypatch.setenv("SSLTS_DATA_DIR", str(tmp_path))
    code = main(
        [
            "benchmark",
            "dividend",
            "--quick",
            "--out",
            str(tmp_path / "out"),
            "--classification",
            "Nope",
        ]
    )
    assert code == 2
    assert "no data set UCR/Nope" in capsys.readouterr().err
