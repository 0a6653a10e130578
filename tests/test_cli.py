import pytest

from sslts.cli import main


def test_demo_prints_a_result_table(capsys):
    assert main(["demo", "--pretrained", "tspulse-tiny-random"]) == 0
    out = capsys.readouterr().out
    assert "GunPoint" in out
    lines = [line for line in out.splitlines() if "LogisticRegression()" in line]
    assert len(lines) == 4
    # the canonical pipeline first, then its unstandardized variant and the baselines
    assert lines[0].startswith(
        "TSPulseEmbedder(pretrained='tspulse-tiny-random') + LogisticRegression()"
    )
    assert "standardize=False" in lines[1]
    assert "random init" in lines[2] and "no encoder" in lines[3]
    for line in lines:
        converged, accuracy = line.split()[-3:-1]
        assert converged in ("yes", "no")
        assert 0.0 <= float(accuracy) <= 1.0


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
