from sslts.cli import main


def test_demo_prints_a_result_table(capsys):
    assert main(["demo", "--pretrained", "tspulse-tiny-random"]) == 0
    out = capsys.readouterr().out
    assert "GunPoint" in out
    lines = [line for line in out.splitlines() if "LogisticRegression" in line]
    assert len(lines) == 4
    for line in lines:
        accuracy = float(line.split()[-2])
        assert 0.0 <= accuracy <= 1.0


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
