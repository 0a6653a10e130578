import pytest

from sslts.cli import main


def _demo_rows(out):
    """``{method label: (accuracy, fit seconds, predict seconds)}`` of the demo table."""
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("method"))
    rows = {}
    for line in lines[header + 2:]:
        cells = line.split("  ")
        if len(cells) < 5:
            break
        label = cells[0].strip()
        accuracy, fit_s, predict_s = line.split()[-3:]
        rows[label] = (float(accuracy.rstrip("*")), float(fit_s), float(predict_s))
    return rows


def test_demo_prints_a_result_table(capsys):
    """Quick run: tiny checkpoint, one fine-tuning epoch, MiniRocket left out."""
    argv = ["demo", "--pretrained", "tspulse-tiny-random", "--max-epochs", "1",
            "--methods", "tspulse", "finetuned", "random-init", "raw"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "GunPoint" in out
    rows = _demo_rows(out)
    # the canonical pipeline first, labelled as users type it
    assert list(rows) == [
        "TSPulseEmbedder(pretrained='tspulse-tiny-random') + LogisticRegression()",
        "TSPulseClassifier(pretrained='tspulse-tiny-random', max_epochs=1)",
        "TSPulseEmbedder(pretrained=None) + LogisticRegression()",
        "StandardScaler() + LogisticRegression()",
    ]
    for accuracy, fit_s, predict_s in rows.values():
        assert 0.0 <= accuracy <= 1.0 and fit_s >= 0 and predict_s >= 0
    assert "recommended" in out and "bench_classification_suite.py" in out


def test_demo_rejects_an_unknown_method(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--methods", "knn"])
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_compares_with_minirocket(capsys):
    """MiniRocket runs (numba is a dependency) and leads its reference row."""
    argv = ["demo", "--pretrained", "tspulse-tiny-random", "--methods", "tspulse", "minirocket"]
    assert main(argv) == 0
    rows = _demo_rows(capsys.readouterr().out)
    assert list(rows)[1] == "MiniRocket() + RidgeClassifierCV()"
    assert rows["MiniRocket() + RidgeClassifierCV()"][0] > 0.9  # 0.993 on GunPoint


def test_checkpoints_lists_the_shipped_ones(capsys):
    assert main(["checkpoints"]) == 0
    assert "tspulse-tiny-random" in capsys.readouterr().out


def test_python_dash_m_runs_the_cli():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "sslts", "checkpoints"], capture_output=True, check=False,
                          text=True, timeout=120)
    assert done.returncode == 0
    assert "tspulse-synth" in done.stdout


# ---------------------------------------------------------------- pretrain errors
def _shipped_checkpoint_at(stem):
    import shutil

    from sslts.pretrained import _resolve

    for source in _resolve("tspulse-tiny-random"):
        shutil.copy(source, stem.with_suffix(source.suffix))


PRETRAIN_ERRORS = {
    "foreign-checkpoint": "already exists and no run folder",  # PretrainError
    "damaged-run-folder": "is damaged or belongs to another run",  # PretrainError
    "unknown-init": "unknown checkpoint 'no-such-checkpoint'",  # CheckpointError
    "unknown-data": "data must be 'cauker'",  # ValueError
}


def _pretrain_error_command(tmp_path, case):
    output = tmp_path / "out"
    if case == "foreign-checkpoint":
        _shipped_checkpoint_at(output)
    if case == "damaged-run-folder":
        (tmp_path / "out.run").mkdir()
        (tmp_path / "out.run" / "CURRENT").write_text("nothing")
    extra = {
        "unknown-init": ["--init", "no-such-checkpoint"],
        "unknown-data": ["--data", "x"],
    }
    return ["pretrain", "--output", str(output), "--steps", "1", "--quiet"] + extra.get(
        case, []
    )


@pytest.mark.parametrize("case", sorted(PRETRAIN_ERRORS))
def test_pretrain_user_errors_print_one_line_and_return_2(tmp_path, capsys, case):
    """PretrainError, CheckpointError and ValueError become ``error: ...``."""
    assert main(_pretrain_error_command(tmp_path, case)) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and PRETRAIN_ERRORS[case] in err


def test_a_pretrain_user_error_exits_2_without_a_traceback(tmp_path):
    import subprocess
    import sys

    command = _pretrain_error_command(tmp_path, "foreign-checkpoint")
    done = subprocess.run(
        [sys.executable, "-m", "sslts", *command],
        capture_output=True,
        check=False,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error: ") and "--overwrite" in done.stderr


def test_pretrain_overwrite_replaces_another_runs_checkpoint(tmp_path, capsys):
    from _tiny import TINY_TSPULSE

    output = tmp_path / "out"
    _shipped_checkpoint_at(output)
    tiny = [f"--{k.replace('_', '-')}={v}" for k, v in TINY_TSPULSE.items()]
    command = ["pretrain", "--output", str(output), "--steps", "1", "--quiet", *tiny]
    command += ["--batch-size", "4", "--data", "kernelsynth"]
    assert main(command) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main([*command, "--overwrite"]) == 0
    assert "finished at step 1" in capsys.readouterr().out
